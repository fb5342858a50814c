"""pyodata, a real OData client from PyPI, reads the feed of a real ``gocua serve``: the
entity sets and their types from ``$metadata``, the submissions page by page through the
server's next links, and the repeats' rows linked to their submissions.

pyodata speaks OData v2 only: it says so with ``MaxDataServiceVersion: 2.0``, and the feed
answers it in v2 (Excel and Power BI get v4 from the same addresses)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pyodata
import pytest
import requests

from tests.e2e.test_review_office import Phone
from tests.loop_forms import EN, VI, write_workbook
from tests.records import adult, child, household_data, record
from tests.server_process import ServerProcess

RECORDS = 7


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("odata") / "server").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pushed(office: ServerProcess) -> list[dict[str, Any]]:
    phone = Phone(office)
    village = phone.villages["Thôn Đông"]
    items = [
        record(
            village,
            data=household_data(
                members=[adult(f"Lò Văn {i}", 1970 + i), child(f"Lò Thị {i}", 2015)][: 1 + i % 2],
                support_given="yes",
                support=[
                    {
                        "support_member": 1,
                        "support_actions": ["scam_warning"],
                        "support_result": "done",
                    }
                ],
            ),
        )
        for i in range(RECORDS)
    ]
    assert phone.push(*items) == ["applied"] * RECORDS
    return items


def token_of_new_staff(office: ServerProcess, role: str) -> str:
    """A staff member made with the CLI logs in and makes a token on the staff site."""
    username = f"odata.{role}"
    password = office.add_staff(
        "add", username, "--name", "Cán bộ", "--role", role, "--commune", "99999"
    )
    site = requests.Session()
    page = site.get(f"{office.base}/login", timeout=30).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    site.post(
        f"{office.base}/login",
        data={"username": username, "password": password, "csrf_token": csrf},
        timeout=30,
    ).raise_for_status()
    page = site.get(f"{office.base}/odata/tokens", timeout=30).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    made = site.post(
        f"{office.base}/odata/tokens", data={"name": "pyodata", "csrf_token": csrf}, timeout=30
    )
    return re.search(r'id="new-token">([^<]+)<', made.text).group(1)


def client(office: ServerProcess, token: str) -> Any:
    session = requests.Session()
    session.auth = ("pyodata", token)  # Basic, as Excel and Power BI send it
    session.headers["MaxDataServiceVersion"] = "2.0"
    return pyodata.Client(f"{office.base}/odata/ho_gia_dinh_cds.svc/", session)


def test_pyodata_reads_the_feed_with_its_repeats(office, pushed):
    service = client(office, token_of_new_staff(office, "reviewer"))
    assert [s.name for s in service.schema.entity_sets] == [
        "Submissions",
        "Submissions.members",
        "Submissions.support",
    ]
    types = {
        t.name: {p.name: p.typ.name for p in t.proprties()} for t in service.schema.entity_types
    }
    assert types["Submissions"]["residents"] == "Edm.Int64"
    assert types["Submissions_members"]["birth_year"] == "Edm.Int64"
    assert types["Submissions_members"]["__Submissions-id"] == "Edm.String"
    assert types["Submissions_support"]["support_revisit_date"] == "Edm.DateTime"

    # Pages of 3 through the server's next links: every record once, in arrival order.
    submissions = service.entity_sets.Submissions
    page = submissions.get_entities().top(3).count(inline=True).execute()
    assert page.total_count == RECORDS and len(page) == 3
    seen = list(page)
    while page.next_url:
        page = submissions.get_entities().next_url(page.next_url).execute()
        assert len(page) <= 3
        seen += list(page)
    # One push: one arrival second, and then the records' ids give the order.
    in_order = sorted(pushed, key=lambda r: r["id"])
    assert [e.__id for e in seen] == [r["id"] for r in in_order]
    first = seen[0]
    assert first.__system["reviewState"] == "received"
    assert isinstance(first.__system["submissionDate"], datetime)
    assert first.residents == in_order[0]["data"]["residents"]

    members = getattr(service.entity_sets, "Submissions.members").get_entities().execute()
    expected = [
        (r["id"], m["member_name"], m["birth_year"]) for r in in_order for m in r["data"]["members"]
    ]
    assert [
        (m.__dict__["_cache"]["__Submissions-id"], m.member_name, m.birth_year) for m in members
    ] == expected
    support = getattr(service.entity_sets, "Submissions.support").get_entities().execute()
    assert {s.support_result for s in support} == {"done"} and len(support) == RECORDS


def test_pyodata_reads_a_viewers_feed_without_names(office, pushed):
    service = client(office, token_of_new_staff(office, "viewer"))
    members = getattr(service.entity_sets, "Submissions.members").get_entities().execute()
    names = {p.name for t in service.schema.entity_types for p in t.proprties()}
    assert "member_name" not in names and "head_name" not in names
    assert members and {r["id"] for r in pushed}.isdisjoint(
        {m.__dict__["_cache"]["__Submissions-id"] for m in members}
    )


def test_pyodata_reads_a_form_that_uses_one_name_in_two_groups(office, tmp_path):
    """``age`` in the groups mother and father is kept as ``mother/age`` and ``father/age``,
    which no OData name may hold: the feed names them ``mother_age`` (taken here by a question
    of that name, so ``mother_age_2``) and ``father_age``, in $metadata and rows, v2 and v4."""
    survey = [
        {"type": "integer", "name": "mother_age", VI: "Tuổi mẹ khi sinh con đầu", EN: "Age"},
        {"type": "begin group", "name": "mother", VI: "Mẹ", EN: "Mother"},
        {"type": "integer", "name": "age", VI: "Tuổi của mẹ", EN: "Mother's age"},
        {"type": "text", "name": "job", VI: "Nghề", EN: "Job"},
        {"type": "end group"},
        {"type": "begin group", "name": "father", VI: "Bố", EN: "Father"},
        {"type": "integer", "name": "age", VI: "Tuổi của bố", EN: "Father's age"},
        {"type": "end group"},
    ]
    book = write_workbook(
        tmp_path / "parents.xlsx",
        {
            "survey": survey,
            "choices": [{"list_name": "unused", "name": "x", VI: "x", EN: "x"}],
            "settings": [{"form_id": "parents_odata", "version": "1"}],
        },
    )
    office.cli("form", "import", str(book))
    phone = Phone(office)
    village = phone.villages["Thôn Đông"]
    answers = {"mother_age": 19, "mother/age": 41, "job": "nông", "father/age": 45}
    item = record(village, data=answers, form_id="parents_odata", form_version="1")
    assert phone.push(item) == ["applied"]
    token = token_of_new_staff(office, "admin")
    session = requests.Session()
    session.auth = ("pyodata", token)
    session.headers["MaxDataServiceVersion"] = "2.0"
    service = pyodata.Client(f"{office.base}/odata/parents_odata.svc/", session)
    names = [p.name for p in service.schema.entity_type("Submissions").proprties()]
    assert [n for n in names if "age" in n] == ["mother_age", "mother_age_2", "father_age"]
    (row,) = service.entity_sets.Submissions.get_entities().execute()
    assert (row.mother_age, row.mother_age_2, row.father_age, row.job) == (19, 41, 45, "nông")

    v4 = requests.get(
        f"{office.base}/odata/parents_odata.svc/Submissions", auth=("x", token), timeout=30
    ).json()["value"][0]
    assert (v4["mother_age"], v4["mother_age_2"], v4["father_age"]) == (19, 41, 45)
    metadata = requests.get(
        f"{office.base}/odata/parents_odata.svc/$metadata", auth=("x", token), timeout=30
    ).text
    assert '"mother_age_2"' in metadata and "/age" not in metadata

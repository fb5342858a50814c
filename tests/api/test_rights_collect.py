"""A person's erasure reaches ODK Collect submissions that are not records yet: a submission
waiting on /collect that names the person is found, exported and erased (its kept XML
scrubbed, audited), Collect sending the same XML again brings nothing back, and attaching it
later makes a record without the person."""

from __future__ import annotations

import hashlib
import io
import json
import re
from typing import Any

from server.domain import answers as stored_answers
from server.domain.blobs import blob_path
from server.domain.db import write_transaction
from server.domain.forms import install_form
from tests.api.admin_helpers import audit_rows, post
from tests.api.test_openrosa_admin import _collect_token, _send
from tests.collect_client import COLLECT_VERSION, CollectClient, collect_form_definition
from tests.records import adult, child, household_data
from tests.sync.photo_form import photo

NAME = "Phạm Văn Đức"


def keys_of(page: str) -> list[str]:
    return re.findall(r'<tr data-key="([^"]+)">', page)


def stored_xml(db: Any, instance_id: str) -> str:
    row = db.execute(
        "SELECT xml FROM openrosa_submissions WHERE instance_id = ?", [instance_id]
    ).fetchone()
    return row[0]


def collect_form(client: Any, db: Any) -> tuple[str, bytes, str]:
    """The Collect form installed: a Collect phone's key, the XForm it downloads, and the code
    of a household in its volunteer's villages."""
    with write_transaction(db):
        install_form(db, collect_form_definition())
    token = _collect_token(db)
    xform = client.get(
        f"/key/{token}/forms/ho_gia_dinh_cds/versions/{COLLECT_VERSION}/form.xml"
    ).data
    house = db.execute(
        "SELECT h.code FROM households h JOIN user_villages v ON v.village_id = h.village_id"
        " JOIN users u ON u.id = v.user_id WHERE u.username = 'tnv.demo' ORDER BY h.code"
    ).fetchone()[0]
    return token, xform, house


def test_a_waiting_collect_submission_is_found_exported_and_erased(admin, client, db):
    token = _collect_token(db)
    data = household_data(
        head_name=NAME,
        respondent_name=NAME,
        phone="0912345678",
        notes="Anh Đức hẹn tối",
        members=[adult(NAME, 1975, sex="male"), child("Phạm Thị Én", 2015)],
    )
    response, filled = _send(client, token, data)
    assert response.status_code == 201  # no household named: it waits for the office
    instance = filled.instance_id
    assert NAME in stored_xml(db, instance)

    found = keys_of(admin.get("/people?q=pham van duc").text)
    assert sorted(found) == sorted(
        [
            f"collect_head:{instance}:",
            f"collect_respondent:{instance}:",
            f"collect_member:{instance}:0",
        ]
    )
    assert keys_of(admin.get("/people?q=thị én").text) == [f"collect_member:{instance}:1"]

    exported = post(admin, "/people/export", {"key": found, "reason": "Yêu cầu ngày 2/12"})
    assert exported.status_code == 200
    items = json.loads(exported.get_data())["items"]
    assert {i["kind"] for i in items} == {"collect_submission_waiting"}
    head = next(i for i in items if i["role"] == "head")
    assert head["answers"]["head_name"] == NAME and head["answers"]["phone"] == "0912345678"
    member = next(i for i in items if i["role"] == "member")
    assert member["answers"]["member"]["member_name"] == NAME
    assert "Phạm Thị Én" not in exported.get_data(as_text=True)

    erased = post(admin, "/people/erase", {"key": found, "reason": "Yêu cầu ngày 2/12"})
    assert erased.status_code == 200 and 'id="erased"' in erased.text
    kept = stored_xml(db, instance)
    for gone in (NAME, "0912345678", "hẹn tối"):
        assert gone not in kept, gone
    assert "Phạm Thị Én" in kept  # another person of the household stays
    username, target, reason = audit_rows(db, "person_erase")[-1][:3]
    assert (username, target, reason) == ("quantri", f"collect:{instance}", "Yêu cầu ngày 2/12")
    assert keys_of(admin.get("/people?q=pham van duc").text) == []
    assert NAME not in admin.get("/collect").text

    # Collect sends the very same XML again: known, and the erased answers stay erased.
    again = client.post(
        f"/key/{token}/submission",
        data={"xml_submission_file": (io.BytesIO(filled.xml()), "submission.xml")},
    )
    assert again.status_code == 201
    assert NAME not in stored_xml(db, instance)

    # Attached to a household later, it is a record without the person.
    house = db.execute("SELECT code FROM households ORDER BY code LIMIT 1").fetchone()[0]
    done = post(admin, "/collect/attach", {"instance_id": instance, "household_code": house})
    assert done.status_code == 303
    record_id = instance.removeprefix("uuid:")
    record = admin.get(f"/records/{record_id}").text
    assert NAME not in record and "0912345678" not in record and "[đã xóa]" in record


def test_a_waiting_submission_of_another_commune_cannot_be_picked(admin, client, db):
    token = _collect_token(db)
    _, filled = _send(client, token, household_data(head_name=NAME))
    wrong = post(
        admin,
        "/people/erase",
        {"key": [f"collect_head:{filled.instance_id}x:"], "reason": "Yêu cầu ngày 2/12"},
    )
    assert wrong.status_code == 400
    assert NAME in stored_xml(db, filled.instance_id)


def test_the_rest_of_an_erased_submissions_files_brings_none_of_the_person_back(
    app, admin, client, db
):
    token, xform, house = collect_form(client, db)
    data = household_data(
        head_name=NAME,
        respondent_name=NAME,
        members=[adult(NAME, 1975, sex="male"), child("Phạm Thị Én", 2015)],
        house_photo="1.jpg",
    )
    data["household_code"] = house
    image, _ = photo("house")
    filled = CollectClient.fill(xform, data, {"1.jpg": image})

    def post_submission(files: dict[str, Any]) -> Any:
        return client.post(
            f"/key/{token}/submission",
            data={"xml_submission_file": (io.BytesIO(filled.xml()), "submission.xml"), **files},
        )

    # The XML first, its photo still to come: it waits, its XML kept.
    assert post_submission({}).status_code == 201
    assert NAME in stored_xml(db, filled.instance_id)
    found = keys_of(admin.get("/people?q=pham van duc").text)
    erased = post(admin, "/people/erase", {"key": found, "reason": "Yêu cầu ngày 2/12"})
    assert erased.status_code == 200 and NAME not in stored_xml(db, filled.instance_id)

    # Collect sends the rest: the record is made of the kept XML, not of the one sent again.
    done = post_submission({"1.jpg": (io.BytesIO(image), "1.jpg")})
    assert done.status_code == 201
    (kept,) = db.execute(
        "SELECT data FROM records WHERE id = ?", [filled.instance_id.removeprefix("uuid:")]
    ).fetchall()
    answers = json.dumps(stored_answers.load(kept["data"]), ensure_ascii=False)
    assert NAME not in answers and "Phạm Thị Én" in answers
    # The photo came after the erasure took its answer out: nothing holds it, so it is not
    # kept on disk, where no record would show it and no later erasure would find it.
    sha256 = hashlib.sha256(image).hexdigest()
    assert sha256 not in answers
    assert not blob_path(app.config["DATA_DIR"], sha256).exists()
    assert not db.execute("SELECT 1 FROM blob_owners WHERE sha256 = ?", [sha256]).fetchone()


def test_collect_sending_an_erased_record_again_brings_back_none_of_its_files(
    app, admin, client, db
):
    token, xform, house = collect_form(client, db)
    data = household_data(head_name=NAME, house_photo="1.jpg", members=[adult(NAME, 1975)])
    data["household_code"] = house
    image, _ = photo("house")
    sha256 = hashlib.sha256(image).hexdigest()
    filled = CollectClient.fill(xform, data, {"1.jpg": image})

    def send() -> Any:
        return client.post(
            f"/key/{token}/submission",
            data={
                "xml_submission_file": (io.BytesIO(filled.xml()), "submission.xml"),
                "1.jpg": (io.BytesIO(image), "1.jpg"),
            },
        )

    assert send().status_code == 201
    record_id = filled.instance_id.removeprefix("uuid:")
    data_dir = app.config["DATA_DIR"]
    assert blob_path(data_dir, sha256).exists()
    found = [k for k in keys_of(admin.get("/people?q=pham van duc").text) if k.startswith("head")]
    assert found == [f"head:{record_id}:"]
    erased = post(admin, "/people/erase", {"key": found, "reason": "Yêu cầu ngày 2/12"})
    assert erased.status_code == 200 and not blob_path(data_dir, sha256).exists()

    # Collect never heard its answer and sends the whole submission again: received already.
    again = send()
    assert again.status_code == 201 and "đã nhận" in again.text.lower()
    assert not blob_path(data_dir, sha256).exists()
    assert not db.execute("SELECT 1 FROM blob_owners WHERE sha256 = ?", [sha256]).fetchone()
    assert (
        db.execute("SELECT count(*) FROM revisions WHERE record_id = ?", [record_id]).fetchone()[0]
        == 2
    )  # the phone's, then the erasure's: the resend made none


def test_erasing_a_waiting_submissions_head_leaves_another_respondent_s_name(admin, client, db):
    token = _collect_token(db)
    data = household_data(
        head_name=NAME, respondent_name="Hà Thị Mai", members=[adult(NAME, 1975, sex="male")]
    )
    response, filled = _send(client, token, data)
    assert response.status_code == 201
    instance = filled.instance_id
    found = [k for k in keys_of(admin.get("/people?q=pham van duc").text) if "head" in k]
    assert found == [f"collect_head:{instance}:"]
    erased = post(admin, "/people/erase", {"key": found, "reason": "Đơn của ông Đức"})
    assert erased.status_code == 200
    kept = stored_xml(db, instance)
    assert "<head_name>[đã xóa]</head_name>" in kept and "Hà Thị Mai" in kept

"""ODK Collect against a real server: a client doing what Collect does, in Collect's order
(form list, form, manifest, HEAD, multipart POSTs, the same submission again, an edit with
deprecatedID), and the records that come of it, checked by the same rules as a collector's push."""

from __future__ import annotations

import hashlib
import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from pyxform.validators.odk_validate import check_xform

from schemas.media import ANSWER_MAX_BYTES
from schemas.xlsform import read_xlsform
from server.domain import answers as stored_answers
from server.domain.db import write_transaction
from server.domain.devices import add_collect_device, revoke_device
from server.domain.forms import install_form, set_form_state
from server.domain.openrosa.instance import MAX_DEPTH, MAX_XML_BYTES
from server.domain.openrosa.service import MAX_REQUEST_BYTES
from server.domain.register import add_household
from server.domain.seed import DEMO_VOLUNTEER
from tests.api.admin_helpers import second_commune
from tests.collect_client import COLLECT_VERSION, CollectClient, collect_form_definition
from tests.loop_forms import OSM_FILE, osm_workbook
from tests.records import adult, child, household_data
from tests.sync.live import LiveServer
from tests.sync.photo_form import photo
from tests.unit.test_xlsform import workbook as xlsx_workbook

ALL_TYPES = Path(__file__).resolve().parent.parent / "forms" / "all_types.json"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path / "server").start()
    with live.db() as db, write_transaction(db):
        install_form(db, collect_form_definition())
    yield live
    live.stop()


def collect_phone(server: LiveServer, username: str = DEMO_VOLUNTEER) -> tuple[str, str]:
    """(device id, the server address the settings QR code gives Collect)."""
    with server.db() as db, write_transaction(db):
        user_id = db.execute("SELECT id FROM users WHERE username = ?", [username]).fetchone()[0]
        device_id, token = add_collect_device(db, user_id)
    return device_id, f"{server.base}/key/{token}"


def household(server: LiveServer, index: int = 0) -> dict[str, Any]:
    with server.db() as db:
        rows = db.execute(
            "SELECT h.id, h.code, h.village_id FROM households h"
            " JOIN user_villages uv ON uv.village_id = h.village_id"
            " JOIN users u ON u.id = uv.user_id WHERE u.username = ? ORDER BY h.code",
            [DEMO_VOLUNTEER],
        ).fetchall()
    return dict(rows[index])


def answers(code: str | None, **more: Any) -> dict[str, Any]:
    data = household_data(**more)
    if code is not None:
        data["household_code"] = code
    return data


def the_form(client: CollectClient) -> bytes:
    listed = client.form_list()
    assert [(f["formID"], f["version"]) for f in listed] == [("ho_gia_dinh_cds", COLLECT_VERSION)]
    return client.download(listed[0])


def stored(server: LiveServer, sql: str, *params: Any) -> list[dict[str, Any]]:
    with server.db() as db:
        return [dict(r) for r in db.execute(sql, params)]


def downloaded(
    server: LiveServer, definition: dict[str, Any], tmp_path: Path | None = None
) -> tuple[CollectClient, bytes]:
    """The form installed, and a Collect phone with its download of it; given ``tmp_path``,
    the XForm has passed ODK Validate."""
    with server.db() as db, write_transaction(db):
        install_form(db, definition)
    _, url = collect_phone(server)
    client = CollectClient(url)
    (listed,) = [f for f in client.form_list() if f["formID"] == definition["settings"]["form_id"]]
    xform = client.download(listed)
    if tmp_path is not None:
        path = tmp_path / "collect.xml"
        path.write_bytes(xform)
        check_xform(str(path))  # raises ODKValidateError with Validate's report
    return client, xform


def workbook_form(
    tmp_path: Path, survey: list[list[str]], form_id: str, choices: list[list[str]] | None = None
) -> dict[str, Any]:
    """A form of these rows, read from a workbook as an admin uploads it."""
    settings = [["form_id", "version"], [form_id, "1"]]
    return read_xlsform(xlsx_workbook(tmp_path, survey, choices, settings=settings))


def stored_data(server: LiveServer, filled: Any) -> Any:
    """The answers of the record a Collect submission made."""
    (record,) = stored(
        server, "SELECT data FROM records WHERE id = ?", filled.instance_id.removeprefix("uuid:")
    )
    return stored_answers.load(record["data"])


def test_a_form_the_admin_stopped_or_archived_leaves_collects_list(server: LiveServer) -> None:
    _, url = collect_phone(server)
    client = CollectClient(url)
    the_form(client)
    with server.db() as db:
        (commune,) = db.execute(
            "SELECT commune_id FROM users WHERE username = ?", [DEMO_VOLUNTEER]
        ).fetchone()
    for state in ("off", "archived"):
        with server.db() as db, write_transaction(db):
            set_form_state(db, commune, "ho_gia_dinh_cds", state)
        assert client.form_list() == []
    with server.db() as db, write_transaction(db):
        set_form_state(db, commune, "ho_gia_dinh_cds", "active")
    the_form(client)


def test_collect_sends_a_visit_sends_it_again_and_edits_it(server: LiveServer) -> None:
    device_id, url = collect_phone(server)
    client = CollectClient(url)
    xform = the_form(client)
    house = household(server)
    house_photo, house_sha = photo("house")
    member_photo, member_sha = photo("member")
    members = [adult("Nguyễn Thị Hoa", 1980), child("Nguyễn Văn Nam", 2016)]
    members[0]["member_photo"] = "1732000000001.jpg"
    data = answers(
        house["code"].lower(),  # typed from the label, in whatever case
        members=members,
        gps="21.0285 105.8542 12.5 4.0",
        house_photo="1732000000000.jpg",
    )
    filled = client.fill(
        xform, data, {"1732000000000.jpg": house_photo, "1732000000001.jpg": member_photo}
    )

    first = client.submit(filled)
    assert [a.status for a in first] == [201]
    assert "Đã nhận phiếu" in first[0].message and "Submission received" in first[0].message
    record_id = filled.instance_id.removeprefix("uuid:")
    (record,) = stored(server, "SELECT * FROM records WHERE id = ?", record_id)
    assert (record["household_id"], record["village_id"], record["device_id"]) == (
        house["id"],
        house["village_id"],
        device_id,
    )
    assert record["form_version"] == COLLECT_VERSION
    got = stored_answers.load(record["data"])
    expected = {**data, "household_code": house["code"].lower(), "house_photo": house_sha}
    expected["members"][0]["member_photo"] = member_sha
    assert got == expected  # groups flattened, repeats as lists, numbers, selects, geopoint
    (kept,) = stored(server, "SELECT state, xml, record_id FROM openrosa_submissions")
    assert kept == {"state": "stored", "xml": "", "record_id": record_id}  # the record has it

    # Collect sends the same submission again (a lost answer, "send again"): success, and
    # nothing new is stored.
    again = client.submit(filled)
    assert [a.status for a in again] == [201]
    assert "đã nhận phiếu này rồi" in again[0].message
    assert len(stored(server, "SELECT * FROM revisions WHERE record_id = ?", record_id)) == 1

    # An edit of the sent form: a new revision of the same record.
    edited = client.edit(filled, {"residents": 2, "internet": "mobile_only"})
    assert [a.status for a in client.submit(edited)] == [201]
    (record,) = stored(server, "SELECT * FROM records WHERE id = ?", record_id)
    new_rev = edited.instance_id.removeprefix("uuid:")
    assert record["rev"] == new_rev
    assert stored_answers.load(record["data"])["internet"] == "mobile_only"
    revisions = stored(
        server,
        "SELECT rev, base_rev, status FROM revisions WHERE record_id = ? ORDER BY rowid",
        record_id,
    )
    assert revisions == [
        {"rev": record_id, "base_rev": None, "status": "superseded"},
        {"rev": new_rev, "base_rev": record_id, "status": "current"},
    ]
    methods = [m for m, _ in client.requests]
    assert methods == ["GET"] * 3 + ["HEAD", "POST"] * 3


@pytest.mark.slow
def test_every_served_xform_passes_odk_validate(server: LiveServer, tmp_path: Path) -> None:
    """ODK Validate (the jar pyxform ships, run with Debian's Java) over each XForm a phone
    can download: every form's newest version from the list, and the older default survey."""
    with server.db() as db, write_transaction(db):
        install_form(db, json.loads(ALL_TYPES.read_text(encoding="utf-8")))
    _, url = collect_phone(server)
    client = CollectClient(url)
    listed = client.form_list()
    assert {f["formID"] for f in listed} == {"ho_gia_dinh_cds", "all_types"}
    xforms = [client.download(form) for form in listed]
    older = requests.get(f"{url}/forms/ho_gia_dinh_cds/versions/2026.11.1/form.xml", timeout=30)
    assert older.status_code == 200
    for number, xml in enumerate([*xforms, older.content]):
        path = tmp_path / f"form{number}.xml"
        path.write_bytes(xml)
        check_xform(str(path))  # raises ODKValidateError with Validate's report


def test_a_large_submission_comes_in_several_posts(server: LiveServer) -> None:
    _, url = collect_phone(server)
    client = CollectClient(url)
    xform = the_form(client)
    # Five photos of 4.5 MB each: past the 22 MB a POST may hold, so Collect sends two.
    big = [bytes([n]) * 4_500_000 for n in range(1, 6)]
    members = [adult(f"Lê Thị Mai {n}", 1975) for n in range(4)]
    for n, member in enumerate(members):
        member["member_photo"] = f"{n}.jpg"
    filled = client.fill(
        xform,
        answers(household(server)["code"], members=members, house_photo="4.jpg"),
        {f"{n}.jpg": content for n, content in enumerate(big)},
    )
    parts = client.submit(filled)
    assert [a.status for a in parts] == [201, 201]
    assert "còn chờ 1 tệp" in parts[0].message and "1 files still to come" in parts[0].message
    (record,) = stored(
        server,
        "SELECT answers(data) AS data FROM records WHERE id = ?",
        filled.instance_id.removeprefix("uuid:"),
    )
    data = stored_answers.load(record["data"])
    photos = [m["member_photo"] for m in data["members"]] + [data["house_photo"]]
    blob_dir = Path(server.data_dir) / "blobs"
    assert [(blob_dir / p[:2] / p).read_bytes() for p in photos] == big


FILM_FORM = {
    "survey": [
        {"type": "text", "name": "household_code", "label::Tiếng Việt (vi)": "Mã hộ",
         "label::English (en)": "Household code"},
        {"type": "video", "name": "film", "label::Tiếng Việt (vi)": "Phim",
         "label::English (en)": "Film"},
    ],
    "choices": [],
    "settings": {"form_id": "phim_ho", "version": "1", "form_title": "Phim",
                 "default_language": "Tiếng Việt (vi)"},
}  # fmt: skip


def film_phone(server: LiveServer) -> tuple[CollectClient, bytes]:
    with server.db() as db, write_transaction(db):
        install_form(db, FILM_FORM)
    _, url = collect_phone(server)
    client = CollectClient(url)
    listed = next(f for f in client.form_list() if f["formID"] == "phim_ho")
    return client, client.download(listed)


def test_a_film_as_large_as_a_form_may_take_goes_up_in_one_post_streamed_to_disk(
    server: LiveServer, tmp_path: Path
) -> None:
    client, xform = film_phone(server)
    largest = ANSWER_MAX_BYTES["video"]
    head = requests.head(f"{client.server_url}/submission", timeout=10)
    assert int(head.headers["X-OpenRosa-Accept-Content-Length"]) >= largest + MAX_XML_BYTES
    film = bytes(range(256)) * (largest // 256) + b"f" * (largest % 256)
    filled = client.fill(
        xform, {"household_code": household(server)["code"], "film": "1.mp4"}, {"1.mp4": film}
    )
    # The server runs in this process: what it allocates while it takes the request is
    # measured (the client streams the body from a file, holding none of it).
    tracemalloc.start()
    try:
        answer = client.submit_from_disk(filled, tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert answer.status == 201, answer.message
    assert "Submission received" in answer.message
    assert peak < largest // 4, peak
    (record,) = stored(
        server,
        "SELECT answers(data) AS data FROM records WHERE id = ?",
        filled.instance_id.removeprefix("uuid:"),
    )
    sha = stored_answers.load(record["data"])["film"]
    assert sha == hashlib.sha256(film).hexdigest()
    assert (Path(server.data_dir) / "blobs" / sha[:2] / sha).read_bytes() == film


def test_a_film_past_the_largest_file_is_refused_in_collects_words(
    server: LiveServer, tmp_path: Path
) -> None:
    client, xform = film_phone(server)
    over = b"v" * (ANSWER_MAX_BYTES["video"] + 1)
    filled = client.fill(
        xform, {"household_code": household(server)["code"], "film": "1.mp4"}, {"1.mp4": over}
    )
    answer = client.submit_from_disk(filled, tmp_path)
    assert answer.status == 413
    assert "Tệp 1.mp4 quá lớn" in answer.message and "The file 1.mp4 is too large" in answer.message
    assert stored(server, "SELECT * FROM records") == []
    blobs = Path(server.data_dir) / "blobs"
    assert [p.name for p in blobs.rglob("*") if p.is_file()] == []  # nothing left half-written

    # A request past what one POST may hold is refused before it is read.
    rest = MAX_REQUEST_BYTES - ANSWER_MAX_BYTES["video"] + 1
    more = {"1.mp4": b"v" * ANSWER_MAX_BYTES["video"], "2.mp4": b"w" * rest}
    filled = client.fill(
        xform, {"household_code": household(server)["code"], "film": "1.mp4"}, more
    )
    answer = client.submit_from_disk(filled, tmp_path)
    assert answer.status == 413
    assert "Yêu cầu quá lớn" in answer.message and "The request is too large" in answer.message
    assert stored(server, "SELECT * FROM records") == []


def test_a_rejected_submission_says_why_in_both_languages_and_is_kept(server: LiveServer) -> None:
    _, url = collect_phone(server)
    client = CollectClient(url)
    filled = client.fill(the_form(client), answers(household(server)["code"], residents=99))
    (answer,) = client.submit(filled)
    assert answer.status == 400
    assert "Máy chủ chưa nhận phiếu" in answer.message
    assert "did not take the submission" in answer.message
    assert answer.message.count("residents:") == 1
    assert stored(server, "SELECT * FROM records") == []
    (kept,) = stored(server, "SELECT state, xml, errors FROM openrosa_submissions")
    assert kept["state"] == "rejected" and "<residents>99</residents>" in kept["xml"]
    assert "residents" in json.loads(kept["errors"])


def test_an_unknown_household_code_is_refused(server: LiveServer) -> None:
    _, url = collect_phone(server)
    client = CollectClient(url)
    (answer,) = client.submit(client.fill(the_form(client), answers("HZZZZZZ")))
    assert answer.status == 400
    assert "household_code: Không có hộ nào có mã này" in answer.message


def test_a_household_outside_the_volunteers_villages_is_refused_on_its_code(
    server: LiveServer,
) -> None:
    with server.db() as db, write_transaction(db):
        village = db.execute("SELECT id FROM villages WHERE name = 'Thôn Bắc Sơn'").fetchone()[0]
        elsewhere = add_household(db, village, "Hộ Bắc Sơn", "Đầu bản")
    _, url = collect_phone(server)
    client = CollectClient(url)
    (answer,) = client.submit(client.fill(the_form(client), answers(elsewhere["code"])))
    assert answer.status == 400
    assert "household_code: Bạn không được giao thôn này. / You are not assigned" in answer.message
    assert stored(server, "SELECT * FROM records") == []


def test_a_submission_naming_no_household_waits_for_the_office(server: LiveServer) -> None:
    _, url = collect_phone(server)
    client = CollectClient(url)
    filled = client.fill(the_form(client), answers(None))
    (answer,) = client.submit(filled)
    assert answer.status == 201 and "gắn phiếu vào hộ" in answer.message
    assert stored(server, "SELECT * FROM records") == []
    (kept,) = stored(server, "SELECT instance_id, state FROM openrosa_submissions")
    assert kept == {"instance_id": filled.instance_id, "state": "unattached"}
    # Sent again, it is still the one submission waiting.
    assert [a.status for a in client.submit(filled)] == [201]
    assert len(stored(server, "SELECT * FROM openrosa_submissions")) == 1
    # Edited (deprecatedID), now with the household's code: the edit is the record, and the
    # earlier submission no longer waits.
    code = household(server)["code"]
    edited = client.edit(filled, {"household_code": code})
    assert [a.status for a in client.submit(edited)] == [201]
    (record,) = stored(server, "SELECT id, rev FROM records")
    assert record["id"] == record["rev"] == edited.instance_id.removeprefix("uuid:")
    states = stored(server, "SELECT instance_id, state, xml FROM openrosa_submissions")
    assert {(s["instance_id"], s["state"], s["xml"]) for s in states} == {
        (filled.instance_id, "replaced", ""),
        (edited.instance_id, "stored", ""),
    }


def test_a_revoked_collect_phone_is_told_so(server: LiveServer) -> None:
    device_id, url = collect_phone(server)
    client = CollectClient(url)
    filled = client.fill(the_form(client), answers(household(server)["code"]))
    with server.db() as db, write_transaction(db):
        revoke_device(db, device_id)
    for response in (
        requests.get(f"{url}/formList", timeout=10),
        requests.post(
            f"{url}/submission",
            files={"xml_submission_file": ("s.xml", filled.xml(), "text/xml")},
            timeout=10,
        ),
    ):
        assert response.status_code == 403
        assert "thu hồi" in response.text and "revoked" in response.text
    assert requests.head(f"{url}/submission", timeout=10).status_code == 403
    assert stored(server, "SELECT * FROM openrosa_submissions") == []


def test_an_unknown_key_is_refused(server: LiveServer) -> None:
    response = requests.get(f"{server.base}/key/{'x' * 43}/formList", timeout=10)
    assert response.status_code == 403


def test_another_communes_collect_phone_cannot_reach_this_communes_households(
    server: LiveServer,
) -> None:
    with server.db() as db:
        second_commune(db)
    _, url = collect_phone(server, "tnv.zeta")
    client = CollectClient(url)
    filled = client.fill(the_form(client), answers(household(server)["code"]))
    (answer,) = client.submit(filled)
    assert answer.status == 400 and "household_code: Không có hộ nào có mã này" in answer.message
    assert stored(server, "SELECT * FROM records") == []


HOSTILE = {
    "entities": b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b'
    b' "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><data id="ho_gia_dinh_cds">&b;</data>',
    "external": b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<data id="ho_gia_dinh_cds">&x;</data>',
    "not xml": b"\x00\xff not xml at all",
    "unknown encoding": b'<?xml version="1.0" encoding="no-such"?><data id="ho_gia_dinh_cds"/>',
    "deep": b'<data id="ho_gia_dinh_cds" version="1">'
    + b"<g>" * (MAX_DEPTH + 5)
    + b"</g>" * (MAX_DEPTH + 5)
    + b"<meta><instanceID>uuid:1</instanceID></meta></data>",
    "no instance id": b'<data id="ho_gia_dinh_cds" version="1"><a>1</a></data>',
    "unknown form": b'<data id="nope" version="1"><meta><instanceID>uuid:x</instanceID>'
    b"</meta></data>",
    "wrong types": f'<data id="ho_gia_dinh_cds" version="{COLLECT_VERSION}"><residents>'
    "many</residents><members><members><x>1</x></members></members><frob>1</frob>"
    "<meta><instanceID>uuid:5a4fc0d2-7c1d-4f0e-9a59-3d1f7c0e2b11</instanceID></meta></data>".encode(),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_submissions_get_an_openrosa_answer_never_a_5xx(
    server: LiveServer, name: str
) -> None:
    _, url = collect_phone(server)
    response = requests.post(
        f"{url}/submission",
        files={"xml_submission_file": ("s.xml", HOSTILE[name], "text/xml")},
        timeout=30,
    )
    assert 400 <= response.status_code < 500, response.text
    assert "<OpenRosaResponse" in response.text and " / " in response.text
    assert stored(server, "SELECT * FROM records") == []


def test_requests_that_are_no_submission_get_an_openrosa_answer(server: LiveServer) -> None:
    _, url = collect_phone(server)
    for response in (
        requests.post(f"{url}/submission", data=b"plain", timeout=10),
        requests.post(
            f"{url}/submission",
            files=[("xml_submission_file", ("s.xml", b"<a/>", "text/xml"))]
            + [(f"f{n}", (f"f{n}.jpg", b"x", "image/jpeg")) for n in range(150)],
            timeout=10,
        ),
        requests.post(
            f"{url}/submission",
            files={"photo": ("p.jpg", b"x" * 9_000_000, "image/jpeg")},
            timeout=30,
        ),
        requests.get(f"{url}/forms/ho_gia_dinh_cds/versions/nope/form.xml", timeout=10),
    ):
        assert 400 <= response.status_code < 500, (response.status_code, response.text)
        assert "<OpenRosaResponse" in response.text


def test_collect_sends_an_openmapkit_file_and_its_text_is_the_answer(
    server: LiveServer, tmp_path: Path
) -> None:
    # ODK Collect's osm question sends OpenMapKit's file beside the XML, named in the answer.
    definition = read_xlsform(osm_workbook(tmp_path / "osm.xlsx"))
    definition["survey"].insert(0, {"type": "text", "name": "household_code", "label": "Code"})
    client, xform = downloaded(server, definition)
    assert b'mediatype="osm/*"' in xform and b'<tag key="building">' in xform
    code = household(server)["code"]
    data = {
        "household_code": code,
        "head": "Lan",
        "house": "1732000000000.osm",
        "owner": "other",
        "owner_other": "HTX",
    }
    filled = client.fill(xform, data, {"1732000000000.osm": OSM_FILE.encode()})
    assert [a.status for a in client.submit(filled)] == [201]
    assert stored_data(server, filled) == {
        "household_code": code,
        "head": "Lan",
        "house": OSM_FILE,
        "home/owner": "other",
        "home/owner_other": "HTX",
        "land/owner": "other",
        "land/owner_other": "HTX",
    }


def test_collect_downloads_a_forms_media_once_and_checks_each_against_its_md5(
    server: LiveServer, tmp_path: Path
) -> None:
    from schemas.xlsform import read_xlsform
    from server.domain.blobs import keep_form_media
    from tests.api.test_form_media import FILES, FORM_ID, SURVEY
    from tests.workbooks import workbook

    book = tmp_path / "tham_anh.xlsx"
    book.write_bytes(workbook(SURVEY, form_id=FORM_ID, version="1"))
    definition = read_xlsform(book, attachments=dict(FILES))
    keep_form_media(server.data_dir, definition, dict(FILES))
    with server.db() as db, write_transaction(db):
        install_form(db, definition)
    _, url = collect_phone(server)
    client = CollectClient(url)
    listed = {f["formID"]: f for f in client.form_list()}
    xform = client.download(listed[FORM_ID])
    assert b"jr://images/help.png" in xform
    assert client.media == FILES
    fetched = [path for method, path in client.requests if "/media/" in path]
    assert len(fetched) == len(FILES)
    client.download(listed[FORM_ID])  # the same hashes: Collect fetches nothing again
    assert len([path for method, path in client.requests if "/media/" in path]) == len(FILES)


def test_collect_fills_a_range_and_its_answer_is_stored_as_a_number(
    server: LiveServer, tmp_path: Path
) -> None:
    survey = [
        ["type", "name", "label", "parameters"],
        ["text", "household_code", "Code", ""],
        ["range", "satisfaction", "Satisfaction", "start=0 end=5 step=0.5"],
        ["range", "rooms", "Rooms", "start=10 end=1"],
    ]
    client, xform = downloaded(server, workbook_form(tmp_path, survey, "ranges"), tmp_path)
    assert b'start="0"' in xform and b'step="0.5"' in xform and b"<range" in xform
    code = household(server)["code"]
    filled = client.fill(xform, {"household_code": code, "satisfaction": "3.5", "rooms": "4"})
    assert [a.status for a in client.submit(filled)] == [201]
    assert stored_data(server, filled) == {
        "household_code": code,
        "satisfaction": 3.5,
        "rooms": 4,
    }


def test_collect_sends_a_line_a_shape_and_the_points_it_takes_itself(
    server: LiveServer, tmp_path: Path
) -> None:
    survey = [
        ["type", "name", "label", "trigger"],
        ["start-geopoint", "opened_at", "", ""],
        ["text", "household_code", "Code", ""],
        ["background-geopoint", "code_at", "", "${household_code}"],
        ["geotrace", "path", "Path walked", ""],
        ["geoshape", "plot", "Plot", ""],
    ]
    client, xform = downloaded(server, workbook_form(tmp_path, survey, "lines"), tmp_path)
    # Collect takes the start point itself, when the form is first loaded, and the code's
    # point when the code is answered.
    assert b"odk:setgeopoint" in xform and b"odk-instance-first-load" in xform
    assert b"xforms-value-changed" in xform
    assert b'type="geotrace"' in xform and b'type="geoshape"' in xform
    code = household(server)["code"]
    ring = "10.5 106.1 3 4;10.5 106.101 3 4;10.501 106.101 3 4;10.5 106.1 3 4"
    sent = {
        "opened_at": "10.4999 106.0999 2.5 6.0",
        "household_code": code,
        "code_at": "10.5001 106.1001 2.5 5.0",
        "path": "10.5 106.1 3 4; 10.5004 106.1003 3 5;",  # as older tools end a line
        "plot": ring,
    }
    filled = client.fill(xform, sent)
    assert [a.status for a in client.submit(filled)] == [201]
    assert stored_data(server, filled) == {
        **sent,
        "path": "10.5 106.1 3 4;10.5004 106.1003 3 5",
    }
    # A shape that is no ring is refused, in both languages, and kept to be sent again.
    bad = client.fill(xform, {**sent, "plot": "10.5 106.1;10.5 106.101"})
    (answer,) = client.submit(bad)
    assert answer.status != 201 and "Vùng" in answer.message and "area" in answer.message


def test_numbers_past_what_a_phone_holds_are_refused_on_their_questions(
    server: LiveServer, tmp_path: Path
) -> None:
    survey = [
        ["type", "name", "label"],
        ["text", "household_code", "Code"],
        ["integer", "plots", "Plots"],
        ["decimal", "area", "Area"],
    ]
    client, xform = downloaded(server, workbook_form(tmp_path, survey, "numbers"))
    code = household(server)["code"]
    for question, typed in (("plots", "9007199254740993"), ("area", "1e400")):
        answers = {"household_code": code, "plots": "3", "area": "2.5", question: typed}
        (answer,) = client.submit(client.fill(xform, answers))
        assert answer.status == 400
        assert f"{question}: " in answer.message and "1 câu trả lời cần sửa" in answer.message
    assert stored(server, "SELECT * FROM records") == []
    fine = client.fill(xform, {"household_code": code, "plots": "-12", "area": "0.25"})
    assert [a.status for a in client.submit(fine)] == [201]
    assert stored_data(server, fine) == {"household_code": code, "plots": -12, "area": 0.25}

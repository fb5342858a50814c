"""A person's erasure in a record of an imported form (an XLSForm written here with openpyxl):
the files (photo, recording, audit log, a photo per member) and the places (a point, a line)
go from every revision, the pull feed, the exports and OData; the names are marked; the files
no record names any more go from the disk, and one another record still names stays."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from schemas.form import Form
from server import create_app
from server.domain import blobs, personal_data
from server.domain.blobs import EMPTY_SHA256, BlobIncomplete, blob_path, claim_blob, store_blob
from server.domain.db import write_transaction
from server.domain.form_files import read_form_file
from server.domain.forms import import_form
from server.domain.records.rights import ERASED
from server.domain.replication import replicate
from tests.api.admin_helpers import post as admin_post
from tests.api.test_odata import make_token, rows
from tests.api.test_openrosa_admin import _collect_token
from tests.api.test_review_helpers import post, pull, push, staff, text_of
from tests.api.test_review_rights import keys_of
from tests.api.test_sync_upstream import db_dir, peer_client
from tests.collect_client import CollectClient
from tests.conftest import config
from tests.records import record
from tests.sync.live import LiveServer
from tests.workbooks import EN, VI, workbook

FORM_ID = "ho_co_anh"
NAME, CHILD, CONTACT, HELPER = "Phạm Văn Đức", "Phạm Thị Én", "Trần Văn Bình", "Đỗ Minh Quân"
POINT = "21.02851 105.85423 12 4"
LINE = "21.02851 105.85423 12 4;21.02977 105.85611 12 4"


def survey() -> list[tuple[Any, ...]]:
    return [
        ("type", "name", VI, EN, "required"),
        ("text", "head_name", "Tên chủ hộ", "Head's name", "yes"),
        ("text", "respondent_name", "Người trả lời", "Respondent", None),
        ("text", "ho_ten_lien_he", "Họ tên người liên hệ", "Contact's full name", None),
        ("text", "ghi_chu", "Ghi chú", "Notes", None),
        ("image", "anh_nha", "Ảnh nhà", "Photo of the house", "yes"),
        ("audio", "ghi_am", "Ghi âm", "Recording", None),
        ("geopoint", "vi_tri", "Vị trí", "Location", None),
        ("geotrace", "duong_di", "Đường đến nhà", "Way to the house", None),
        ("begin_repeat", "members", "Thành viên", "Members", None),
        ("text", "member_name", "Tên", "Name", "yes"),
        ("integer", "nam_sinh", "Năm sinh", "Birth year", "yes"),
        ("image", "anh_tv", "Ảnh", "Photo", None),
        ("end_repeat", None, None, None, None),
        ("begin_repeat", "ho_tro", "Người giúp", "Helpers", None),
        ("text", "ten_nguoi_giup", "Tên người giúp", "Helper's name", None),
        ("end_repeat", None, None, None, None),
        ("audit", "audit", None, None, None),
    ]


def imported(db: Any, tmp_path: Path, rows: list[Any], form_id: str, title: str) -> Form:
    """The workbook of ``rows`` written, read and imported as the admin's Forms page does."""
    path = tmp_path / f"{form_id}.xlsx"
    path.write_bytes(workbook(rows, version="1", form_id=form_id, title=title))
    definition, _ = read_form_file(path)
    with write_transaction(db):
        return import_form(db, definition)[0]


def install(tmp_path: Path, db: Any) -> Form:
    return imported(db, tmp_path, survey(), FORM_ID, "Hộ có ảnh")


def jpeg(seed: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (seed * 25 % 256, 80, 120)).save(out, "JPEG")
    return out.getvalue()


def upload(client: Any, phone: dict[str, Any], body: bytes) -> str:
    sha = hashlib.sha256(body).hexdigest()
    answer = client.put(f"/api/v1/blobs/{sha}", data=body, headers=phone["headers"])
    assert answer.status_code in (200, 201), answer.get_json()
    return sha


def answers_of(db: Any, record_id: str) -> dict[str, Any]:
    (text,) = db.execute("SELECT answers(data) FROM records WHERE id = ?", [record_id]).fetchone()
    return json.loads(text)


def everything(client: Any, db: Any, token: str) -> str:
    """Every copy of answers a person could be read from: revisions, the feed, exports, OData."""
    texts = [r[0] for r in db.execute("SELECT answers(data) FROM revisions")]
    texts += [r[0] for r in db.execute("SELECT payload FROM changes")]
    for table in ("households", "members"):
        csv = client.get(f"/reports/export/{table}.csv?form={FORM_ID}")
        assert csv.status_code == 200
        texts.append(csv.get_data(as_text=True))
    listed = client.get(f"/odata/{FORM_ID}.svc", headers={"Authorization": f"Bearer {token}"})
    for entity in listed.get_json()["value"]:
        texts.append(json.dumps(rows(client, token, f"/odata/{FORM_ID}.svc/{entity['url']}")))
    return "\n".join(texts)


def test_erasing_the_head_of_an_imported_forms_record_takes_its_files_and_places(
    client, app, phone, db, tmp_path
):
    form = install(tmp_path, db)
    house, house_again, shared = jpeg(1), jpeg(2), jpeg(3)
    voice, log, member_photo = b"RIFF....WAVEfmt voice", b"event,node\nform start,\n", jpeg(4)
    sha: dict[str, str] = {
        name: upload(client, phone, body)
        for name, body in {
            "house": house,
            "house_again": house_again,
            "shared": shared,
            "voice": voice,
            "log": log,
            "member": member_photo,
        }.items()
    }
    assert len(set(sha.values())) == 6
    village = phone["villages"][0]["id"]
    data = {
        "head_name": NAME,
        "respondent_name": NAME,
        "ho_ten_lien_he": CONTACT,
        "ghi_chu": "Nhà có giếng",
        "anh_nha": sha["house"],
        "ghi_am": sha["voice"],
        "vi_tri": POINT,
        "duong_di": LINE,
        "members": [
            {"member_name": NAME, "nam_sinh": 1975, "anh_tv": sha["member"]},
            {"member_name": CHILD, "nam_sinh": 2015, "anh_tv": sha["shared"]},
        ],
        "ho_tro": [{"ten_nguoi_giup": HELPER}],
        "audit": sha["log"],
    }
    first = record(village, data=data, form=form)
    # The second revision has another photo of the house: the first one's must go too.
    second = {
        **first,
        "rev": str(uuid.uuid4()),
        "base_rev": first["rev"],
        "data": {**data, "anh_nha": sha["house_again"]},
    }
    neighbour = record(
        village,
        data={"head_name": "Lê Văn Tám", "anh_nha": sha["shared"], "members": []},
        form=form,
    )
    assert [r["status"] for r in push(client, phone, first, second, neighbour)] == ["applied"] * 3
    staff(client, app)
    thumb = client.get(f"/reports/photos/{first['id']}/{sha['house_again']}/thumb")
    assert thumb.status_code == 200
    data_dir = Path(app.config["DATA_DIR"])
    assert list((data_dir / "thumbs").rglob(f"{sha['house_again']}-*"))
    token = make_token(client)
    before = everything(client, db, token)
    assert sha["house"] in before and "21.02977" in before and CONTACT in before

    found = keys_of(text_of(client.get("/people?q=pham van duc")))
    assert sorted(found) == sorted(
        [f"head:{first['id']}:", f"respondent:{first['id']}:", f"member:{first['id']}:0"]
    )
    erased = post(client, "/people/erase", key=found, reason="Đơn yêu cầu xóa ngày 2/12")
    assert erased.status_code == 200
    assert "Đã xóa khỏi máy chủ 5 tệp không còn phiếu nào dùng." in text_of(erased)

    current = answers_of(db, first["id"])
    assert current["head_name"] == current["respondent_name"] == ERASED
    assert current["ho_ten_lien_he"] == ERASED  # a name by its words: "ten"
    assert current["ghi_chu"] == "Nhà có giếng"  # free text that is no name stays
    assert current["ho_tro"] == [{"ten_nguoi_giup": ERASED}]  # a name in a repeat
    assert current["anh_nha"] == EMPTY_SHA256  # required: answered by the empty file
    for gone in ("ghi_am", "vi_tri", "duong_di", "audit"):
        assert gone not in current
    assert current["members"] == [
        {"member_name": ERASED, "nam_sinh": 1975},
        {"member_name": CHILD, "nam_sinh": 2015},  # another person's name; not their photo
    ]
    after = everything(client, db, token)
    for name in ("house", "house_again", "voice", "log", "member"):
        assert sha[name] not in after
        assert not blob_path(data_dir, sha[name]).exists()
        assert not db.execute("SELECT 1 FROM blob_owners WHERE sha256 = ?", [sha[name]]).fetchone()
    for gone in (NAME, CONTACT, HELPER, "21.0285", "21.02977", "105.85"):
        assert gone not in after
    assert not list((data_dir / "thumbs").rglob(f"{sha['house_again']}-*"))
    # The neighbour's record still names the photo the child's entry named: it stays.
    assert blob_path(data_dir, sha["shared"]).read_bytes() == shared
    assert answers_of(db, neighbour["id"])["anh_nha"] == sha["shared"]
    assert blob_path(data_dir, EMPTY_SHA256).read_bytes() == b""
    (log_row,) = db.execute(
        "SELECT username, target, detail FROM audit_log WHERE action = 'files_erased'"
    ).fetchall()
    assert tuple(log_row) == ("admin", f"commune:{phone['commune']['id']}", "5 files")
    assert client.get(f"/records/{first['id']}").status_code == 200
    # The phone learns of the erasure with the answers as they now are.
    review = [c["data"] for c in pull(client, phone) if c["kind"] == "review"][-1]
    assert review["data"]["anh_nha"] == EMPTY_SHA256 and "vi_tri" not in review["data"]


def two_members(
    client: Any, app: Any, phone: dict[str, Any], db: Any, tmp_path: Path, seed: int
) -> tuple[dict[str, Any], list[str], tuple[str, str, str]]:
    """A household of the imported form pushed with three photos (the house, the head, the
    child), a reviewer logged in, and the child found: the record, the child's key, and the
    photos' hashes (the child's, the head's, the house's)."""
    form = install(tmp_path, db)
    sha_mine, sha_theirs, sha_house = (upload(client, phone, jpeg(seed + i)) for i in range(3))
    data = {
        "head_name": "Lê Văn Tám",
        "anh_nha": sha_house,
        "vi_tri": POINT,
        "members": [
            {"member_name": "Lê Văn Tám", "nam_sinh": 1970, "anh_tv": sha_theirs},
            {"member_name": CHILD, "nam_sinh": 2015, "anh_tv": sha_mine},
        ],
    }
    item = record(phone["villages"][0]["id"], data=data, form=form)
    assert [r["status"] for r in push(client, phone, item)] == ["applied"]
    staff(client, app)
    found = keys_of(text_of(client.get("/people?q=thi en")))
    assert found == [f"member:{item['id']}:1"]
    return item, found, (sha_mine, sha_theirs, sha_house)


def test_erasing_one_member_takes_their_photo_and_name_only(client, app, phone, db, tmp_path):
    item, found, (sha_mine, sha_theirs, sha_house) = two_members(
        client, app, phone, db, tmp_path, 5
    )
    assert post(client, "/people/erase", key=found, reason="Đơn của chị Én").status_code == 200
    current = answers_of(db, item["id"])
    assert current["members"][1] == {"member_name": ERASED, "nam_sinh": 2015}
    assert current["members"][0]["anh_tv"] == sha_theirs
    assert current["anh_nha"] == sha_house and current["vi_tri"] == POINT  # the household's
    data_dir = app.config["DATA_DIR"]
    assert not blob_path(data_dir, sha_mine).exists()
    assert blob_path(data_dir, sha_theirs).exists() and blob_path(data_dir, sha_house).exists()


def test_a_sweep_that_fails_is_done_at_the_next_start(
    client, app, phone, db, tmp_path, monkeypatch
):
    """The erasure commits, then removing its files fails (the disk refuses): the page still
    says the person was erased, the files stay queued, and the server's next start removes
    them."""
    item, found, (sha_mine, *_) = two_members(client, app, phone, db, tmp_path, 8)
    drop = blobs.drop_unheld

    def refused(*args: Any) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(blobs, "drop_unheld", refused)
    answer = post(client, "/people/erase", key=found, reason="Đơn của chị Én")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200 and 'id="erased"' in page
    assert "sẽ được xóa khỏi máy chủ sau" in page  # the files later, not "0 files"
    assert answers_of(db, item["id"])["members"][1] == {"member_name": ERASED, "nam_sinh": 2015}
    data_dir = app.config["DATA_DIR"]
    assert blob_path(data_dir, sha_mine).exists()
    queued = db.execute("SELECT commune_id, sha256 FROM file_sweeps").fetchall()
    assert [tuple(r) for r in queued] == [(phone["commune"]["id"], sha_mine)]
    monkeypatch.setattr(blobs, "drop_unheld", drop)
    create_app(config(Path(data_dir)))  # the server started again
    assert not blob_path(data_dir, sha_mine).exists()
    assert not db.execute("SELECT 1 FROM file_sweeps").fetchone()
    swept = db.execute(
        "SELECT username, detail FROM audit_log WHERE action = 'files_erased'"
    ).fetchone()
    assert tuple(swept) == ("system:sweep", "1 files")


def test_the_province_applies_the_erasure_and_drops_the_files_too(client, app, phone, db, tmp_path):
    form = install(tmp_path, db)
    house, member_photo = jpeg(8), jpeg(9)
    sha_house, sha_member = upload(client, phone, house), upload(client, phone, member_photo)
    assert sha_house != sha_member
    data = {
        "head_name": NAME,
        "anh_nha": sha_house,
        "vi_tri": POINT,
        "members": [{"member_name": NAME, "nam_sinh": 1975, "anh_tv": sha_member}],
    }
    item = record(phone["villages"][0]["id"], data=data, form=form)
    assert [r["status"] for r in push(client, phone, item)] == ["applied"]
    province = LiveServer(tmp_path / "province", seed=False).start()
    try:
        upstream = peer_client(province)
        replicate(db, upstream, province.base, db_dir(db))
        assert blob_path(province.data_dir, sha_house).read_bytes() == house
        assert blob_path(province.data_dir, sha_member).read_bytes() == member_photo
        staff(client, app)
        found = keys_of(text_of(client.get("/people?q=pham van duc")))
        assert post(client, "/people/erase", key=found, reason="Đơn yêu cầu xóa").status_code == 200
        report = replicate(db, upstream, province.base, db_dir(db))
        assert report.rejects == []  # the erased revision passes the province's checks
        with province.db() as up:
            (text,) = up.execute(
                "SELECT answers(data) FROM records WHERE id = ?", [item["id"]]
            ).fetchone()
            kept = "\n".join(r[0] for r in up.execute("SELECT answers(data) FROM revisions"))
            swept = up.execute(
                "SELECT detail FROM audit_log WHERE action = 'files_erased'"
            ).fetchall()
        assert json.loads(text)["anh_nha"] == EMPTY_SHA256
        for gone in (sha_house, sha_member, "21.0285", NAME):
            assert gone not in kept
        for sha in (sha_house, sha_member):
            assert not blob_path(province.data_dir, sha).exists()
        assert [r[0] for r in swept] == ["2 files"]
    finally:
        province.stop()


def test_the_sweep_keeps_what_a_push_a_waiting_collect_submission_or_a_commune_names(
    client, app, phone, db, tmp_path
):
    form = install(tmp_path, db)
    house, voice, member_photo = jpeg(10), b"RIFF....WAVE another voice", jpeg(11)
    sha_house, sha_voice = upload(client, phone, house), upload(client, phone, voice)
    sha_member = upload(client, phone, member_photo)
    assert len({sha_house, sha_voice, sha_member}) == 3
    data = {
        "head_name": NAME,
        "anh_nha": sha_house,
        "ghi_am": sha_voice,
        "members": [{"member_name": "Lê Thị Na", "nam_sinh": 1980, "anh_tv": sha_member}],
    }
    item = record(phone["villages"][0]["id"], data=data, form=form)
    assert [r["status"] for r in push(client, phone, item)] == ["applied"]
    # ODK Collect sent a visit with the same photo of the member; it waits for the office.
    token = _collect_token(db)
    xform = client.get(f"/key/{token}/forms/{FORM_ID}/versions/1/form.xml").data
    filled = CollectClient.fill(xform, {"head_name": "Lê Thị Na", "anh_nha": "nha.jpg"})
    sent = client.post(
        f"/key/{token}/submission",
        data={
            "xml_submission_file": (io.BytesIO(filled.xml()), "submission.xml"),
            "nha.jpg": (io.BytesIO(member_photo), "nha.jpg"),
        },
    )
    assert sent.status_code == 201
    (state,) = db.execute("SELECT state FROM openrosa_submissions").fetchone()
    assert state == "unattached"
    # Another commune's phone uploaded the same recording: it holds its own claim.
    with write_transaction(db):
        claim_blob(db, "11111", sha_voice)

    commune = phone["commune"]["id"]
    admin = db.execute("SELECT * FROM users WHERE username = 'admin'").fetchone()
    with write_transaction(db):
        selected = personal_data.parse_keys(commune, db, [f"head:{item['id']}:"])
        erased = personal_data.erase(db, dict(admin), commune, selected)
    assert erased.files == {sha_house, sha_voice, sha_member}
    # Between the erasure and the sweep, a phone pushes a visit naming the house's photo.
    again = record(
        phone["villages"][0]["id"],
        data={"head_name": "Lê Văn Tám", "anh_nha": sha_house},
        form=form,
    )
    assert [r["status"] for r in push(client, phone, again)] == ["applied"]
    data_dir = app.config["DATA_DIR"]
    assert personal_data.sweep(db, data_dir, commune, dict(admin)) == 0
    for sha in (sha_house, sha_voice, sha_member):
        assert blob_path(data_dir, sha).exists()
    claims = {
        r[0] for r in db.execute("SELECT sha256 FROM blob_owners WHERE commune_id = ?", [commune])
    }
    assert sha_house in claims and sha_member in claims  # still named here
    assert sha_voice not in claims  # named here by nothing: the other commune's claim keeps it
    assert not db.execute("SELECT 1 FROM audit_log WHERE action = 'files_erased'").fetchone()

    # The recording is gone from this commune: a phone naming it must send it again.
    later = record(
        phone["villages"][0]["id"],
        data={"head_name": "Lê Văn Tám", "anh_nha": sha_house, "ghi_am": sha_voice},
        form=form,
    )
    (refused,) = push(client, phone, later)
    assert (
        refused["status"] == "rejected" and refused["errors"]["ghi_am"][0]["code"] == "missing_blob"
    )
    upload(client, phone, voice)
    assert [r["status"] for r in push(client, phone, later)] == ["applied"]


def test_an_upload_whose_file_a_sweep_took_meanwhile_is_asked_for_again(client, app, phone, db):
    body = jpeg(12)
    sha = upload(client, phone, body)
    data_dir, commune = app.config["DATA_DIR"], phone["commune"]["id"]
    # The phone sends the photo again; the store held it, so the upload wrote nothing. Then,
    # before its claim, a sweep takes the file no record names.
    assert store_blob(data_dir, sha, io.BytesIO(body), len(body), len(body)) == (len(body), False)
    with write_transaction(db):
        blobs.queue_sweep(db, commune, {sha})
    assert personal_data.sweep(db, data_dir, commune) == 1
    with pytest.raises(BlobIncomplete), write_transaction(db):
        claim_blob(db, commune, sha, data_dir)
    assert client.head(f"/api/v1/blobs/{sha}", headers=phone["headers"]).status_code == 404
    # Its next try stores the file whole again.
    answer = client.put(f"/api/v1/blobs/{sha}", data=body, headers=phone["headers"])
    assert answer.status_code == 201 and blob_path(data_dir, sha).read_bytes() == body


def test_a_waiting_collect_submission_of_the_form_loses_its_files_and_places(
    admin, client, db, app, tmp_path
):
    install(tmp_path, db)
    house, member_photo = jpeg(13), jpeg(14)
    token = _collect_token(db)
    xform = client.get(f"/key/{token}/forms/{FORM_ID}/versions/1/form.xml").data
    answers = {
        "head_name": NAME,
        "anh_nha": "nha.jpg",
        "vi_tri": POINT,
        "members": [{"member_name": NAME, "nam_sinh": 1975, "anh_tv": "tv.jpg"}],
    }
    filled = CollectClient.fill(xform, answers)
    sent = client.post(
        f"/key/{token}/submission",
        data={
            "xml_submission_file": (io.BytesIO(filled.xml()), "submission.xml"),
            "nha.jpg": (io.BytesIO(house), "nha.jpg"),
            "tv.jpg": (io.BytesIO(member_photo), "tv.jpg"),
        },
    )
    assert sent.status_code == 201
    instance = filled.instance_id
    found = keys_of(admin.get("/people?q=pham van duc").text)
    assert f"collect_head:{instance}:" in found
    erased = admin_post(admin, "/people/erase", {"key": found, "reason": "Đơn yêu cầu xóa"})
    assert erased.status_code == 200

    xml, files = db.execute(
        "SELECT xml, files FROM openrosa_submissions WHERE instance_id = ?", [instance]
    ).fetchone()
    for gone in (NAME, "nha.jpg", "tv.jpg", "21.0285"):
        assert gone not in xml
    assert json.loads(files) == {"erased": EMPTY_SHA256}  # the required photo: the empty file
    data_dir = app.config["DATA_DIR"]
    for body in (house, member_photo):
        assert not blob_path(data_dir, hashlib.sha256(body).hexdigest()).exists()
    # Attached to a household later, it is a record whose required photo is the empty file.
    code = db.execute("SELECT code FROM households ORDER BY code LIMIT 1").fetchone()[0]
    done = admin_post(admin, "/collect/attach", {"instance_id": instance, "household_code": code})
    assert done.status_code == 303
    stored = answers_of(db, instance.removeprefix("uuid:"))
    assert stored["anh_nha"] == EMPTY_SHA256 and "vi_tri" not in stored
    assert stored["members"] == [{"member_name": ERASED, "nam_sinh": 1975}]


def test_erasing_the_respondent_takes_the_files_outside_the_roster(
    client, app, phone, db, tmp_path
):
    form = install(tmp_path, db)
    house, voice, member_photo = jpeg(15), b"RIFF....WAVE the respondent", jpeg(16)
    sha_house, sha_voice = upload(client, phone, house), upload(client, phone, voice)
    sha_member = upload(client, phone, member_photo)
    data = {
        "head_name": "Lê Văn Tám",
        "respondent_name": "Hà Thị Mai",
        "anh_nha": sha_house,
        "ghi_am": sha_voice,
        "vi_tri": POINT,
        "members": [{"member_name": "Lê Văn Tám", "nam_sinh": 1970, "anh_tv": sha_member}],
    }
    item = record(phone["villages"][0]["id"], data=data, form=form)
    assert [r["status"] for r in push(client, phone, item)] == ["applied"]
    staff(client, app)
    found = keys_of(text_of(client.get("/people?q=ha thi mai")))
    assert found == [f"respondent:{item['id']}:"]
    assert post(client, "/people/erase", key=found, reason="Đơn của chị Mai").status_code == 200
    current = answers_of(db, item["id"])
    assert current == {
        "head_name": "Lê Văn Tám",
        "respondent_name": ERASED,
        "anh_nha": EMPTY_SHA256,
        "vi_tri": POINT,  # the household's place stays
        "members": [{"member_name": "Lê Văn Tám", "nam_sinh": 1970, "anh_tv": sha_member}],
    }
    data_dir = app.config["DATA_DIR"]
    assert not blob_path(data_dir, sha_house).exists()
    assert not blob_path(data_dir, sha_voice).exists()
    assert blob_path(data_dir, sha_member).exists()


def test_erasing_the_head_leaves_another_respondent_s_name(client, app, phone, db, tmp_path):
    form = install(tmp_path, db)
    sha_house = upload(client, phone, jpeg(17))
    data = {
        "head_name": "Lê Văn Tám",
        "respondent_name": "Hà Thị Mai",
        "ho_ten_lien_he": "Lê Văn Tám",
        "anh_nha": sha_house,
        "members": [],
    }
    item = record(phone["villages"][0]["id"], data=data, form=form)
    assert [r["status"] for r in push(client, phone, item)] == ["applied"]
    staff(client, app)
    found = keys_of(text_of(client.get("/people?q=le van tam")))
    assert found == [f"head:{item['id']}:"]
    assert post(client, "/people/erase", key=found, reason="Đơn của ông Tám").status_code == 200
    current = answers_of(db, item["id"])
    assert current == {
        "head_name": ERASED,
        "respondent_name": "Hà Thị Mai",
        "ho_ten_lien_he": ERASED,
        "anh_nha": EMPTY_SHA256,
        "members": [],
    }


def other_names_form(db: Any, tmp_path: Path) -> Form:
    """A form whose names are its own: the head's (``ten_chu_ho``), a contact's, the roster's
    (``ho_ten``) and a helper's in a repeat of its own."""
    rows = [
        ("type", "name", VI, EN, "required"),
        ("text", "ten_chu_ho", "Tên chủ hộ", "Head of household", "yes"),
        ("text", "ho_ten_lien_he", "Người liên hệ", "Contact", None),
        ("begin_repeat", "members", "Thành viên", "Members", None),
        ("text", "ho_ten", "Họ tên", "Full name", "yes"),
        ("end_repeat", None, None, None, None),
        ("begin_repeat", "ho_tro", "Người giúp", "Helpers", None),
        ("text", "ten_nguoi_giup", "Tên người giúp", "Helper's name", None),
        ("end_repeat", None, None, None, None),
    ]
    return imported(db, tmp_path, rows, "ten_khac", "Tên khác")


def test_a_person_is_found_by_any_name_question_of_an_imported_form(
    client, app, phone, db, tmp_path
):
    form = other_names_form(db, tmp_path)
    data = {
        "ten_chu_ho": "Lò Văn Pá",
        "ho_ten_lien_he": CONTACT,
        "members": [{"ho_ten": "Lò Văn Pá"}, {"ho_ten": "Lò Thị Xuân"}],
        "ho_tro": [{"ten_nguoi_giup": "Cà Văn Lả"}],
    }
    item = record(phone["villages"][0]["id"], data=data, form=form)
    assert [r["status"] for r in push(client, phone, item)] == ["applied"]
    staff(client, app)
    assert sorted(keys_of(text_of(client.get("/people?q=lo van pa")))) == sorted(
        [f"head:{item['id']}:", f"member:{item['id']}:0"]
    )
    assert keys_of(text_of(client.get("/people?q=thi xuan"))) == [f"member:{item['id']}:1"]
    # A helper is no one's role here: found by no search, erased with the head.
    assert keys_of(text_of(client.get("/people?q=ca van la"))) == []
    # Nor a contact, whose erasure as the household's head would take its files and places.
    assert keys_of(text_of(client.get("/people?q=tran van binh"))) == []

    erased = post(client, "/people/erase", key=[f"member:{item['id']}:1"], reason="Đơn của Xuân")
    assert erased.status_code == 200
    assert answers_of(db, item["id"])["members"] == [{"ho_ten": "Lò Văn Pá"}, {"ho_ten": ERASED}]
    assert keys_of(text_of(client.get("/people?q=thi xuan"))) == []
    erased = post(client, "/people/erase", key=[f"head:{item['id']}:"], reason="Đơn của ông Pá")
    assert erased.status_code == 200
    current = answers_of(db, item["id"])
    assert current["ten_chu_ho"] == ERASED and current["ho_tro"] == [{"ten_nguoi_giup": ERASED}]


def test_a_member_is_found_by_their_roster_name_in_older_revisions_too(
    client, app, phone, db, tmp_path
):
    rows = [
        ("type", "name", VI, EN, "required"),
        ("text", "ten_chu_ho", "Tên chủ hộ", "Head of household", "yes"),
        ("begin_repeat", "members", "Thành viên", "Members", None),
        ("text", "ho_ten", "Họ tên", "Full name", "yes"),
        ("image", "anh", "Ảnh", "Photo", None),
        ("end_repeat", None, None, None, None),
    ]
    form = imported(db, tmp_path, rows, "doi_cho", "Đổi chỗ")
    x_photo, y_photo = upload(client, phone, jpeg(21)), upload(client, phone, jpeg(22))
    x, y = {"ho_ten": "Lò Văn Xa", "anh": x_photo}, {"ho_ten": "Lò Thị Yến", "anh": y_photo}
    first = record(
        phone["villages"][0]["id"], data={"ten_chu_ho": "Lò Văn Xa", "members": [x, y]}, form=form
    )
    # The roster put in another order in the next revision: Yến is first now.
    second = {
        **first,
        "rev": str(uuid.uuid4()),
        "base_rev": first["rev"],
        "data": {"ten_chu_ho": "Lò Văn Xa", "members": [y, x]},
    }
    assert [r["status"] for r in push(client, phone, first, second)] == ["applied"] * 2
    staff(client, app)
    found = keys_of(text_of(client.get("/people?q=lo thi yen")))
    assert found == [f"member:{first['id']}:0"]
    assert post(client, "/people/erase", key=found, reason="Đơn của Yến").status_code == 200
    texts = " ".join(r[0] for r in db.execute("SELECT answers(data) FROM revisions"))
    assert "Lò Thị Yến" not in texts and y_photo not in texts
    assert not blob_path(app.config["DATA_DIR"], y_photo).exists()
    assert answers_of(db, first["id"])["members"][1] == x  # today's other member stays


def test_a_waiting_collect_submission_is_found_by_its_form_s_own_names(admin, client, db, tmp_path):
    """A Collect submission of that form, waiting for a household: its head and its members
    are found by the form's own name questions, as a record's are, and erased by them."""
    other_names_form(db, tmp_path)
    token = _collect_token(db)
    xform = client.get(f"/key/{token}/forms/ten_khac/versions/1/form.xml").data
    answers = {
        "ten_chu_ho": "Lò Văn Pá",
        "ho_ten_lien_he": CONTACT,
        "members": [{"ho_ten": "Lò Văn Pá"}, {"ho_ten": "Lò Thị Xuân"}],
        "ho_tro": [{"ten_nguoi_giup": "Cà Văn Lả"}],
    }
    filled = CollectClient.fill(xform, answers)
    sent = client.post(
        f"/key/{token}/submission",
        data={"xml_submission_file": (io.BytesIO(filled.xml()), "submission.xml")},
    )
    assert sent.status_code == 201
    instance = filled.instance_id
    found = keys_of(admin.get("/people?q=lo van pa").text)
    assert sorted(found) == sorted([f"collect_head:{instance}:", f"collect_member:{instance}:0"])
    assert keys_of(admin.get("/people?q=thi xuan").text) == [f"collect_member:{instance}:1"]
    assert keys_of(admin.get("/people?q=ca van la").text) == []  # a helper: no role alone
    assert keys_of(admin.get("/people?q=tran van binh").text) == []  # a contact: neither

    key = [f"collect_member:{instance}:1"]
    assert (
        admin_post(admin, "/people/erase", {"key": key, "reason": "Đơn của Xuân"}).status_code
        == 200
    )
    assert keys_of(admin.get("/people?q=thi xuan").text) == []
    key = [f"collect_head:{instance}:"]
    assert (
        admin_post(admin, "/people/erase", {"key": key, "reason": "Đơn ông Pá"}).status_code == 200
    )
    (xml,) = db.execute(
        "SELECT xml FROM openrosa_submissions WHERE instance_id = ?", [instance]
    ).fetchone()
    assert "<ten_chu_ho>[đã xóa]</ten_chu_ho>" in xml
    for gone in ("Lò Thị Xuân", "Cà Văn Lả"):
        assert gone not in xml
    # As in a record: the head's own roster entry is erased when he asks as a member.
    assert "<ho_ten>Lò Văn Pá</ho_ten>" in xml


def test_an_edit_the_phone_held_through_the_head_erasure_comes_without_their_files(
    client, app, phone, db, tmp_path
):
    # The house's photo is asked only of a household with a house of its own: the erasure
    # found no file to take, the edit held through it brings one, which the form requires.
    rows = [
        ("type", "name", VI, EN, "required", "relevant"),
        ("text", "ten_chu_ho", "Tên chủ hộ", "Head's name", "yes", None),
        ("select_one co_khong", "nha_rieng", "Nhà riêng?", "A house of its own?", "yes", None),
        ("image", "anh_nha", "Ảnh nhà", "Photo of the house", "yes", "${nha_rieng} = 'co'"),
        ("geopoint", "vi_tri", "Vị trí", "Location", None, None),
        ("text", "ghi_chu", "Ghi chú", "Notes", None, None),
        ("begin_repeat", "members", "Thành viên", "Members", None, None),
        ("text", "ho_ten", "Họ tên", "Full name", "yes", None),
        ("integer", "nam_sinh", "Năm sinh", "Birth year", "yes", None),
        ("end_repeat", None, None, None, None, None),
    ]
    form = imported(db, tmp_path, rows, "ho_thue_nha", "Hộ thuê nhà")
    data = {
        "ten_chu_ho": NAME,
        "nha_rieng": "khong",
        "vi_tri": POINT,
        "members": [{"ho_ten": NAME, "nam_sinh": 1975}, {"ho_ten": CHILD, "nam_sinh": 2015}],
    }
    first = record(phone["villages"][0]["id"], data=data, form=form)
    assert [r["status"] for r in push(client, phone, first)] == ["applied"]
    staff(client, app)
    found = keys_of(text_of(client.get("/people?q=pham van duc")))
    assert sorted(found) == sorted([f"head:{first['id']}:", f"member:{first['id']}:0"])
    assert post(client, "/people/erase", key=found, reason="Đơn yêu cầu xóa").status_code == 200

    # Offline through it, the phone learnt the house is theirs and took its photo.
    photo = upload(client, phone, jpeg(9))
    late = {
        **first,
        "rev": str(uuid.uuid4()),
        "base_rev": first["rev"],
        "data": {**data, "nha_rieng": "co", "anh_nha": photo, "ghi_chu": "Cổng xanh"},
    }
    assert [r["status"] for r in push(client, phone, late)] == ["conflict"]
    (text,) = db.execute(
        "SELECT answers(data) FROM revisions WHERE rev = ?", [late["rev"]]
    ).fetchone()
    kept = json.loads(text)
    assert kept["ten_chu_ho"] == ERASED and kept["anh_nha"] == EMPTY_SHA256
    assert "vi_tri" not in kept and kept["ghi_chu"] == "Cổng xanh"
    assert kept["members"] == [
        {"ho_ten": ERASED, "nam_sinh": 1975},
        {"ho_ten": CHILD, "nam_sinh": 2015},
    ]
    # The empty file is the commune's now; the photo, named by no answer, waits for a sweep.
    data_dir = Path(app.config["DATA_DIR"])
    assert blobs.blob_visible(db, data_dir, phone["commune"]["id"], EMPTY_SHA256) == 0
    queued = db.execute("SELECT sha256 FROM file_sweeps WHERE sha256 = ?", [photo]).fetchall()
    assert len(queued) == 1

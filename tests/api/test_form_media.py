"""A form's media: the pictures, sounds and films its labels show, uploaded with the workbook
on the Forms page, kept as blobs tied to the version, served to the phones that may use it
(and to ODK Collect through the manifest), their sizes shown; and file answers (audio, video,
file), bounded per type."""

from __future__ import annotations

import hashlib
import html
import io
import json
import re
import uuid
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote, urlsplit

from itsdangerous import URLSafeTimedSerializer

from server.domain.blobs import blob_path
from server.domain.db import write_transaction
from server.domain.devices import add_collect_device
from server.domain.register import add_commune
from server.domain.seed import DEMO_VOLUNTEER
from tests.api.admin_helpers import logged_in, post, staff
from tests.api.test_admin_forms import definition_of, text_of
from tests.records import VISIT_DATE
from tests.workbooks import EN, VI, workbook

FORM_ID = "tham_anh"
MEDIA = "image"
SURVEY = [
    ("type", "name", VI, EN, "media::image", "audio::English (en)"),
    ("today", "ngay", None, None, None, None),
    ("select_one viec", "viec", "Đã giúp việc gì?", "What was done?", "help.png", "help_en.wav"),
    ("audio", "loi_ke", "Ghi âm lời kể", "Record the story", None, None),
    ("video", "phim", "Quay phim", "Film", None, None),
    ("file", "giay", "Giấy tờ", "A document", None, None),
]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
WAV = b"RIFF" + (2996).to_bytes(4, "little") + b"WAVE" + b"\x01" * 2992
FILES = {"help.png": PNG, "help_en.wav": WAV}
SALT = "form-preview-media"  # server/web/admin/routes_forms.py: _media_serializer


def upload(
    admin: Any, files: dict[str, bytes], survey: list[Any] = SURVEY, form_id: str = FORM_ID
) -> Any:
    data = {
        "file": (io.BytesIO(workbook(survey, form_id=form_id, version="1")), "tham_anh.xlsx"),
        "attachments": [(io.BytesIO(body), name) for name, body in files.items()],
    }
    return post(admin, "/admin/forms/check", data)


def published(admin: Any, files: dict[str, bytes] = FILES, form_id: str = FORM_ID) -> None:
    page = upload(admin, files, form_id=form_id).get_data(as_text=True)
    response = post(admin, "/admin/forms/publish", {"definition": definition_of(page)})
    assert response.status_code == 303, text_of(response.get_data(as_text=True))


def media_url(name: str, version: str = "1") -> str:
    return f"/api/v1/forms/{FORM_ID}/{version}/media/{name}"


def test_label_media_are_kept_with_the_version_and_served_to_its_phones(
    admin: Any, client: Any, app: Any, db: Any, phone: dict[str, Any]
) -> None:
    response = upload(admin, FILES)
    page = text_of(response.get_data(as_text=True))
    assert response.status_code == 200, page
    assert f"{len(PNG) / 1024:.1f} KB" in page and "hiển thị bên 1 nhãn" in page
    published(admin)
    for body in FILES.values():  # kept whole, content-addressed
        path = blob_path(app.config["DATA_DIR"], hashlib.sha256(body).hexdigest())
        assert path.read_bytes() == body

    got = client.get(media_url("help.png"), headers=phone["headers"])
    assert got.status_code == 200 and got.data == PNG
    assert got.mimetype == "image/png"
    etag = got.headers["ETag"]
    assert hashlib.sha256(PNG).hexdigest() in etag
    again = client.get(media_url("help.png"), headers={**phone["headers"], "If-None-Match": etag})
    assert again.status_code == 304
    assert client.get(media_url("help_en.wav"), headers=phone["headers"]).data == WAV
    assert client.get(media_url("other.png"), headers=phone["headers"]).status_code == 404
    assert client.get(media_url("help.png", "9"), headers=phone["headers"]).status_code == 404
    assert client.get(media_url("help.png")).status_code == 401

    # The phone learns the files with the version, by name and hash.
    pulled = client.get("/api/v1/sync/pull?since=0&limit=1000", headers=phone["headers"])
    forms = [c for c in pulled.get_json()["changes"] if c["id"] == f"{FORM_ID}@1"]
    media = forms[0]["data"]["definition"]["media"]
    assert media["help.png"] == {
        "sha256": hashlib.sha256(PNG).hexdigest(),
        "size": len(PNG),
        "type": "image/png",
    }

    # The admin sees what the phones download.
    total = f"{(len(PNG) + len(WAV)) / 1024:.1f} KB"
    row = re.search(rf'<tr data-form="{FORM_ID}">.*?</tr>', admin.get("/admin/forms").get_data(
        as_text=True), re.S)  # fmt: skip
    assert row and total in text_of(row.group(0))
    versions = text_of(admin.get(f"/admin/forms/{FORM_ID}").get_data(as_text=True))
    assert re.search(rf"help\.png\s+{len(PNG) / 1024:.1f} KB", versions)


def test_a_missing_file_is_refused_when_others_came_and_a_warning_when_none_did(
    admin: Any, db: Any
) -> None:
    response = upload(admin, {"help.png": PNG})
    page = text_of(response.get_data(as_text=True))
    assert response.status_code == 422
    assert (
        "Sheet 'survey', row 3, file 'help_en.wav'" in page or "dòng 3, file 'help_en.wav'" in page
    )
    response = upload(admin, {})
    page = text_of(response.get_data(as_text=True))
    assert response.status_code == 200
    assert "chưa tải tệp 'help.png' lên cùng biểu mẫu" in page
    response = post(
        admin,
        "/admin/forms/publish",
        {"definition": definition_of(response.get_data(as_text=True))},
    )
    assert response.status_code == 303


def test_the_checks_preview_reads_each_file_at_an_address_the_check_signed(
    admin: Any, app: Any, client: Any, db: Any
) -> None:
    page = upload(admin, FILES).get_data(as_text=True)
    found = re.search(r'<script type="application/json" id="preview-media">(.*?)</script>', page)
    addresses = json.loads(html.unescape(found.group(1)))
    assert set(addresses) == set(FILES)
    media = json.loads(definition_of(page))["media"]
    for name, body in FILES.items():
        got = admin.get(addresses[name])
        assert got.status_code == 200 and got.data == body
        assert got.mimetype == media[name]["type"]
    # A record's photo is a blob too: no address names it but one the check signed.
    photo = b"\xff\xd8\xff a household's photo"
    sha = hashlib.sha256(photo).hexdigest()
    blob_path(app.config["DATA_DIR"], sha).parent.mkdir(parents=True, exist_ok=True)
    blob_path(app.config["DATA_DIR"], sha).write_bytes(photo)
    signed = addresses["help.png"]
    named = ["99999", sha, "image/jpeg"]
    for forged in (
        "/admin/form-media/" + URLSafeTimedSerializer("not the key", salt=SALT).dumps(named),
        f"/admin/form-media/{sha}",
        signed[:-2] + ("AA" if not signed.endswith("AA") else "BB"),
        "/admin/form-media/" + "x" * 5000,
    ):
        assert admin.get(forged).status_code == 404, forged
    # Another commune's admin, a reviewer and no one at all get nothing.
    with write_transaction(db):
        add_commune(db, "88888", "Xã Khác", "01", "Hà Nội")
    staff(db, "quantri.khac", "admin", "88888")
    assert logged_in(app, "quantri.khac").get(signed).status_code == 404
    staff(db, "kiemtra", "reviewer")
    assert logged_in(app, "kiemtra").get(signed).status_code == 403
    assert client.get(signed).status_code in (302, 401)


def test_a_definition_naming_a_file_the_server_lacks_is_not_published(admin: Any, db: Any) -> None:
    page = upload(admin, FILES).get_data(as_text=True)
    definition = json.loads(definition_of(page))
    definition["media"]["help.png"]["sha256"] = "0" * 64
    response = post(admin, "/admin/forms/publish", {"definition": json.dumps(definition)})
    assert response.status_code == 422
    assert "help.png" in text_of(response.get_data(as_text=True))
    assert db.execute("SELECT count(*) FROM forms WHERE form_id = ?", [FORM_ID]).fetchone()[0] == 0


def test_collects_manifest_lists_each_file_with_its_md5_and_it_downloads(
    admin: Any, client: Any, db: Any
) -> None:
    published(admin)
    with write_transaction(db):
        user = db.execute("SELECT id FROM users WHERE username = ?", [DEMO_VOLUNTEER]).fetchone()
        _, token = add_collect_device(db, user[0])
    headers = {"X-OpenRosa-Version": "1.0"}
    response = client.get(f"/key/{token}/forms/{FORM_ID}/versions/1/manifest", headers=headers)
    assert response.status_code == 200
    ns = "{http://openrosa.org/xforms/xformsManifest}"
    files = {
        m.findtext(f"{ns}filename"): (m.findtext(f"{ns}hash"), m.findtext(f"{ns}downloadUrl"))
        for m in ET.fromstring(response.data).findall(f"{ns}mediaFile")
    }
    assert set(files) == set(FILES)
    for name, (md5, url) in files.items():
        assert md5 == "md5:" + hashlib.md5(FILES[name]).hexdigest()
        got = client.get(urlsplit(url).path, headers=headers)
        assert got.status_code == 200 and got.data == FILES[name]
    # The XForm names them as Collect finds them: jr://images/help.png
    xform = client.get(f"/key/{token}/forms/{FORM_ID}/versions/1/form.xml", headers=headers)
    assert b"jr://images/help.png" in xform.data and b"jr://audio/help_en.wav" in xform.data


def test_a_form_id_an_address_must_quote_reaches_the_phone_and_collect(
    admin: Any, client: Any, db: Any, phone: dict[str, Any]
) -> None:
    odd = "thăm hộ #1? 50% & more"
    published(admin, form_id=odd)
    state = post(admin, f"/admin/forms/{quote(odd, safe='')}/state", {"state": "active"})
    assert state.status_code == 303
    # As the phone asks (pwa/js/sync.js: fetchMedia quotes each part with encodeURIComponent).
    parts = ["forms", odd, "1", "media", "help.png"]
    path = "/api/v1/" + "/".join(quote(p, safe="-_.!~*'()") for p in parts)
    got = client.get(path, headers=phone["headers"])
    assert got.status_code == 200 and got.data == PNG
    # As ODK Collect asks: the form list's manifest address, then each file's.
    with write_transaction(db):
        user = db.execute("SELECT id FROM users WHERE username = ?", [DEMO_VOLUNTEER]).fetchone()
        _, token = add_collect_device(db, user[0])
    headers = {"X-OpenRosa-Version": "1.0"}
    listed = ET.fromstring(client.get(f"/key/{token}/formList", headers=headers).data)
    ns = "{http://openrosa.org/xforms/xformsList}"
    (entry,) = [x for x in listed.iter(f"{ns}xform") if x.findtext(f"{ns}formID") == odd]
    form = client.get(urlsplit(entry.findtext(f"{ns}downloadUrl")).path, headers=headers)
    assert form.status_code == 200 and b"jr://images/help.png" in form.data
    manifest = client.get(urlsplit(entry.findtext(f"{ns}manifestUrl")).path, headers=headers)
    assert manifest.status_code == 200
    ns = "{http://openrosa.org/xforms/xformsManifest}"
    urls = {
        m.findtext(f"{ns}filename"): m.findtext(f"{ns}downloadUrl")
        for m in ET.fromstring(manifest.data).findall(f"{ns}mediaFile")
    }
    assert set(urls) == set(FILES)
    for name, url in urls.items():
        got = client.get(urlsplit(url).path, headers=headers)
        assert got.status_code == 200 and got.data == FILES[name]


def push_item(phone: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "rev": str(uuid.uuid4()),
        "base_rev": None,
        "form_id": FORM_ID,
        "form_version": "1",
        "household_id": None,
        "village_id": phone["villages"][0]["id"],
        "data": {"ngay": VISIT_DATE, **data},
        "meta": {"started_at": "2026-11-20T01:00:00Z", "visit_date": VISIT_DATE},
    }


def put_blob(client: Any, phone: dict[str, Any], body: bytes) -> tuple[str, Any]:
    sha = hashlib.sha256(body).hexdigest()
    response = client.put(
        f"/api/v1/blobs/{sha}",
        data=body,
        headers={**phone["headers"], "Content-Type": "application/octet-stream"},
    )
    return sha, response


def test_file_answers_are_blobs_bounded_by_their_type_shown_on_the_record_page_and_exported(
    admin: Any, client: Any, phone: dict[str, Any]
) -> None:
    published(admin)
    film = b"\0\0\0\x18ftypmp42" + b"v" * 12_000_000  # past the 8 MB of other requests
    film_sha, response = put_blob(client, phone, film)
    assert response.status_code == 201, response.get_json()
    voice_sha, response = put_blob(client, phone, WAV)
    assert response.status_code == 201
    answers = {"viec": "vneid", "loi_ke": voice_sha, "phim": film_sha, "giay": voice_sha}
    item = push_item(phone, answers)
    result = client.post(
        "/api/v1/sync/push", json={"items": [item]}, headers=phone["headers"]
    ).get_json()["results"][0]
    assert result["status"] == "applied", result

    # The record page plays the recording and the film and links the document; each opens.
    page = admin.get(f"/records/{item['id']}").get_data(as_text=True)
    voice_url = f"/records/{item['id']}/files/{voice_sha}"
    assert f'<audio class="answer-file" controls preload="metadata" src="{voice_url}">' in page
    film_url = f"/records/{item['id']}/files/{film_sha}"
    assert f'<video class="answer-file" controls preload="metadata" src="{film_url}">' in page
    heard = admin.get(voice_url)
    assert heard.status_code == 200 and heard.data == WAV and heard.mimetype == "audio/wav"
    part = admin.get(voice_url, headers={"Range": "bytes=0-3"})  # a player seeks
    assert part.status_code == 206 and part.data == b"RIFF"
    assert admin.get(f"/records/{item['id']}/files/{'0' * 64}").status_code == 404
    assert client.get(voice_url).status_code in (302, 401)  # staff only
    # The export links each file to that address.
    exported = admin.get(f"/reports/export/households.csv?form={FORM_ID}").get_data(as_text=True)
    assert f"{voice_url}" in exported and f"/files/{film_sha}" in exported
    # A film is no document: the file question takes at most 10 MB.
    result = client.post(
        "/api/v1/sync/push",
        json={"items": [push_item(phone, {"giay": film_sha, "loi_ke": "a" * 64})]},
        headers=phone["headers"],
    ).get_json()["results"][0]
    assert result["status"] == "rejected"
    assert result["errors"]["giay"][0]["code"] == "file_too_large"
    assert "10 MB" in result["errors"]["giay"][0]["en"]
    assert result["errors"]["loi_ke"][0]["code"] == "missing_blob"

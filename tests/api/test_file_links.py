"""A file answer (a recording, a film, a document) in the staff table and the OData feed is a
link to the record's file, not its hash: on the staff site ``/records/ID/files/SHA`` (behind
the login, audited), in OData the attachment's address as ODK Central's feed leads to one
(``/odata/FORM/submissions/ID/attachments/SHA``, read with the same token, audited). A
viewer's table and feed are pseudonymised: no file columns, so no address, and a viewer's
token opens no attachment."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urlsplit

from tests.api.test_form_media import FORM_ID, WAV, published, push_item, put_blob
from tests.api.test_odata import get, make_token, token_for
from tests.api.test_reports_dashboard import login_as

FILM = b"\0\0\0\x18ftypmp42" + b"v" * 4_000
DOCUMENT = b"%PDF-1.4 a household's paper"
TABLE = f"/reports/table?form={FORM_ID}&col=viec&col=loi_ke&col=phim&col=giay"
FEED = f"/odata/{FORM_ID}.svc/Submissions"


def a_record_with_files(admin: Any, client: Any, phone: dict[str, Any]) -> dict[str, str]:
    """A record of the media form answering with a recording, a film and a document: its id
    and each file's hash."""
    published(admin)
    shas = {}
    for name, body in (("loi_ke", WAV), ("phim", FILM), ("giay", DOCUMENT)):
        shas[name], response = put_blob(client, phone, body)
        assert response.status_code == 201, response.get_json()
    item = push_item(phone, {"viec": "vneid", **shas})
    result = client.post("/api/v1/sync/push", json={"items": [item]}, headers=phone["headers"])
    assert result.get_json()["results"][0]["status"] == "applied", result.get_json()
    return {"id": item["id"], **shas}


def audited_files(db: Any, username: str) -> list[tuple[str, str]]:
    return [
        (r["target"], r["detail"])
        for r in db.execute(
            "SELECT target, detail FROM audit_log WHERE username = ? AND action = 'view_record'",
            [username],
        )
    ]


def test_the_staff_table_links_each_file_answer_to_the_records_file(
    admin: Any, app: Any, client: Any, db: Any, phone: dict[str, Any]
) -> None:
    made = a_record_with_files(admin, client, phone)
    reviewer = app.test_client()
    user = login_as(reviewer, db, "reviewer")
    page = reviewer.get(TABLE)
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    links = dict(
        (html.unescape(text), urlsplit(html.unescape(href)).path)
        for href, text in re.findall(r'<td><a href="([^"]+)">([^<]+)</a></td>', body)
    )
    base = f"/records/{made['id']}/files"
    assert links == {
        "Ghi âm": f"{base}/{made['loi_ke']}",
        "Phim": f"{base}/{made['phim']}",
        "Tệp": f"{base}/{made['giay']}",
    }
    assert made["phim"] not in re.sub(r'href="[^"]+"', "", body)  # no bare hash in a cell
    opened = reviewer.get(links["Phim"])
    assert opened.status_code == 200 and opened.data == FILM
    assert (made["id"], f"file {made['phim']}") in audited_files(db, user["username"])
    # The view as CSV gives the address itself.
    csv = reviewer.get(TABLE.replace("/reports/table?", "/reports/table.csv?")).get_data(
        as_text=True
    )
    assert f"{base}/{made['loi_ke']}" in csv and f"{base}/{made['giay']}" in csv

    # A viewer's table is pseudonymised: no file column, no link, no hash.
    viewer = app.test_client()
    login_as(viewer, db, "viewer")
    seen = viewer.get(TABLE)
    assert seen.status_code == 200
    text = seen.get_data(as_text=True)
    assert "/files/" not in text and all(made[k] not in text for k in ("loi_ke", "phim", "giay"))
    assert viewer.get(links["Phim"]).status_code in (302, 403, 404)


def test_the_odata_feed_gives_each_file_as_its_attachments_address(
    admin: Any, app: Any, client: Any, db: Any, phone: dict[str, Any]
) -> None:
    made = a_record_with_files(admin, client, phone)
    analyst = app.test_client()
    token, user = token_for(analyst, db, "reviewer")
    response = get(analyst, token, FEED)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    (row,) = response.get_json()["value"]
    base = f"/odata/{FORM_ID}/submissions/{made['id']}/attachments"
    for name in ("loi_ke", "phim", "giay"):
        assert row[name].startswith("http") and urlsplit(row[name]).path == f"{base}/{made[name]}"
    assert row["viec"] == "vneid"

    # The address opens with the feed's token (Power BI sends it again) and nothing else.
    path = urlsplit(row["loi_ke"]).path
    heard = get(analyst, token, path)
    assert heard.status_code == 200 and heard.data == WAV and heard.mimetype == "audio/wav"
    assert heard.headers["Cache-Control"] == "no-store"
    assert (made["id"], f"file {made['loi_ke']}") in [
        (target, detail.split(" (")[0]) for target, detail in audited_files(db, user["username"])
    ]
    assert client.get(path).status_code == 401
    assert get(analyst, "gca_" + "x" * 40, path).status_code == 401
    other = f"{base}/{'0' * 64}"
    assert get(analyst, token, other).status_code == 404
    # A file the record does not name is not its attachment, even when the server holds it.
    stranger, response = put_blob(client, phone, b"another household's photo")
    assert response.status_code == 201
    assert get(analyst, token, f"{base}/{stranger}").status_code == 404
    # The address names the record's own form: under another form's feed it is not found.
    elsewhere = path.replace(f"/odata/{FORM_ID}/", "/odata/household_survey/", 1)
    assert elsewhere != path and get(analyst, token, elsewhere).status_code == 404

    # A viewer's feed is pseudonymised: no file columns, so no address to personal data, and
    # a viewer's token opens no attachment even given the address.
    viewer = app.test_client()
    login_as(viewer, db, "viewer")
    viewer_token = make_token(viewer)
    feed = get(viewer, viewer_token, FEED)
    assert feed.status_code == 200
    (seen,) = feed.get_json()["value"]
    text = feed.get_data(as_text=True)
    assert not {"loi_ke", "phim", "giay"} & set(seen)
    assert "/attachments/" not in text and all(made[k] not in text for k in ("loi_ke", "phim"))
    assert get(viewer, viewer_token, path).status_code == 404

"""Every answer is text: script and HTML payloads sent through a record, a comment, a
village name and an imported file come back escaped on every staff page."""

from __future__ import annotations

import io
import json
import uuid

from markupsafe import escape

from tests.api.test_review_helpers import CSRF, post, push, staff, text_of
from tests.records import adult, household_data, record

SCRIPT = '<script>alert("gocua")</script>'
IMAGE = '"><img src=x onerror=alert(1)>'
LINK = "<a href='javascript:alert(2)'>bấm</a>"
PAYLOADS = (SCRIPT, IMAGE, LINK)


def assert_escaped(page: str, *expected: str) -> None:
    for payload in PAYLOADS:
        assert payload not in page
    for payload in expected:
        assert str(escape(payload)) in page, payload


def test_payloads_come_back_escaped_on_every_page(client, app, phone, db):
    village = phone["villages"][0]["id"]
    data = household_data(
        head_name=SCRIPT,
        respondent_name=IMAGE,
        address=LINK,
        notes=SCRIPT + IMAGE,
        members=[adult(SCRIPT, 1980), adult(LINK, 1982, relation="spouse")],
    )
    item = record(village, str(uuid.uuid4()), data=data)
    push(client, phone, item)
    staff(client, app)
    post(
        client,
        f"/records/{item['id']}/review",
        review_state="has_issues",
        rev=item["rev"],
        comment=IMAGE,
    )
    post(client, f"/records/{item['id']}/edit", rev=item["rev"], **{"q:address": SCRIPT})
    mine = {
        **item,
        "rev": str(uuid.uuid4()),
        "base_rev": item["rev"],
        "data": {**data, "head_name": LINK},
    }
    push(client, phone, mine)  # a conflict with the staff edit
    post(client, f"/villages/{village}/rename", name=IMAGE)
    household = item["household_id"]

    pages = {
        "list": client.get("/"),
        "record": client.get(f"/records/{item['id']}"),
        "record_en": client.get(f"/records/{item['id']}?lang=en"),
        "edit": client.get(f"/records/{item['id']}/edit"),
        "conflict": client.get(f"/records/{item['id']}/conflicts/{mine['rev']}"),
        "household": client.get(f"/households/{household}"),
        "households": client.get(f"/households?village={village}"),
        "followups": client.get(f"/followups?village={village}"),
        "villages": client.get("/villages"),
        "people": client.get("/people?q=script"),
    }
    for name, response in pages.items():
        assert response.status_code == 200, name
        assert_escaped(text_of(response))
    assert_escaped(text_of(pages["record"]), SCRIPT, IMAGE, LINK)  # answers, comment, diff
    assert_escaped(text_of(pages["edit"]), SCRIPT, IMAGE, LINK)
    assert_escaped(text_of(pages["conflict"]), SCRIPT, LINK)
    assert_escaped(text_of(pages["list"]), SCRIPT, IMAGE)  # head name, village name
    assert_escaped(text_of(pages["people"]), SCRIPT)

    bad_village = post(client, "/villages", name=SCRIPT)
    assert bad_village.status_code == 302
    duplicate = post(client, "/villages", name=SCRIPT)
    assert duplicate.status_code == 400
    assert_escaped(text_of(duplicate), SCRIPT)

    csv = f"village,head_name,address\n{IMAGE.replace(chr(34), '')},{SCRIPT},x\n"
    read = client.post(
        "/households/import",
        data={"csrf_token": CSRF, "file": (io.BytesIO(csv.encode()), "a.csv")},
        content_type="multipart/form-data",
    )
    preview = text_of(client.get(read.headers["Location"]))
    assert_escaped(preview, SCRIPT)
    assert SCRIPT not in preview and "<img src=x" not in preview

    backup = {
        "format": "gocua-backup",
        "version": 1,
        "device_id": phone["device_id"],
        "user": {"id": phone["user"]["id"], "username": phone["user"]["username"]},
        "records": [{**record(village), "id": SCRIPT}],
    }
    answer = client.post(
        "/backups",
        data={"csrf_token": CSRF, "file": (io.BytesIO(json.dumps(backup).encode()), "b.json")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 200
    assert_escaped(text_of(answer), SCRIPT)

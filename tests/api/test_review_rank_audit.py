"""A record with a rank and an audit log on the staff pages: the record page reads the order
as places and labels and links the log, the edit page reorders by places, and OData gives the
order as ODK writes it."""

from __future__ import annotations

import hashlib
import json

from markupsafe import escape

from schemas.form import Form
from server.domain.db import write_transaction
from server.domain.forms import install_form
from tests.api.test_odata import make_token, rows
from tests.api.test_review_helpers import post, push, staff, text_of
from tests.records import record

DEFINITION = {
    "settings": {"form_id": "xep_hang", "version": "1", "default_language": "vi"},
    "survey": [
        {"type": "rank cay", "name": "cay", "label": "Cây trồng", "required": "yes"},
        {"type": "audit", "name": "audit", "parameters": "track-changes=true"},
    ],
    "choices": [
        {"list_name": "cay", "name": "lua", "label": "Lúa"},
        {"list_name": "cay", "name": "ngo", "label": "Ngô"},
        {"list_name": "cay", "name": "dau", "label": "Đậu"},
    ],
}
LOG = b"event,node,start,end,old-value,new-value\nform start,,1,,,\nform finalize,,2,,,\n"


def test_a_rank_is_read_and_reordered_by_staff_and_its_audit_log_is_linked(client, app, phone, db):
    with write_transaction(db):
        install_form(db, DEFINITION)
    sha = hashlib.sha256(LOG).hexdigest()
    put = client.put(f"/api/v1/blobs/{sha}", data=LOG, headers=phone["headers"])
    assert put.status_code in (200, 201)
    data = {"cay": ["dau", "lua", "ngo"], "audit": sha}
    item = record(phone["villages"][0]["id"], data=data, form=Form(DEFINITION))
    assert [r["status"] for r in push(client, phone, item)] == ["applied"]
    staff(client, app)
    page = text_of(client.get(f"/records/{item['id']}"))
    assert escape("1. Đậu, 2. Lúa, 3. Ngô") in page
    assert f'href="/records/{item["id"]}/files/{sha}" download="audit.csv"' in page
    got = client.get(f"/records/{item['id']}/files/{sha}")
    assert got.status_code == 200 and got.data == LOG
    edit = text_of(client.get(f"/records/{item['id']}/edit"))
    assert 'name="q:cay:dau" min="1" max="3" step="1" inputmode="numeric" value="1"' in edit
    assert 'name="q:audit' not in edit  # the log is the phone's, never typed
    # Ngô put first.
    places = {"q:cay:present": "1", "q:cay:dau": "1", "q:cay:lua": "2", "q:cay:ngo": "1"}
    saved = post(client, f"/records/{item['id']}/edit", rev=item["rev"], **places)
    assert saved.status_code == 302
    stored = json.loads(
        db.execute("SELECT answers(data) FROM records WHERE id = ?", [item["id"]]).fetchone()[0]
    )
    assert stored == {"cay": ["ngo", "dau", "lua"], "audit": sha}
    # A word for a place, or a choice left without one: refused in the catalogue's words.
    (rev,) = db.execute("SELECT rev FROM records WHERE id = ?", [item["id"]]).fetchone()
    word = {"q:cay:present": "1", "q:cay:lua": "1", "q:cay:dau": "2", "q:cay:ngo": "x"}
    refused = post(client, f"/records/{item['id']}/edit", rev=rev, **word)
    assert refused.status_code == 422
    superscript = {**word, "q:cay:ngo": "²"}  # Unicode calls it a digit; int() does not
    assert post(client, f"/records/{item['id']}/edit", rev=rev, **superscript).status_code == 422
    left_out = {"q:cay:present": "1", "q:cay:lua": "1", "q:cay:dau": "2", "q:cay:ngo": ""}
    refused = post(client, f"/records/{item['id']}/edit", rev=rev, **left_out)
    assert refused.status_code == 422
    assert escape("Hãy xếp thứ tự tất cả các lựa chọn, mỗi lựa chọn một lần.") in text_of(refused)
    assert db.execute("SELECT rev FROM records WHERE id = ?", [item["id"]]).fetchone()[0] == rev
    # OData gives ODK's string, the names in the order now stored.
    token = make_token(client)
    (row,) = rows(client, token, "/odata/xep_hang.svc/Submissions")
    assert row["cay"] == "ngo dau lua"

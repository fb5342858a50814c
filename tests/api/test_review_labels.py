"""${name} references in a form's words on the staff pages: the record page, the edit form and
the conflict page fill them in from the record, in both languages, and escape what they insert."""

from __future__ import annotations

import uuid

from markupsafe import escape

from schemas.form import Form
from server.domain.db import write_transaction
from server.domain.forms import install_form
from tests.api.test_review_helpers import post, push, staff, text_of
from tests.records import record

VI, EN = "label::Tiếng Việt (vi)", "label::English (en)"
SCRIPT = "<script>alert(1)</script>"
DEFINITION = {
    "settings": {
        "form_id": "nhan_tham_chieu",
        "version": "1",
        "default_language": "Tiếng Việt (vi)",
    },
    "survey": [
        {"type": "text", "name": "head_name", VI: "Họ tên chủ hộ", EN: "Head's name"},
        {
            "type": "text",
            "name": "phone",
            VI: "Số điện thoại của ${head_name}",
            EN: "${head_name}'s phone",
        },
        {
            "type": "select_one whose",
            "name": "answered_by",
            VI: "Ai trả lời thay ${head_name}?",
            EN: "Who answers for ${head_name}?",
        },
        {
            "type": "begin_group",
            "name": "home",
            VI: "Nhà của ${head_name}",
            EN: "${head_name}'s home",
        },
        {"type": "integer", "name": "rooms", VI: "Số phòng", EN: "Rooms"},
        {"type": "end_group"},
        {"type": "begin_repeat", "name": "members", VI: "Thành viên", EN: "Member"},
        {"type": "text", "name": "member_name", VI: "Họ tên", EN: "Name"},
        {
            "type": "integer",
            "name": "age",
            VI: "Tuổi của ${member_name}",
            EN: "Age of ${member_name}",
        },
        {"type": "end_repeat"},
    ],
    "choices": [
        {
            "list_name": "whose",
            "name": "head",
            VI: "Chủ hộ ${head_name}",
            EN: "The head, ${head_name}",
        },
        {"list_name": "whose", "name": "other", VI: "Người khác", EN: "Someone else"},
    ],
}


def pushed(client, app, phone, db, **answers):
    with write_transaction(db):
        form: Form = install_form(db, DEFINITION)[0]
    data = {
        "head_name": "Lan",
        "phone": "0912",
        "answered_by": "head",
        "rooms": 3,
        "members": [{"member_name": "An", "age": 40}, {"member_name": "Bình", "age": 12}],
    }
    data.update(answers)
    item = record(phone["villages"][0]["id"], form=form, data=data)
    push(client, phone, item)
    staff(client, app)
    return item


def test_the_record_page_fills_references_in_labels(client, app, phone, db):
    item = pushed(client, app, phone, db)
    page = text_of(client.get(f"/records/{item['id']}"))
    assert "${" not in page
    assert "<dt>Số điện thoại của Lan</dt>" in page
    assert "<dt>Ai trả lời thay Lan?</dt>" in page
    assert "Nhà của Lan" in page  # the group's title
    assert "<dd>Chủ hộ Lan</dd>" in page  # a chosen answer's label names the head too
    # Each member's block names that member in its questions.
    assert "<dt>Tuổi của An</dt><dd>40</dd>" in page
    assert "<dt>Tuổi của Bình</dt><dd>12</dd>" in page
    english = text_of(client.get(f"/records/{item['id']}?lang=en"))
    assert "<dt>Lan&#39;s phone</dt>" in english and "${" not in english


def test_the_record_page_escapes_what_it_fills_in(client, app, phone, db):
    item = pushed(client, app, phone, db, head_name=SCRIPT)
    page = text_of(client.get(f"/records/{item['id']}"))
    assert SCRIPT not in page
    assert f"<dt>Số điện thoại của {escape(SCRIPT)}</dt>" in page


def test_the_edit_form_fills_references_per_member(client, app, phone, db):
    item = pushed(client, app, phone, db)
    page = text_of(client.get(f"/records/{item['id']}/edit"))
    assert "${" not in page
    assert "Số điện thoại của Lan" in page and "Chủ hộ Lan" in page
    assert "Tuổi của An" in page and "Tuổi của Bình" in page


def test_the_conflict_page_fills_references(client, app, phone, db):
    item = pushed(client, app, phone, db)
    post(client, f"/records/{item['id']}/edit", rev=item["rev"], **{"q:phone": "0913"})
    mine = {
        **item,
        "rev": str(uuid.uuid4()),
        "base_rev": item["rev"],
        "data": {**item["data"], "phone": "0914"},
    }
    push(client, phone, mine)
    page = text_of(client.get(f"/records/{item['id']}/conflicts/{mine['rev']}"))
    assert "${" not in page
    assert "Số điện thoại của Lan" in page

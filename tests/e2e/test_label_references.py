"""${name} references in a form's words, on the phone: filled in from the answers, again after
an answer changes, per repeat instance, in both languages, and always as text."""

from __future__ import annotations

import json

import pytest

from tests.e2e.collector import Collector
from tests.e2e.conftest import expect

pytestmark = pytest.mark.e2e
VI, EN = "label::Tiếng Việt (vi)", "label::English (en)"
FORM = {
    "settings": {
        "form_id": "label_refs",
        "version": "1",
        "form_title": "Nhãn có tham chiếu",
        "default_language": "Tiếng Việt (vi)",
    },
    "survey": [
        {"type": "text", "name": "head_name", VI: "Họ tên chủ hộ", EN: "Head's name"},
        {"type": "integer", "name": "size", VI: "Số người", EN: "People"},
        {
            "type": "note",
            "name": "greeting",
            VI: "Xin chào ${head_name}",
            EN: "Hello ${head_name}",
            "hint::Tiếng Việt (vi)": "Hộ của ${head_name}: ${size} người",
            "hint::English (en)": "${head_name}'s household: ${size} people",
        },
        {"type": "select_one whose", "name": "answered_by", VI: "Ai trả lời?", EN: "Who answers?"},
        {
            "type": "begin_repeat",
            "name": "members",
            VI: "Thành viên ${member_name}",
            EN: "Member ${member_name}",
        },
        {"type": "text", "name": "member_name", VI: "Họ tên", EN: "Name"},
        {
            "type": "begin_group",
            "name": "digital",
            VI: "Kỹ năng số của ${member_name}",
            EN: "Digital skills of ${member_name}",
        },
        {
            "type": "select_one yes_no",
            "name": "uses_internet",
            VI: "${member_name} có dùng Internet không?",
            EN: "Does ${member_name} use the Internet?",
        },
        {"type": "end_group"},
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
        {"list_name": "yes_no", "name": "yes", VI: "Có", EN: "Yes"},
        {"list_name": "yes_no", "name": "no", VI: "Không", EN: "No"},
    ],
}


def test_references_in_labels_hints_and_repeat_headings_follow_the_answers(
    server, phone_page, tmp_path
):
    path = tmp_path / "label_refs.json"
    path.write_text(json.dumps(FORM, ensure_ascii=False), encoding="utf-8")
    server.cli("form", "import", str(path))
    page = phone_page
    app = Collector(page)
    app.enroll(server.cli("enroll").strip().splitlines()[-1])
    head = app.households().first.locator(".name").inner_text()
    app.households().first.click()
    page.locator('#choose-form [data-form="label_refs"]').click()
    page.locator("#finalize").wait_for()

    greeting = app.question("greeting")
    # head_name starts as the register's name for the household (README: Forms).
    expect(greeting.locator("label")).to_have_text(f"Xin chào {head}")
    app.type("head_name", "")
    expect(greeting.locator("label")).to_have_text("Xin chào ")  # no answer: empty
    app.type("head_name", "Lan")
    app.type("size", 3)
    expect(greeting.locator("label")).to_have_text("Xin chào Lan")
    expect(greeting.locator(".hint")).to_have_text("Hộ của Lan: 3 người")
    expect(app.question("answered_by").locator("label.choice").first).to_have_text("Chủ hộ Lan")

    # Changed, the answer changes every text that names it; markup in it stays text.
    app.type("head_name", "<b>Mai</b>")
    expect(greeting.locator("label")).to_have_text("Xin chào <b>Mai</b>")
    expect(greeting.locator(".hint")).to_have_text("Hộ của <b>Mai</b>: 3 người")
    expect(app.question("answered_by").locator("label.choice").first).to_have_text(
        "Chủ hộ <b>Mai</b>"
    )
    assert greeting.locator("b").count() == 0

    # Each member's heading, group and question name that member.
    members = page.locator('.repeat[data-name="members"]')
    app.add("members")
    app.type("members[0].member_name", "An")
    app.add("members")
    app.type("members[1].member_name", "Bình")
    first, second = members.locator(".instance").nth(0), members.locator(".instance").nth(1)
    expect(first.locator("h4")).to_have_text("Thành viên An 1")
    expect(second.locator("h4")).to_have_text("Thành viên Bình 2")
    expect(second.locator('[data-name="digital"] > legend')).to_have_text("Kỹ năng số của Bình")
    expect(app.question("members[1].uses_internet").locator("label.label")).to_have_text(
        "Bình có dùng Internet không?"
    )
    expect(members.locator("h3")).to_have_text("Thành viên ")  # shared by every member

    app.type("members[0].member_name", "Ân")
    expect(first.locator("h4")).to_have_text("Thành viên Ân 1")
    expect(first.locator('[data-name="digital"] > legend')).to_have_text("Kỹ năng số của Ân")
    expect(second.locator("h4")).to_have_text("Thành viên Bình 2")

    # The other language fills its own words the same way.
    page.locator("#lang").click()
    expect(greeting.locator("label")).to_have_text("Hello <b>Mai</b>")
    expect(greeting.locator(".hint")).to_have_text("<b>Mai</b>'s household: 3 people")
    expect(members.locator(".instance").nth(1).locator("h4")).to_have_text("Member Bình 2")

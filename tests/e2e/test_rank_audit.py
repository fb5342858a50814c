"""A form with a rank question and an audit log, imported from a workbook, filled on the phone
and synced: the volunteer orders the choices with the move buttons, and the server holds that
order and the phone's audit.csv, its events in ODK's columns, linked from the record page."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from server.domain import answers as stored_answers
from server.domain.db import connect
from tests.e2e.collector import Collector
from tests.e2e.conftest import expect, phone_context, screenshot
from tests.e2e.test_accessibility import assert_accessible, axe_violations
from tests.loop_forms import EN, VI, write_workbook

pytestmark = pytest.mark.e2e


def rank_workbook(path: Path) -> Path:
    return write_workbook(
        path,
        {
            "survey": [
                {"type": "text", "name": "ghi_chu", VI: "Ghi chú", EN: "Note"},
                {
                    "type": "rank cay",
                    "name": "cay",
                    VI: "Xếp cây trồng theo thu nhập",
                    EN: "Rank the crops by income",
                    "required": "yes",
                },
                {"type": "audit", "name": "audit", "parameters": "track-changes=true"},
            ],
            "choices": [
                {"list_name": "cay", "name": "lua", VI: "Lúa", EN: "Rice"},
                {"list_name": "cay", "name": "ngo", VI: "Ngô", EN: "Maize"},
                {"list_name": "cay", "name": "dau", VI: "Đậu", EN: "Beans"},
            ],
            "settings": [{"form_id": "xep_hang", "version": "1"}],
        },
    )


def test_a_rank_ordered_with_buttons_and_the_audit_log_reach_the_server(
    browser, server, tmp_path: Path
):
    server.cli("form", "import", str(rank_workbook(tmp_path / "xep.xlsx")))
    page = phone_context(browser).new_page()
    app = Collector(page)
    app.enroll(server.cli("enroll").strip().splitlines()[-1])
    app.households().first.click()
    page.locator('#choose-form [data-form="xep_hang"]').click()
    page.locator("#finalize").wait_for()

    note = app.reveal("ghi_chu").locator("input")
    note.click()
    note.fill("Nhà 3 gian")
    note.dispatch_event("change")

    question = app.reveal("cay")
    box = question.locator(".rank-box")
    items = question.locator(".rank-item")
    # The list's own order is shown, and is no answer until she moves one or keeps it.
    expect(box).to_have_class(re.compile(r"\bunanswered\b"))
    expect(question.locator(".rank-state")).to_contain_text("Chưa trả lời")
    expect(items).to_have_count(3)
    assert [items.nth(i).get_attribute("data-choice") for i in range(3)] == ["lua", "ngo", "dau"]
    expect(question.locator(".rank-clear")).to_be_hidden()
    lua_down = question.locator('[data-choice="lua"] [data-move="down"]')
    expect(lua_down).to_have_attribute("aria-label", "Chuyển Lúa xuống")
    lua_down.click()
    expect(question.locator(".rank-state")).to_have_text("Lúa nay ở vị trí 2 trên 3.")
    expect(box).not_to_have_class(re.compile(r"\bunanswered\b"))
    # Focus follows the moved choice, so a second tap moves it on.
    focused = page.evaluate("document.activeElement.closest('.rank-item').dataset.choice")
    assert focused == "lua"
    question.locator('[data-choice="dau"] [data-move="up"]').click()
    expect(question.locator(".rank-state")).to_have_text("Đậu nay ở vị trí 2 trên 3.")
    expect(items.first).to_have_attribute("data-choice", "ngo")
    assert [items.nth(i).get_attribute("data-choice") for i in range(3)] == ["ngo", "dau", "lua"]
    expect(question.locator(".rank-number").first).to_have_text("1.")
    # The first can go no higher, the last no lower.
    expect(question.locator('[data-choice="ngo"] [data-move="up"]')).to_be_disabled()
    expect(question.locator('[data-choice="lua"] [data-move="down"]')).to_be_disabled()
    screenshot(page, "rank-question")
    assert_accessible("a rank question", axe_violations(page))

    # In English the same order, in English words; the log goes on, no resume in it.
    app.wait_saved()
    page.locator("#lang").click()
    question = app.reveal("cay")
    expect(question.locator(".rank-label")).to_have_text(["Maize", "Beans", "Rice"])
    expect(question.locator('[data-choice="lua"] [data-move="up"]')).to_have_attribute(
        "aria-label", "Move Rice up"
    )
    app.finalize()
    page.locator("#sync").click()
    page.locator("#record-list .pill.state-synced").wait_for()
    page.context.close()

    with connect(server.data_dir / "gocua.db") as db:
        (record_id, raw) = db.execute(
            "SELECT id, data FROM records WHERE form_id = 'xep_hang'"
        ).fetchone()
    data = stored_answers.load(raw)
    assert data["cay"] == ["ngo", "dau", "lua"]
    assert data["ghi_chu"] == "Nhà 3 gian"
    sha = data["audit"]
    log = (server.data_dir / "blobs" / sha[:2] / sha).read_text("utf-8")
    rows = list(csv.DictReader(io.StringIO(log)))
    assert list(rows[0]) == ["event", "node", "start", "end", "old-value", "new-value"]
    events = [row["event"] for row in rows]
    assert events[0] == "form start" and "form resume" not in events
    assert events[-3:] == ["form save", "form finalize", "form exit"]
    questions = {row["node"]: row for row in rows if row["event"] == "question"}
    typed = questions["/data/ghi_chu"]
    assert (typed["old-value"], typed["new-value"]) == ("", "Nhà 3 gian")
    assert int(typed["start"]) <= int(typed["end"])
    ranked = questions["/data/cay"]
    assert ranked["new-value"] == "ngo dau lua"
    assert int(ranked["start"]) >= int(rows[0]["start"])

    # The staff record page shows the order and links the log.
    password = server.add_staff(
        "add", "duyet.xephang", "--name", "Chị Duyệt", "--role", "reviewer", "--commune", "99999"
    )
    staff = browser.new_context().new_page()
    staff.goto(f"{server.base}/login")
    staff.fill("input[name=username]", "duyet.xephang")
    staff.fill("input[name=password]", password)
    staff.click("button[type=submit]")
    staff.goto(f"{server.base}/records/{record_id}")
    expect(staff.locator("body")).to_contain_text("1. Ngô, 2. Đậu, 3. Lúa")
    link = staff.locator('a.answer-file[download="audit.csv"]')
    expect(link).to_have_attribute("href", f"/records/{record_id}/files/{sha}")
    got = staff.request.get(f"{server.base}/records/{record_id}/files/{sha}")
    assert got.ok and got.text() == log
    staff.context.close()

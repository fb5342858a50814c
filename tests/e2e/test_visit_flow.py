"""The visit as volunteers found it on a real day: the village, the place in the form, what is
already known, who was helped, what is missing and the keyboard, each kept across reloads."""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
import pytest

from tests.e2e.collector import Collector
from tests.e2e.conftest import expect, screenshot
from tests.server_process import ServerProcess

pytestmark = pytest.mark.e2e


def enrolled(server: ServerProcess, page) -> Collector:
    app = Collector(page)
    app.enroll(server.cli("enroll").strip().splitlines()[-1])
    return app


def test_the_chosen_village_is_kept_when_the_app_opens_again(server, phone_page):
    page = phone_page
    app = enrolled(server, page)
    chips = page.locator("nav.villages button")
    expect(chips).to_have_count(2)  # the demo volunteer's villages
    expect(chips.first).to_have_attribute("aria-pressed", "true")
    chosen = chips.nth(1)
    name = chosen.inner_text()
    chosen.click()
    expect(page.locator('nav.villages button[aria-pressed="true"]')).to_have_text(name)
    first_household = app.households().first.get_attribute("data-household")

    page.reload()
    expect(page.locator('nav.villages button[aria-pressed="true"]')).to_have_text(name)
    expect(app.households().first).to_have_attribute("data-household", first_household)


def test_number_questions_open_the_number_keyboard(server, phone_page):
    app = enrolled(server, phone_page)
    app.open_household()
    app.choose("outcome", "completed")
    app.choose("consent", "yes")
    expect(app.reveal("phone").locator("input")).to_have_attribute("inputmode", "tel")
    expect(app.question("residents").locator("input")).to_have_attribute("inputmode", "numeric")
    expect(app.question("head_name").locator("input")).not_to_have_attribute("inputmode", "numeric")
    app.type("residents", 1)
    expect(app.reveal("members[0].birth_year").locator("input")).to_have_attribute(
        "inputmode", "numeric"
    )


def step_title(page) -> str:
    return page.locator("#step-title").inner_text()


def test_a_reload_and_a_reopened_draft_return_to_the_same_part(server, phone_page):
    page = phone_page
    app = enrolled(server, page)
    app.open_household()
    app.choose("outcome", "completed")
    app.choose("consent", "yes")
    app.type("respondent_name", "Trần Văn Hùng")
    app.type("residents", 2)  # part B
    app.type("members[1].member_name", "Lê Thị Lan")  # part C, the second member
    app.wait_saved()
    where = step_title(page)
    assert where.startswith("Phần 3/")

    page.reload()
    expect(page.locator("#step-title")).to_have_text(where)
    member = app.question("members[1].member_name")
    expect(member).to_be_visible()
    expect(member.locator("input")).to_have_value("Lê Thị Lan")
    expect(member).to_be_in_viewport()

    page.locator("#prev").click()  # part B now
    where = step_title(page)
    page.locator("#back").click()
    app.record_rows().first.click()  # the draft, from the list
    expect(page.locator("#step-title")).to_have_text(where)

    page.locator("#back").click()
    app.record_rows().first.wait_for()
    page.reload()  # the visit was closed: the app opens on the home screen
    app.households().first.wait_for()
    expect(page.locator("#finalize")).to_have_count(0)


def focused_path(page) -> str | None:
    return page.evaluate("document.activeElement?.closest('[data-path]')?.dataset.path ?? null")


def test_next_tells_what_the_part_misses_and_finalize_lists_every_problem(server, phone_page):
    page = phone_page
    app = enrolled(server, page)
    app.open_household()
    app.choose("outcome", "completed")
    app.choose("consent", "yes")
    first = step_title(page)

    page.locator("#next").click()  # the respondent's name is required and empty
    notice = page.locator("#part-missing")
    expect(notice).to_be_visible()
    expect(notice.locator("[data-goto]")).to_have_count(1)
    expect(notice.locator('[data-goto="respondent_name"]')).to_be_visible()
    expect(app.question("respondent_name")).to_have_class(re.compile(r"\binvalid\b"))
    assert step_title(page) == first  # told, not moved
    screenshot(page, "visit-part-missing")
    notice.locator('[data-goto="respondent_name"]').click()
    assert focused_path(page) == "respondent_name"
    page.locator("#next").click()  # told once: the volunteer may go on and answer later
    expect(page.locator("#step-title")).not_to_have_text(first)
    expect(notice).to_be_hidden()

    app.type("residents", 2)
    page.locator("#finalize").click()
    summary = page.locator("#summary")
    expect(summary).to_be_visible()
    count = summary.locator("li").count()
    assert count > 8  # more than the eight the list once stopped at
    expect(summary.locator("p").first).to_contain_text(f"Còn {count} câu")
    items = summary.locator("li [data-goto]")
    paths = [items.nth(i).get_attribute("data-goto") for i in range(items.count())]
    assert len(paths) == count
    screenshot(page, "visit-finalize-missing")
    assert "respondent_name" in paths and "members[1].sex" in paths  # repeats counted too
    summary.locator('[data-goto="members[1].sex"]').click()
    sex = app.question("members[1].sex")
    expect(sex).to_be_in_viewport()
    assert focused_path(page) == "members[1].sex"


RECORDS = """async () => {
  const db = await new Promise((ok) => {
    const q = indexedDB.open('gocua');
    q.onsuccess = () => ok(q.result);
  });
  return new Promise((ok) => {
    const q = db.transaction('records').objectStore('records').getAll();
    q.onsuccess = () => ok(q.result);
  });
}"""


def choice_labels(question) -> list[str]:
    return [text.strip() for text in question.locator("label.choice").all_inner_texts()]


def test_the_member_helped_is_picked_by_name(server, phone_page):
    page = phone_page
    app = enrolled(server, page)
    app.open_household()
    app.choose("outcome", "completed")
    app.choose("consent", "yes")
    app.type("residents", 3)
    app.type("members[0].member_name", "Nguyễn Thị Hoa")
    app.type("members[2].member_name", "Nguyễn Văn Nam")  # the second not named yet
    app.choose("support_given", "yes")
    app.add("support")
    helped = app.reveal("support[0].support_member")
    expect(helped.locator("label.choice")).to_have_count(3)
    assert choice_labels(helped) == ["Nguyễn Thị Hoa", "Thành viên 2", "Nguyễn Văn Nam"]
    screenshot(page, "visit-member-by-name")
    app.choose("support[0].support_member", "3")

    page.locator("#prev").click()  # the second member gets a name: the choice follows
    app.type("members[1].member_name", "Nguyễn Thị Bé")
    app.reveal("support[0].support_member")
    expect(helped.locator("label.choice").nth(1)).to_have_text("Nguyễn Thị Bé")
    assert app.checked("support[0].support_member") == ["3"]
    app.wait_saved()
    (record,) = page.evaluate(RECORDS)
    assert record["data"]["support"][0]["support_member"] == 3  # the answer stays the number

    page.locator("#lang").click()
    expect(page.locator("#step-title")).to_contain_text("E. Support")  # still on its part
    page.locator("#prev").click()
    app.type("members[1].member_name", "")
    expect(app.reveal("support[0].support_member").locator("label.choice").nth(1)).to_have_text(
        "Member 2"
    )


def test_the_household_s_name_and_address_are_the_first_answers(server, phone_page):
    page = phone_page
    app = enrolled(server, page)
    row = app.households().first
    head, address = row.locator(".name").inner_text(), row.locator(".sub").inner_text()
    app.open_household()
    app.choose("outcome", "completed")
    app.choose("consent", "yes")
    assert app.value("head_name") == head  # from the register, still editable
    assert address.startswith(app.value("address")) and app.value("address")
    app.type("head_name", "Nguyễn Văn Sáng")  # the volunteer's own answer stands ...
    app.type("address", "")  # ... an emptied one too
    app.type("residents", 1)
    app.wait_saved()
    page.reload()
    assert app.value("head_name") == "Nguyễn Văn Sáng" and app.value("address") == ""

    page.locator("#back").click()
    page.locator("#add-household").click()  # a household met on the lane
    page.locator("#new-head").fill("Lò Thị Mai")
    page.locator("#new-address").fill("Bản Pá, nhà sàn cuối")
    page.locator("#sheet-ok").click()
    app.choose("outcome", "completed")
    app.choose("consent", "yes")
    assert app.value("head_name") == "Lò Thị Mai"
    assert app.value("address") == "Bản Pá, nhà sàn cuối"


def small_workbook(path: Path) -> Path:
    """Another commune's own form: Vietnamese names, its own repeat, numbers of every kind."""
    book = openpyxl.Workbook()
    survey = book.active
    survey.title = "survey"
    for line in [
        ("type", "name", "label", "relevant", "constraint", "appearance"),
        ("select_one co_khong", "gap", "Gặp được chủ hộ?", None, None, None),
        ("begin_group", "thong_tin", "Thông tin", "${gap} = 'co'", None, None),
        ("text", "chu_ho", "Chủ hộ", None, None, None),
        ("text", "dia_chi", "Địa chỉ", None, None, None),
        ("text", "so_dien_thoai", "Số điện thoại", None, None, None),
        ("text", "so_nha", "Số nhà", None, None, "numbers"),
        ("decimal", "dien_tich", "Diện tích (m²)", None, None, None),
        ("end_group", None, None, None, None, None),
        ("begin_repeat", "nguoi", "Người", "${gap} = 'co'", None, None),
        ("text", "ten", "Tên", None, None, None),
        ("end_repeat", None, None, None, None, None),
        ("integer", "nguoi_giup", "Ai được giúp?", None, ". >= 1 and . <= count(${nguoi})", None),
    ]:
        survey.append(line)
    choices = book.create_sheet("choices")
    for line in [
        ("list_name", "name", "label"),
        ("co_khong", "co", "Có"),
        ("co_khong", "khong", "Không"),
    ]:
        choices.append(line)
    settings = book.create_sheet("settings")
    settings.append(("form_id", "version", "form_title"))
    settings.append(("ho_nho", "1", "Phiếu nhỏ"))
    book.save(path)
    return path


def test_any_form_gets_the_household_the_keyboards_and_the_names(server, phone_page, tmp_path):
    server.cli("form", "import", str(small_workbook(tmp_path / "ho_nho.xlsx")))
    page = phone_page
    app = enrolled(server, page)
    row = app.households().first
    head = row.locator(".name").inner_text()
    row.click()
    page.locator('#choose-form [data-form="ho_nho"]').click()
    page.locator("#finalize").wait_for()
    expect(app.question("chu_ho")).to_be_hidden()
    app.choose("gap", "co")
    assert app.value("chu_ho") == head and app.value("dia_chi")
    expect(app.question("so_dien_thoai").locator("input")).to_have_attribute("inputmode", "tel")
    expect(app.question("so_nha").locator("input")).to_have_attribute("inputmode", "numeric")
    expect(app.question("dien_tich").locator("input")).to_have_attribute("inputmode", "decimal")
    app.add("nguoi")
    app.add("nguoi")
    app.type("nguoi[1].ten", "Lò Văn Sáng")
    helped = app.reveal("nguoi_giup")
    assert choice_labels(helped) == ["Thành viên 1", "Lò Văn Sáng"]
    app.choose("nguoi_giup", "2")
    app.wait_saved()
    record = next(r for r in page.evaluate(RECORDS) if r["form_id"] == "ho_nho")
    assert record["data"]["chu_ho"] == head and record["data"]["nguoi_giup"] == 2

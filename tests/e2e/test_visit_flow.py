"""The visit as volunteers found it on a real day: the village, the place in the form, what is
already known, who was helped, what is missing and the keyboard, each kept across reloads."""

from __future__ import annotations

import re

import pytest

from tests.e2e.collector import Collector
from tests.e2e.conftest import expect
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

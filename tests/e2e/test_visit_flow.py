"""The visit as volunteers found it on a real day: the village, the place in the form, what is
already known, who was helped, what is missing and the keyboard, each kept across reloads."""

from __future__ import annotations

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

"""The household search on the phone: typed one key at a time, it answers every keystroke and
keeps the volunteer in the box; a long village shows its first rows and more on request."""

from __future__ import annotations

import pytest

from schemas.text import fold
from server.domain.db import connect, write_transaction
from server.domain.register import add_household
from tests.e2e.collector import Collector
from tests.e2e.conftest import expect

pytestmark = pytest.mark.e2e

PAGE = 12  # pwa/js/screens/home.js: PAGE
PEOPLE = ["Lê Văn Cường", "Nguyễn Thị Hoa", "Trần Cương", "Phạm Thị Dung", "Lê Thị Lan"]


def in_east(server, count: int) -> list[dict]:
    """``count`` more households in Thôn Đông; every household of the village."""
    with connect(server.data_dir / "gocua.db") as db:
        (east,) = db.execute("SELECT id FROM villages WHERE name = 'Thôn Đông'").fetchone()
        with write_transaction(db):
            for n in range(count):
                add_household(db, east, PEOPLE[n % len(PEOPLE)], f"Số {n + 1}, ngõ {n % 7}")
        return [
            dict(r) for r in db.execute("SELECT * FROM households WHERE village_id = ?", [east])
        ]


def east_on_the_phone(server, page) -> Collector:
    """A phone enrolled, showing Thôn Đông."""
    app = Collector(page)
    app.enroll(server.cli("enroll").strip().splitlines()[-1])
    page.locator("nav.villages button", has_text="Thôn Đông").click()
    return app


def test_typing_answers_each_key_and_keeps_the_focus(server, phone_page):
    texts = [fold(f"{r['head_name']} {r['address']} {r['code']}") for r in in_east(server, 120)]
    page, app = phone_page, east_on_the_phone(server, phone_page)

    # 122 households: the first PAGE drawn, then PAGE more at a time, on request.
    rows = app.households()
    expect(rows).to_have_count(PAGE)
    expect(page.locator("#household-list")).to_have_attribute("data-total", "122")
    more = page.locator("#more-households")
    more.click()
    expect(rows).to_have_count(2 * PAGE)
    expect(rows.nth(PAGE)).to_be_focused()  # where the new rows start
    for shown in range(3 * PAGE, 122, PAGE):
        more.click()
        expect(rows).to_have_count(shown)
    more.click()
    expect(rows).to_have_count(122)
    expect(more).to_have_count(0)

    box = page.locator("#search")
    box.click()
    for query in ("cuong", "le van", "so 5"):
        box.fill("")
        for end in range(1, len(query) + 1):
            page.keyboard.type(query[end - 1])
            wanted = sum(fold(query[:end]) in text for text in texts)
            expect(page.locator("#household-list")).to_have_attribute("data-total", str(wanted))
            expect(rows).to_have_count(min(wanted, PAGE))
            expect(box).to_be_focused()  # the phone's keyboard stays up
            expect(box).to_have_value(query[:end])
    expect(rows.first.locator(".sub")).to_contain_text("Số 5")


# Every row taken out of the list, or the list itself, from here on (pwa/js/screens/home.js
# redraws only the rows that change: a slow phone lays out each row it is given again).
WATCH = """() => {
  window.__removed = [];
  new MutationObserver((records) => records.forEach(
    (r) => window.__removed.push(...r.removedNodes))).observe(
    document.getElementById('main'), { childList: true, subtree: true });
}"""


def test_rows_that_still_match_stay_in_place(server, phone_page):
    """Typing "l" then "e": the rows matching both stay where they are; only what changes is
    drawn, in the order of the list."""
    with connect(server.data_dir / "gocua.db") as db:
        (east,) = db.execute("SELECT id FROM villages WHERE name = 'Thôn Đông'").fetchone()
        with write_transaction(db):
            for n in range(40):
                add_household(db, east, PEOPLE[n % len(PEOPLE)], f"Số {n + 1}")
    page, app = phone_page, Collector(phone_page)
    app.enroll(server.cli("enroll").strip().splitlines()[-1])
    page.locator("nav.villages button", has_text="Thôn Đông").click()
    box = page.locator("#search")
    box.click()
    page.keyboard.type("l")
    rows = app.households()
    expect(rows).to_have_count(PAGE)
    before = rows.evaluate_all("rows => rows.map((r) => r.dataset.household)")
    kept = [n for n, text in enumerate(rows.all_inner_texts()) if "le" in fold(text)]
    assert kept, "the households named Lê match both keys"
    page.evaluate(WATCH)
    page.keyboard.type("e")
    expect(box).to_have_value("le")
    for text in rows.all_inner_texts():
        assert "le" in fold(text)
    after = rows.evaluate_all("rows => rows.map((r) => r.dataset.household)")
    assert [before[n] for n in kept] == after[: len(kept)]
    gone = page.evaluate(
        "ids => window.__removed.filter((n) => n.id === 'household-list'"
        " || ids.includes(n.querySelector?.('[data-household]')?.dataset.household)).length",
        [before[n] for n in kept],
    )
    assert gone == 0, "rows that still match were taken out and drawn again"


def test_a_sync_keeps_the_rows_the_volunteer_asked_for(server, phone_page):
    in_east(server, 30)
    page, app = phone_page, east_on_the_phone(server, phone_page)
    rows = app.households()
    page.locator("#more-households").click()
    expect(rows).to_have_count(2 * PAGE)

    # A sync redraws the home as it starts and as it ends: neither folds the list back.
    held = []
    page.route("**/api/v1/sync/pull**", lambda route: held.append(route))
    with page.expect_request("**/api/v1/sync/pull**"):
        page.locator("#sync").click()
    expect(page.locator("#sync")).to_be_disabled()
    expect(rows).to_have_count(2 * PAGE)
    held[0].continue_()
    page.unroute("**/api/v1/sync/pull**")
    expect(page.locator("#sync")).to_be_enabled()
    expect(page.locator("#sync-notice")).to_be_visible()
    expect(rows).to_have_count(2 * PAGE)

"""A household met on the lane (*Thêm hộ mới*) whose visit ends at the door keeps its name and
address: on the register, and on the phone after the sync, online and offline alike."""

from __future__ import annotations

from datetime import date

import pytest

from schemas.text import fold
from server.domain.db import connect
from tests.e2e.collector import Collector
from tests.e2e.conftest import expect, screenshot
from tests.server_process import ServerProcess

pytestmark = pytest.mark.e2e


def stored(server: ServerProcess, sql: str, *params):
    with connect(server.data_dir / "gocua.db") as db:
        return db.execute(sql, params).fetchall()


def add_household(page, head_name: str, address: str) -> None:
    page.locator("#add-household").click()
    page.locator("#new-head").fill(head_name)
    page.locator("#new-address").fill(address)
    page.locator("#sheet-ok").click()
    page.locator("#finalize").wait_for()


def sync_and_check(
    server: ServerProcess, page, app: Collector, head_name: str, address: str, outcome: str
) -> None:
    page.locator("#sync").click()
    page.locator("#record-list .pill.state-synced").wait_for()
    page.locator("#safe").wait_for()  # the status comes after the pull
    page.locator("#sync:not([disabled])").wait_for()

    # The register holds the household with the name and address the volunteer typed.
    rows = stored(
        server,
        "SELECT h.id, h.code, h.head_name, h.address, r.outcome"
        " FROM households h JOIN records r ON r.household_id = h.id"
        " WHERE h.head_name = ?",
        head_name,
    )
    assert [row[2:] for row in rows] == [(head_name, address, outcome)]
    household_id, code = rows[0][:2]

    # The phone now holds the server's household (its code), still by the name it knows.
    row = page.locator(f'#household-list [data-household="{household_id}"]')
    expect(row.locator(".name")).to_have_text(head_name)
    expect(row.locator(".sub")).to_have_text(f"{address} · {code}")
    page.reload()  # what IndexedDB holds, not what the screen kept
    # Typed as on a phone without Vietnamese input: no tone marks, any case ("Lò" alone, folded
    # to "lo", would match every "Long" and "Lộc" of the demo village too).
    page.locator("#search").fill(fold(head_name).upper())
    expect(app.households()).to_have_count(1)
    expect(app.households().first).to_have_attribute("data-household", household_id)
    expect(app.households().first.locator(".name")).to_have_text(head_name)


def test_a_new_household_nobody_home_online_keeps_its_name(server, phone_page):
    page, app = phone_page, Collector(phone_page)
    app.enroll(server.cli("enroll").strip().splitlines()[-1])
    add_household(page, "Lò Thị Mai", "Bản Pá, nhà sàn cuối")
    app.choose("outcome", "nobody_home")
    app.finalize()
    sync_and_check(server, page, app, "Lò Thị Mai", "Bản Pá, nhà sàn cuối", "nobody_home")
    screenshot(page, "new-household-synced")


def test_a_new_household_come_back_offline_keeps_its_name(server, phone_page):
    page, app = phone_page, Collector(phone_page)
    app.enroll(server.cli("enroll").strip().splitlines()[-1])
    server.stop()
    page.reload()
    app.households().first.wait_for()  # the shell from the service worker
    add_household(page, "Vàng A Dính", "Xóm Đồi, cạnh trạm điện")
    app.choose("outcome", "come_back")
    app.type("revisit_date", date.today().isoformat())
    app.finalize()
    expect(page.locator("#badge")).to_have_text("1 phiếu chờ gửi")
    server.start()
    sync_and_check(server, page, app, "Vàng A Dính", "Xóm Đồi, cạnh trạm điện", "come_back")

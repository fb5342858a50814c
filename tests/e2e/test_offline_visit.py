"""The walking skeleton end to end: enroll, go offline, fill a household, come back, sync once."""

from __future__ import annotations

from datetime import date

import pytest

from server.domain.db import connect
from tests.e2e.collector import Collector, two_members
from tests.e2e.conftest import expect, screenshot

pytestmark = pytest.mark.e2e


def stored(server, sql: str, *params):
    with connect(server.data_dir / "gocua.db") as db:
        return [tuple(r) for r in db.execute(sql, params)]  # as tuples, to compare


def test_offline_household_visit_reaches_the_server_exactly_once(server, phone_page):
    page, app = phone_page, Collector(phone_page)
    url = server.cli("enroll").strip().splitlines()[-1]
    assert url.startswith(f"{server.base}/app/#enroll=")

    page.goto(url)
    app.households().first.wait_for()
    app.wait_controlled()
    screenshot(page, "home")

    server.stop()
    page.reload()
    app.households().first.wait_for()  # the shell from the service worker, the list from IndexedDB
    app.households().first.click()
    app.fill_household(two_members())
    assert app.question("members[0].age").count() == 0  # calculated, not asked
    page.locator("#finalize").click()
    app.record_rows().first.wait_for()
    screenshot(page, "finalized-offline")
    expect(page.locator("#badge")).to_have_text("1 phiếu chờ gửi")

    page.reload()
    row = app.record_rows().first
    row.wait_for()
    assert "state-finalized" in row.locator(".pill").get_attribute("class")
    record_id = row.get_attribute("data-record")

    server.start()
    page.locator("#sync").click()
    page.locator("#record-list .pill.state-synced").wait_for()
    page.locator("#safe").wait_for()
    assert stored(server, "SELECT count(*) FROM records WHERE id = ?", record_id) == [(1,)]
    members = stored(
        server,
        "SELECT json_array_length(answers(data), '$.members'),"
        " json_extract(answers(data), '$.members[0].age') FROM records WHERE id = ?",
        record_id,
    )
    assert members == [(2, date.today().year - 1980)]  # the age the phone calculated

    page.locator("#sync").click()
    page.locator("#sync:not([disabled])").wait_for()
    page.locator(".notice.ok").wait_for()
    assert stored(server, "SELECT count(*) FROM records WHERE id = ?", record_id) == [(1,)]
    assert stored(server, "SELECT count(*) FROM revisions WHERE record_id = ?", record_id) == [(1,)]
    expect(page.locator("#badge")).to_have_text("0 phiếu chờ gửi")
    screenshot(page, "synced")

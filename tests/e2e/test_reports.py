"""The reports in Chromium against a real server: a phone's records become the dashboard's
figures and bars, the choice of approved records works, and the report prints to A4."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
import requests

from tests.e2e.conftest import ARTIFACTS, screenshot
from tests.records import record
from tests.unit.test_indicators import A, C

pytestmark = pytest.mark.e2e


def wait_counted(page: Any) -> None:
    """Reload until the page says every record is counted: a report never counts, the server
    counts what it has not yet in the background, and the page says what still waits."""
    deadline = time.monotonic() + 30
    fresh = page.locator("#freshness")
    while fresh.get_attribute("data-pending") != "0" or fresh.get_attribute("data-recount") != "0":
        assert time.monotonic() < deadline, fresh.inner_text()
        page.reload()


def test_a_reviewer_reads_and_prints_the_report(server: Any, browser: Any) -> None:
    password = server.add_staff(
        "add", "bao.cao", "--name", "Cán bộ báo cáo", "--role", "reviewer", "--commune", "99999"
    )
    code = server.cli("enroll", "tnv.demo").strip().splitlines()[-1].split("#enroll=")[1]
    phone = requests.post(f"{server.base}/api/v1/enroll", json={"code": code}, timeout=30).json()
    village = phone["villages"][0]["id"]
    pushed = requests.post(
        f"{server.base}/api/v1/sync/push",
        timeout=30,
        headers={"Authorization": f"Bearer {phone['token']}"},
        json={"items": [record(village, data=A), record(village, data=C)]},
    )
    assert [r["status"] for r in pushed.json()["results"]] == ["applied", "applied"]

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{server.base}/login?next=/reports/")
    page.fill("input[name=username]", "bao.cao")
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/reports/"))
    wait_counted(page)
    # Household A alone: A1 is the one adult asked about phones, and has her own smartphone.
    row = page.locator("#indicator-smartphone_adults")
    assert row.locator(".pct").inner_text() == "100,0%"
    assert float(row.locator(".bar-fill").get_attribute("width")) == 100
    assert float(row.locator(".bar-target").get_attribute("x1")) == 80
    vneid = page.locator("#indicator-vneid_any")  # A1 level 2, A2 level 1, A3 none
    assert vneid.locator(".pct").inner_text() == "66,7%"
    assert page.locator("[data-figure=surveyed]").inner_text() == "1"
    screenshot(page, "reports-dashboard")

    page.check("input[name=approved][value='1']")
    page.click(".filters button[type=submit]")
    page.wait_for_url(re.compile(r"approved=1"))
    assert page.locator("[data-figure=surveyed]").inner_text() == "0"

    page.goto(f"{server.base}/reports/print")
    page.emulate_media(media="print")
    assert page.locator(".signatures").is_visible()
    assert page.locator("header.top").count() == 0 or not page.locator("header.top").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    pdf = page.pdf(path=str(ARTIFACTS / "reports-print.pdf"), format="A4")
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page") >= 2
    context.close()

"""The staff table in Chromium: clicking a column's heading sorts by it (Vietnamese order for
names, empty last), clicking again turns the order round, and the filter keeps the sort."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_review_office import Phone
from tests.records import household_data, record

pytestmark = pytest.mark.e2e


def names(page: Any) -> list[str]:
    index = page.locator("#submissions thead th").count() - 1  # the one question picked
    return [
        row.locator("td").nth(index).inner_text()
        for row in page.locator("#submissions tbody tr").all()
    ]


def test_a_reviewer_sorts_the_table_by_clicking_a_heading(server: Any, browser: Any) -> None:
    out = server.cli(
        "user", "add", "bang.phieu", "--name", "Cán bộ", "--role", "reviewer", "--commune", "99999"
    )
    password = re.search(r"password: (\S+)", out).group(1)
    phone = Phone(server)
    village = phone.villages["Thôn Đông"]
    heads = ["Đỗ Văn Em", "Ánh", "Dương Thị Bé", "An"]
    items = [record(village, data=household_data(head_name=h)) for h in heads]
    items.append(
        record(village, data={"start": "2026-11-20T08:00:00+07:00", "outcome": "nobody_home"})
    )
    assert set(phone.push(*items)) == {"applied"}

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{server.base}/login?next=/reports/table%3Fcol%3Dhead_name")
    page.fill("input[name=username]", "bang.phieu")
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/reports/table"))
    assert sorted(names(page)) == sorted([*heads, ""])  # arrival order (ties by id)

    heading = page.locator("th[data-column=head_name]")
    heading.locator("a").click()
    page.wait_for_url(re.compile(r"sort=head_name"))
    assert heading.get_attribute("aria-sort") == "ascending"
    assert names(page) == ["An", "Ánh", "Dương Thị Bé", "Đỗ Văn Em", ""]

    heading.locator("a").click()
    page.wait_for_url(re.compile(r"order=desc"))
    assert heading.get_attribute("aria-sort") == "descending"
    assert names(page) == ["Đỗ Văn Em", "Dương Thị Bé", "Ánh", "An", ""]

    # The filter's button keeps the sort, and the CSV of the view is in the same order.
    page.select_option("select[name=state]", "received")
    page.click("#table-view button[type=submit]:not([formaction])")
    page.wait_for_url(re.compile(r"state=received"))
    assert "sort=head_name" in page.url and "order=desc" in page.url
    assert names(page) == ["Đỗ Văn Em", "Dương Thị Bé", "Ánh", "An", ""]
    with page.expect_download() as download:
        page.click("#table-view button[formaction]")
    lines = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()[1:]
    assert [line.rsplit(",", 1)[-1] for line in lines] == [
        "Đỗ Văn Em",
        "Dương Thị Bé",
        "Ánh",
        "An",
        "",
    ]
    context.close()

"""The staff site in Chromium as commune staff use it: every page at a phone's 360 px with no
sideways scrolling of the page, a long name in an import preview at the desk's 1280 px, the
members of a record read down the page, and a "Cần sửa" without a comment that stays put."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import expect, screenshot
from tests.e2e.test_review_office import Phone, stored
from tests.records import adult, child, household_data, record
from tests.server_process import ServerProcess

pytestmark = pytest.mark.e2e

LONG_NAME = "Nguyễn" + "Văn" * 60  # no space to break at: 186 letters, under the 200 allowed


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("desk") / "server").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def accounts(office: ServerProcess) -> dict[str, str]:
    return {
        "canbo.ban": office.add_staff(
            "add", "canbo.ban", "--name", "Chị Ban", "--role", "admin", "--commune", "99999"
        ),
        "tinh.ban": office.add_staff(
            "add-province-admin", "tinh.ban", "--name", "Anh Tỉnh", "--province", "99"
        ),
    }


def _browser_at(browser: Any, office: ServerProcess, width: int, who: str, password: str) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 800}, locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{office.base}/login")
    page.fill("input[name=username]", who)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/(admin/communes|)$"))
    page.base = office.base
    return page


@pytest.fixture
def desk(browser: Any, office: ServerProcess, accounts: dict[str, str]) -> Iterator[Any]:
    page = _browser_at(browser, office, 1280, "canbo.ban", accounts["canbo.ban"])
    yield page
    page.context.close()


def sideways(page: Any) -> int:
    """How far the page itself scrolls sideways (0: it fits the window)."""
    return page.evaluate(
        "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - document.documentElement.clientWidth"
    )


def _pushed_record(office: ServerProcess, phone: Phone) -> dict[str, Any]:
    members = [
        adult("Nguyễn Thị Hoa", 1980),
        adult("Nguyễn Văn Hùng", 1978, relation="spouse", sex="male"),
        child("Nguyễn Văn Nam", 2016),
    ]
    item = record(phone.villages["Thôn Đông"], data=household_data(members=members))
    assert phone.push(item) == ["applied"]
    return item


def test_has_issues_without_a_comment_stays_on_the_record_and_says_why(desk, office):
    item = _pushed_record(office, Phone(office))
    desk.goto(f"{desk.base}/records/{item['id']}")
    desk.check("input[name=review_state][value=has_issues]")
    desk.click("#save-review")
    error = desk.locator("#comment-error")
    expect(error).to_have_text("Cần viết nhận xét để tình nguyện viên biết phải sửa gì.")
    assert desk.url.endswith(f"/records/{item['id']}/review")  # the form's answer, not a detour
    expect(desk.locator("input[name=review_state][value=has_issues]")).to_be_checked()
    expect(desk.locator("#review-comment")).to_be_focused()
    # Beside the field: right under the comment box.
    box, under = desk.locator("#review-comment").bounding_box(), error.bounding_box()
    assert 0 <= under["y"] - (box["y"] + box["height"]) < 40
    desk.fill("#review-comment", "Năm sinh của anh Hùng?")
    desk.click("#save-review")
    expect(desk.locator("#review-state")).to_have_text("Cần sửa")
    expect(desk.locator(".comments .comment")).to_have_text("Năm sinh của anh Hùng?")


def test_members_read_down_the_record_page_without_sideways_scrolling(desk, office):
    item = _pushed_record(office, Phone(office))
    desk.goto(f"{desk.base}/records/{item['id']}")
    blocks = desk.locator('.repeat[data-name="members"] .instance')
    expect(blocks).to_have_count(3)
    expect(blocks.nth(1).locator("h4")).to_contain_text("Nguyễn Văn Hùng")
    for index in range(3):
        block = blocks.nth(index).bounding_box()
        assert block["width"] <= 1280
    assert sideways(desk) == 0
    screenshot(desk, "desk-record-members")


def test_a_long_unbroken_name_in_an_import_preview_wraps(desk, office, tmp_path: Path):
    csv = tmp_path / "ho-dai.csv"
    csv.write_text(f"thon,chu_ho,dia_chi\nThôn Tây,{LONG_NAME},Bản trên\n", encoding="utf-8")
    desk.goto(f"{desk.base}/households/import")
    desk.set_input_files("input[type=file]", str(csv))
    desk.click("#import-form button[type=submit]")
    expect(desk.locator('tr[data-line="2"]')).to_have_class("ok")
    # The preview's row shows before its stylesheet has come; measured then, the page is laid
    # out without staff.css (a busy test machine made it 542 px too wide).
    desk.wait_for_load_state("load")
    assert sideways(desk) == 0
    screenshot(desk, "desk-import-long-name")


def _every_page(office: ServerProcess, desk: Any, tmp_path: Path) -> list[str]:
    """One address of every staff page a commune admin opens, with data to show on each."""
    phone = Phone(office)
    item = _pushed_record(office, phone)
    other = {**item, "rev": str(uuid.uuid4()), "base_rev": str(uuid.uuid4())}
    assert phone.push(other) == ["conflict"]
    village = phone.villages["Thôn Đông"]
    household = stored(office, "SELECT id FROM households WHERE village_id = ?", village)[0][0]
    volunteer = stored(office, "SELECT id FROM users WHERE username = 'tnv.demo'")[0][0]
    code = office.cli("enroll", "tnv.demo").strip().splitlines()[-1].split("#enroll=")[1]
    csv = tmp_path / "ho.csv"
    csv.write_text(f"thon,chu_ho,dia_chi\nThôn Tây,{LONG_NAME},Bản\nXóm Không,A,B\n", "utf-8")
    desk.goto(f"{desk.base}/households/import")
    desk.set_input_files("input[type=file]", str(csv))
    desk.click("#import-form button[type=submit]")
    desk.locator(".import-preview").wait_for()
    preview = desk.url.removeprefix(desk.base)
    return [
        "/",
        f"/?village={village}&state=corrected",
        f"/records/{item['id']}",
        f"/records/{item['id']}/edit",
        f"/records/{item['id']}/conflicts/{other['rev']}",
        "/villages",
        f"/households?village={village}",
        f"/households/{household}",
        "/households/import",
        preview,
        f"/followups?village={village}",
        "/people?q=Nguyen",
        "/backups",
        "/reports/",
        "/reports/print",
        "/reports/exports",
        "/odata/tokens",
        "/reports/table",
        "/admin/",
        "/admin/staff",
        "/admin/volunteers",
        f"/admin/volunteers/{volunteer}",
        f"/admin/volunteers/{volunteer}/enroll/{code}",
        "/admin/devices",
        "/admin/forms",
        "/admin/forms/ho_gia_dinh_cds",
        "/admin/print",
        f"/admin/print/labels?village={village}",
        "/admin/audit",
        "/account/password",
        "/no-such-page",
    ]


def test_every_staff_page_fits_a_360_px_screen(browser, office, accounts, desk, tmp_path):
    pages = _every_page(office, desk, tmp_path)
    narrow = _browser_at(browser, office, 360, "canbo.ban", accounts["canbo.ban"])
    province = _browser_at(browser, office, 360, "tinh.ban", accounts["tinh.ban"])
    anonymous = browser.new_context(viewport={"width": 360, "height": 800}).new_page()
    wide: list[str] = []
    try:
        visits = [(narrow, url) for url in pages]
        visits += [(province, "/admin/communes"), (province, "/reports/province")]
        visits += [(anonymous, "/login")]
        for page, url in visits:
            page.goto(f"{office.base}{url}")  # waits for the load event: styles applied
            if sideways(page) > 0:
                wide.append(f"{url}: {sideways(page)} px")
                screenshot(page, "narrow" + re.sub(r"[^a-z0-9]+", "-", url))
        # A wide table scrolls inside its own box instead.
        narrow.goto(f"{office.base}/admin/audit")
        scrolls = narrow.evaluate(
            "[...document.querySelectorAll('table')].some(t => t.scrollWidth > t.clientWidth"
            " && getComputedStyle(t).overflowX === 'auto')"
        )
    finally:
        for page in (narrow, province, anonymous):
            page.context.close()
    assert not wide, wide
    assert scrolls

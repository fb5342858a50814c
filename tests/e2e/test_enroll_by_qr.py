"""The commune admin puts a phone to work: a volunteer added in the browser, the enrollment QR
read off the screen by a QR decoder, opened on a phone, and the collector enrolled and synced."""

from __future__ import annotations

import pytest
from PIL import Image

from server.domain.db import connect
from tests.api.admin_helpers import read_qr_codes
from tests.e2e.conftest import ARTIFACTS, screenshot

pytestmark = pytest.mark.e2e


def stored(server, sql: str, *params):
    with connect(server.data_dir / "gocua.db") as db:
        return [tuple(r) for r in db.execute(sql, params)]  # as tuples, to compare


def test_the_admin_enrolls_a_volunteers_phone_by_qr(server, browser, phone_page):
    password = server.add_staff(
        "add", "quantri.e2e", "--name", "Quản trị E2E", "--role", "admin", "--commune", "99999"
    )
    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    admin = desk.new_page()
    admin.set_default_timeout(15_000)
    try:
        admin.goto(f"{server.base}/login?next=/admin/volunteers")
        admin.fill("input[name=username]", "quantri.e2e")
        admin.fill("input[name=password]", password)
        admin.click("button[type=submit]")
        form = admin.locator("#add-volunteer")
        form.wait_for()
        form.locator("input[name=display_name]").fill("Phạm Thị Hồng")
        form.locator("input[name=union][value=phunu]").check()
        form.locator("input[name=phone]").fill("0987 654 321")
        form.get_by_label("Thôn Bắc Sơn").check()
        form.locator("button[type=submit]").click()
        admin.locator("#new-code").click()
        qr = admin.locator("#enroll-qr")
        qr.wait_for()
        screenshot(admin, "admin-enroll-qr")
        src = server.base + qr.get_attribute("src")
        png = admin.request.get(src)
        assert png.ok and png.headers["content-type"] == "image/png"
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "enroll-qr.png").write_bytes(png.body())
        codes = read_qr_codes(Image.open(ARTIFACTS / "enroll-qr.png"))
        assert len(codes) == 1
        url = codes[0].text
        assert url.startswith(f"{server.base}/app/#enroll=")
        assert url == admin.locator("#enroll-url").inner_text()

        phone_page.goto(url)
        chips = phone_page.locator(".villages .chip")
        chips.first.wait_for()
        assert chips.all_inner_texts() == ["Thôn Bắc Sơn"]  # her village, and only hers
        screenshot(phone_page, "enrolled-by-qr")
        (user_id,) = stored(server, "SELECT id FROM users WHERE display_name = ?", "Phạm Thị Hồng")[
            0
        ]
        devices = stored(server, "SELECT id, last_seen_at FROM devices WHERE user_id = ?", user_id)
        assert len(devices) == 1 and devices[0][1]  # enrolled, and it synced

        admin.goto(f"{server.base}/admin/devices")
        row = admin.locator(f'tr[data-device="{devices[0][0]}"]')
        assert "Phạm Thị Hồng" in row.inner_text()
        assert admin.request.get(src).status == 404  # the code is used: no more drawing of it
    finally:
        desk.close()

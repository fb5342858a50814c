"""Revoking a phone asks first, in the page's language: the browser's confirm shows the
question, and only an accepted one revokes (the tokens' table is drawn by the same macro)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.test_accessibility import stored
from tests.e2e.test_review_office import Phone

pytestmark = pytest.mark.e2e


def test_revoking_a_phone_asks_first(server: Any, browser: Any) -> None:
    out = server.cli(
        "user", "add", "quan.tri", "--name", "Quản trị", "--role", "admin", "--commune", "99999"
    )
    password = re.search(r"password: (\S+)", out).group(1)
    Phone(server)
    ((device,),) = stored(server, "SELECT id FROM devices")
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{server.base}/login?next=/admin/devices")
    page.fill("input[name=username]", "quan.tri")
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/devices"))
    row = page.locator(f'tr[data-device="{device}"]')

    asked: list[str] = []

    def answer(dialog: Any, accept: bool) -> None:
        asked.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, False))
    row.locator("button.danger").click()
    assert asked == ["Thu hồi điện thoại này? Lần đồng bộ sau nó sẽ bị từ chối."]
    assert stored(server, "SELECT revoked_at FROM devices") == [(None,)]

    page.once("dialog", lambda dialog: answer(dialog, True))
    with page.expect_navigation():
        row.locator("button.danger").click()
    assert len(asked) == 2
    assert row.get_attribute("class") == "inactive"
    assert stored(server, "SELECT revoked_at IS NOT NULL FROM devices") == [(1,)]

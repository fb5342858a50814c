"""What the browser tests of imported forms do around the part each one tests: a phone
enrolled, the record the server stored, a staff member logged in on the office's screen."""

from __future__ import annotations

import re
from typing import Any

from server.domain import answers as stored_answers
from server.domain.db import connect
from tests.e2e.collector import Collector
from tests.e2e.conftest import phone_context


def enrolled(browser: Any, server: Any) -> Collector:
    """The collector on a new phone, enrolled with the demo volunteer's code."""
    app = Collector(phone_context(browser).new_page())
    app.enroll(server.cli("enroll").strip().splitlines()[-1])
    return app


def stored(server: Any, form_id: str) -> dict[str, Any]:
    """The record of this form the server holds: its ``id``, ``device_id`` and ``data``."""
    with connect(server.data_dir / "gocua.db") as db:
        row = db.execute(
            "SELECT id, device_id, data FROM records WHERE form_id = ?", [form_id]
        ).fetchone()
    assert row is not None, f"no record of {form_id}"
    return {"id": row[0], "device_id": row[1], "data": stored_answers.load(row[2])}


def staff_page(browser: Any, server: Any) -> Any:
    """A commune admin's page on a desktop screen, past the first login."""
    password = server.add_staff(
        "add", "canbo.ban", "--name", "Chị Ban", "--role", "admin", "--commune", "99999"
    )
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(f"{server.base}/login")
    page.fill("input[name=username]", "canbo.ban")
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/(admin/communes|)$"))
    return page

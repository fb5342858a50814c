"""A record sent back by the commune office reaches the phone, is corrected, and approved."""

from __future__ import annotations

import re

import pytest
import requests

from server.domain.db import connect
from tests.e2e.collector import Collector
from tests.e2e.conftest import expect
from tests.server_process import ServerProcess

pytestmark = pytest.mark.e2e


class Office:
    """The commune clerk at her desk, through the staff site's forms."""

    def __init__(self, server: ServerProcess) -> None:
        self.base = server.base
        self.http = requests.Session()
        password = server.cli("user", "reset-password", "admin").split("password:")[1].strip()
        page = self.http.get(f"{self.base}/login").text
        response = self.http.post(
            f"{self.base}/login",
            allow_redirects=False,
            data={"username": "admin", "password": password, "csrf_token": self._csrf(page)},
        )
        assert response.status_code == 302
        # A reset password, from the command line as on the admin page, must be changed first.
        assert (
            self.http.get(f"{self.base}/", allow_redirects=False)
            .headers["Location"]
            .endswith("/account/password")
        )
        form = self.http.get(f"{self.base}/account/password").text
        new = "canbo-xa-minh-hoa-2026"
        done = self.http.post(
            f"{self.base}/account/password",
            data={"current": password, "new": new, "confirm": new, "csrf_token": self._csrf(form)},
        )
        assert done.status_code == 200

    @staticmethod
    def _csrf(html: str) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)

    def decide(self, record_id: str, state: str, comment: str = "") -> None:
        page = self.http.get(f"{self.base}/records/{record_id}").text
        rev = re.search(r'name="rev" value="([^"]+)"', page).group(1)
        response = self.http.post(
            f"{self.base}/records/{record_id}/review",
            data={
                "csrf_token": self._csrf(page),
                "rev": rev,
                "review_state": state,
                "comment": comment,
            },
            allow_redirects=False,
        )
        assert response.status_code == 302, response.text


def test_has_issues_reaches_the_phone_the_fix_comes_back_and_is_approved(server, phone_page):
    page, app = phone_page, Collector(phone_page)
    app.enroll(server.cli("enroll").strip().splitlines()[-1])
    app.open_household()
    app.choose("outcome", "come_back")
    app.type("revisit_date", "2030-01-15")
    app.finalize()
    page.locator("#record-list .pill.state-synced").wait_for()
    record_id = app.record_rows().first.get_attribute("data-record")

    office = Office(server)
    office.decide(record_id, "has_issues", "Ngày hẹn có đúng không? Hãy kiểm tra lại.")
    page.locator("#sync").click()
    row = page.locator(f'[data-record="{record_id}"]')
    expect(row.locator(".pill")).to_have_class(re.compile("state-has_issues"))

    row.click()
    expect(page.locator("#review-comment")).to_contain_text("Ngày hẹn có đúng không?")
    app.type("revisit_date", "2030-01-16")
    page.locator("#finalize").click()
    expect(row.locator(".pill")).to_have_class(re.compile("state-synced"))
    with connect(server.data_dir / "gocua.db") as db:
        revisions = db.execute(
            "SELECT status FROM revisions WHERE record_id = ? ORDER BY received_at", [record_id]
        ).fetchall()
        current = db.execute(
            "SELECT review_state, json_extract(answers(data), '$.revisit_date')"
            " AS revisit_date FROM records WHERE id = ?",
            [record_id],
        ).fetchone()
    assert [r[0] for r in revisions] == ["superseded", "current"]
    assert dict(current) == {"review_state": "received", "revisit_date": "2030-01-16"}

    office.decide(record_id, "approved")
    page.locator("#sync").click()
    expect(row.locator(".pill")).to_have_class(re.compile("state-approved"))

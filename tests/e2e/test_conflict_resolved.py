"""The phone whose revision lost a conflict leaves "Xung đột" once the office settles it, and
follows the record's later decisions."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from server.domain.db import connect
from sync.client import SyncClient
from tests.e2e.collector import Collector
from tests.e2e.conftest import expect
from tests.e2e.test_review_roundtrip import Office
from tests.server_process import ServerProcess

pytestmark = pytest.mark.e2e


def resolve(office: Office, record_id: str, conflict_rev: str, choice: str) -> None:
    path = f"{office.base}/records/{record_id}/conflicts/{conflict_rev}"
    page = office.http.get(path).text
    response = office.http.post(
        path,
        data={
            "csrf_token": office._csrf(page),
            "rev": re.search(r'name="rev" value="([^"]+)"', page).group(1),
            "choice": choice,
        },
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text


def current(server: ServerProcess, record_id: str) -> dict:
    with connect(server.data_dir / "gocua.db") as db:
        row = db.execute(
            "SELECT id, rev, form_id, form_version, household_id, village_id,"
            " answers(data) AS data, meta FROM records WHERE id = ?",
            [record_id],
        ).fetchone()
    return {**dict(row), "data": json.loads(row["data"]), "meta": json.loads(row["meta"])}


def test_the_losing_phone_leaves_conflict_when_the_office_keeps_the_other_version(
    server, phone_page
):
    page, app = phone_page, Collector(phone_page)
    app.enroll(server.cli("enroll").strip().splitlines()[-1])
    app.open_household()
    app.choose("outcome", "come_back")
    app.type("revisit_date", "2030-01-15")
    app.finalize()
    page.locator("#record-list .pill.state-synced").wait_for()
    record_id = app.record_rows().first.get_attribute("data-record")
    row = page.locator(f'[data-record="{record_id}"]')

    office = Office(server)
    office.decide(record_id, "has_issues", "Ngày hẹn có đúng không?")
    page.locator("#sync").click()
    expect(row.locator(".pill")).to_have_class(re.compile("state-has_issues"))

    # The volunteer's other phone sends its own correction of the same revision first.
    other = SyncClient(server.base)
    other.enroll(server.cli("enroll").strip().splitlines()[-1].split("#enroll=")[1])
    sent = current(server, record_id)
    kept = {
        **sent,
        "rev": str(uuid.uuid4()),
        "base_rev": sent["rev"],
        "data": {**sent["data"], "revisit_date": "2030-02-01"},
    }
    assert [r["status"] for r in other.push([kept])] == ["applied"]

    row.click()
    app.type("revisit_date", "2030-01-16")
    page.locator("#finalize").click()
    expect(row.locator(".pill")).to_have_class(re.compile("state-conflict"))
    expect(row.locator(".pill")).to_have_text("Xung đột")
    with connect(server.data_dir / "gocua.db") as db:
        (lost,) = db.execute(
            "SELECT rev FROM revisions WHERE record_id = ? AND status = 'conflict'", [record_id]
        ).fetchone()

    resolve(office, record_id, lost, "current")
    page.locator("#sync").click()
    expect(row.locator(".pill")).to_have_class(re.compile("state-resolved"))
    expect(row.locator(".pill")).to_have_text("Đã xử lý: xã giữ bản khác")
    row.click()
    # The phone shows the answers the office kept, and keeps its own aside.
    assert app.value("revisit_date") == "2030-02-01"
    stored = page.evaluate(
        """(id) => new Promise((done) => {
            const open = indexedDB.open('gocua');
            open.onsuccess = () => {
                const get = open.result.transaction('records').objectStore('records').get(id);
                get.onsuccess = () => done(get.result);
            };
        })""",
        record_id,
    )
    assert stored["rev"] == kept["rev"] and stored["set_aside"]["rev"] == lost
    assert stored["set_aside"]["data"]["revisit_date"] == "2030-01-16"
    page.locator("#back").click()

    # A later decision is about the kept revision: it reaches this phone now.
    office.decide(record_id, "approved")
    page.locator("#sync").click()
    expect(row.locator(".pill")).to_have_class(re.compile("state-approved"))

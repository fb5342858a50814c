"""The volunteer's collector on a 360×640 phone: the whole survey, never losing an answer."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from schemas.form import Form
from server.domain.db import connect
from tests.e2e.collector import Collector
from tests.e2e.conftest import expect, screenshot
from tests.records import adult
from tests.server_process import ServerProcess

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
YEAR = date.today().year  # the phone calculates ages from its own date


def stored(server: ServerProcess, sql: str, *params):
    with connect(server.data_dir / "gocua.db") as db:
        return [tuple(r) for r in db.execute(sql, params)]  # as tuples, to compare


def enrolled(server: ServerProcess, page) -> Collector:
    app = Collector(page)
    app.enroll(server.cli("enroll").strip().splitlines()[-1])
    return app


def six_members() -> list[dict]:
    teen = {
        "member_name": "Trần Thị Mai",
        "relation": "child",
        "sex": "female",
        "birth_year": YEAR - 14,
        "answered_by": "self",
        "vneid_level": "level1",
        "vneid_login": "no",
    }
    small = {
        "member_name": "Trần Văn Bi",
        "relation": "child",
        "sex": "male",
        "birth_year": YEAR - 9,
        "answered_by": "proxy",
    }
    baby = {
        "member_name": "Trần Thị Na",
        "relation": "grandchild",
        "sex": "female",
        "birth_year": YEAR - 2,
        "answered_by": "proxy",
    }
    away = {
        "member_name": "Trần Văn Ông",
        "relation": "parent",
        "sex": "male",
        "birth_year": YEAR - 76,
        "answered_by": "absent",
    }
    return [
        adult("Trần Văn Hùng", YEAR - 45, "head", "male"),
        adult("Lê Thị Lan", YEAR - 41, "spouse", "female"),
        teen,
        small,
        baby,
        away,
    ]


def test_the_whole_survey_with_six_members_in_both_languages(server, phone_page):
    page = phone_page
    app = enrolled(server, page)
    app.open_household()
    screenshot(page, "form-part-a")
    members = six_members()
    app.choose("outcome", "completed")
    app.choose("consent", "yes")
    app.type("respondent_name", "Trần Văn Hùng")
    app.type("head_name", "Trần Văn Hùng")
    app.type("address", "Xóm 2, cạnh giếng làng")

    page.locator("#lang").click()  # half way through, the volunteer switches to English
    form = Form.load()
    expect(app.reveal("head_name").locator(".label")).to_contain_text(
        form.label(form.nodes["head_name"], "en")
    )
    assert app.value("head_name") == "Trần Văn Hùng"  # nothing lost by switching

    app.type("residents", len(members))
    app.choose("devices", "smartphone", "computer")
    app.choose("internet", "none")
    app.choose("no_internet_reason", "cost")  # asked only because there is no Internet
    app.choose("zalo_group", "yes")
    app.choose("sells_online", "yes")
    app.choose("accepts_qr", "yes")  # asked only because the household sells online
    for index, member in enumerate(members):
        app.fill_member(index, member)
    screenshot(page, "form-members")
    # Skip logic per member: a 14-year-old is asked about VNeID only, a child nothing more,
    # an absent member nothing more.
    expect(app.question("members[2].vneid_level")).to_be_visible()
    expect(app.question("members[2].phone_access")).to_be_hidden()
    expect(app.question("members[3].vneid_level")).to_be_hidden()
    expect(app.question("members[5].phone_access")).to_be_hidden()
    app.choose("support_given", "yes")
    app.add("support")
    app.choose("support[0].support_member", "3")  # picked by name, stored as the number
    app.choose("support[0].support_actions", "install_vneid", "scam_warning")
    app.choose("support[0].support_result", "done")
    page.locator("#lang").click()  # back to Vietnamese for the end
    app.finalize()
    page.locator("#sync").click()
    page.locator("#record-list .pill.state-synced").wait_for()
    screenshot(page, "home-synced")

    (data,) = stored(server, "SELECT answers(data) FROM records")[0]
    data = json.loads(data)
    assert [m["member_name"] for m in data["members"]] == [m["member_name"] for m in members]
    assert data["members"][2]["age"] == 14 and data["members"][2]["vneid_level"] == "level1"
    assert "phone_access" not in data["members"][3]
    assert data["no_internet_reason"] == ["cost"] and data["accepts_qr"] == "yes"
    assert data["support"][0]["support_actions"] == ["install_vneid", "scam_warning"]
    assert data["support"][0]["support_member"] == 3


def test_a_visit_that_ends_at_the_door_asks_nothing_more(server, phone_page):
    app = enrolled(server, phone_page)
    # In the lane, out of signal: a retry of a slow first sync cannot send the visit before
    # the badge is read.
    phone_page.context.set_offline(True)
    app.open_household()
    app.choose("outcome", "nobody_home")
    expect(app.question("consent")).to_be_hidden()
    expect(phone_page.locator("#next")).to_be_disabled()  # no later part applies
    app.finalize()
    expect(phone_page.locator("#badge")).to_have_text("1 phiếu chờ gửi")


def test_the_first_visit_fetches_the_page_once(server, phone_page):
    fetched: list[str] = []
    phone_page.context.on("request", lambda request: fetched.append(request.url))
    enrolled(server, phone_page)  # the service worker installed: every file it keeps is kept
    assert any(url.endswith("/app/js/form.js") for url in fetched)  # it was watched
    assert not any(url.endswith("/app/index.html") for url in fetched)


def test_answers_survive_reload_and_closing_the_app_mid_form(server, phone_page, browser):
    page = phone_page
    app = enrolled(server, page)
    app.open_household()
    app.choose("outcome", "completed")
    app.choose("consent", "yes")
    app.type("respondent_name", "Phạm Thị Dung")
    app.type("head_name", "Phạm Thị Dung")
    app.type("residents", 2)
    app.type("members[1].member_name", "Phạm Văn Tí")
    app.wait_saved()

    page.reload()  # the open record comes back by itself
    expect(app.question("members[1].member_name")).to_be_visible()
    assert app.value("members[1].member_name") == "Phạm Văn Tí"
    assert app.value("residents") == "2"

    again = page.context.new_page()  # the app closed and opened again
    page.close()
    again.goto(f"{server.base}/app/")
    reopened = Collector(again)
    expect(reopened.question("members[1].member_name")).to_be_visible()
    assert reopened.value("head_name") == "Phạm Thị Dung"
    assert reopened.checked("consent") == ["yes"]
    assert reopened.value("members[1].member_name") == "Phạm Văn Tí"


def test_the_app_killed_while_the_server_applies_a_push_loses_and_repeats_nothing(
    server, phone_page
):
    page = phone_page
    app = enrolled(server, page)
    applied, signal = [], {"cut_after_applying": False}

    def push_route(route):
        if not signal["cut_after_applying"]:
            route.abort()  # no signal in the lane yet
            return
        applied.append(route.fetch().status)  # the server stores the batch ...
        route.abort()  # ... and the answer never reaches the phone

    page.route("**/api/v1/sync/push", push_route)
    for index in (0, 1, 0):  # the demo village lists two households; one is visited twice
        app.open_household(index)
        app.choose("outcome", "nobody_home")
        app.finalize()
    ids = [app.record_rows().nth(i).get_attribute("data-record") for i in range(3)]
    expect(page.locator("#badge")).to_have_text("3 phiếu chờ gửi")

    signal["cut_after_applying"] = True
    page.locator("#sync:not([disabled])").click()
    page.wait_for_event("requestfailed", lambda r: "sync/push" in r.url and applied)
    assert applied[0] == 200
    assert stored(server, "SELECT count(*) FROM records")[0][0] == 3

    reopened = page.context.new_page()  # the app was killed; the volunteer opens it again
    page.close()
    reopened.goto(f"{server.base}/app/")
    again = Collector(reopened)
    reopened.locator("#record-list .pill.state-synced").nth(2).wait_for()
    assert sorted(r[0] for r in stored(server, "SELECT id FROM records")) == sorted(ids)
    assert stored(server, "SELECT count(*) FROM revisions")[0][0] == 3
    assert again.record_rows().count() == 3


def test_a_new_version_waits_while_a_form_is_open(tmp_path, browser):
    shell = tmp_path / "pwa"
    shutil.copytree(ROOT / "pwa", shell)
    server = ServerProcess(tmp_path / "data", extra_env={"GOCUA_PWA_DIR": str(shell)}).start()
    try:
        context = browser.new_context(viewport={"width": 360, "height": 640})
        page = context.new_page()
        app = enrolled(server, page)
        before = page.evaluate("caches.keys()")
        app.open_household()
        app.choose("outcome", "completed")
        app.choose("consent", "yes")
        app.type("respondent_name", "Võ Thị Hạnh")

        with (shell / "app.css").open("a") as css:
            css.write("\n/* a new version */\n")
        page.evaluate("navigator.serviceWorker.getRegistration().then(r => r.update())")
        page.get_by_text("Có phiên bản mới").wait_for()  # said, not applied
        assert app.value("respondent_name") == "Võ Thị Hạnh"

        page.locator("#back").click()  # the form is closed: now the update applies
        page.wait_for_function(
            f"caches.keys().then(k => k.length === 1 && k[0] !== {json.dumps(before[0])})"
        )
        page.locator("#record-list").wait_for()
        app.record_rows().first.click()
        assert app.value("respondent_name") == "Võ Thị Hạnh"
        context.close()
    finally:
        server.stop()


def test_backup_file_restores_the_same_records_on_another_phone(
    server, phone_page, browser, tmp_path
):
    page = phone_page
    app = enrolled(server, page)
    server.stop()  # out of signal: records pile up on the phone
    for index in range(2):
        app.open_household(index)
        app.choose("outcome", "come_back")
        app.type("revisit_date", date.today().isoformat())
        app.finalize()
    app.open_household(0)  # a second visit, left as a draft
    app.choose("outcome", "completed")
    page.locator("#back").click()
    assert (
        page.evaluate("""new Promise(r => { const q = indexedDB.open('gocua');
        q.onsuccess = () => q.result.transaction('kv').objectStore('kv').get('persist_asked')
          .onsuccess = (e) => r(e.target.result && e.target.result.value); })""")
        is True
    )
    with page.expect_download() as download:
        page.locator("#backup").click()
    path = tmp_path / "backup.json"
    download.value.save_as(path)
    backup = json.loads(path.read_text())
    assert backup["format"] == "gocua-backup" and len(backup["local"]) == 3
    assert len(backup["records"]) == 2  # the two finalized ones can be imported by staff
    mine = sorted((r["id"], r["state"]) for r in backup["local"])

    server.start()
    other = browser.new_context(viewport={"width": 360, "height": 640}).new_page()
    second = enrolled(server, other)
    other.locator("#restore-file").set_input_files(str(path))
    other.locator("#record-list [data-record]").nth(2).wait_for()
    rows = other.locator("#record-list [data-record]")
    restored = sorted(
        (
            rows.nth(i).get_attribute("data-record"),
            rows.nth(i).locator(".pill").get_attribute("class").split("state-")[1],
        )
        for i in range(rows.count())
    )
    assert restored == mine
    assert second.record_rows().count() == 3


def test_a_revoked_phone_says_so_and_still_saves_its_backup(server, phone_page, tmp_path):
    page = phone_page
    app = enrolled(server, page)
    server.stop()
    app.open_household()
    app.choose("outcome", "nobody_home")
    app.finalize()
    with connect(server.data_dir / "gocua.db") as db, db.conn:
        db.execute("UPDATE devices SET revoked_at = '2026-11-23T00:00:00Z'")
    server.start()
    page.context.set_offline(True)  # the phone finds signal again: the app syncs by itself
    page.context.set_offline(False)
    expect(page.locator("#revoked")).to_contain_text("không còn được phép đồng bộ", timeout=30_000)
    expect(page.locator("#sync")).to_be_disabled()
    expect(page.locator("#badge")).to_have_text("1 phiếu chờ gửi")  # the record stays on the phone
    with page.expect_download() as download:
        page.locator("#revoked button").click()
    download.value.save_as(tmp_path / "backup.json")
    backup = json.loads((tmp_path / "backup.json").read_text())
    assert [r["data"]["outcome"] for r in backup["records"]] == ["nobody_home"]

"""The odd questions an ODK form brings, filled on the phone and synced: an OpenMapKit (osm)
question answered with the .osm file a mapping app saved, and a select ... or_other whose name
is in two groups, each 'other' answer under its own key."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.domain import answers as stored_answers
from server.domain.db import connect
from tests.e2e.collector import Collector
from tests.e2e.conftest import expect, phone_context, screenshot
from tests.loop_forms import OSM_FILE, osm_workbook

pytestmark = pytest.mark.e2e


def test_an_osm_file_and_two_other_answers_from_the_phone_to_the_server(
    browser, server, tmp_path: Path
):
    server.cli("form", "import", str(osm_workbook(tmp_path / "odd.xlsx")))
    page = phone_context(browser).new_page()
    app = Collector(page)
    app.enroll(server.cli("enroll").strip().splitlines()[-1])
    app.households().first.click()
    page.locator('#choose-form [data-form="odd_questions"]').click()
    page.locator("#finalize").wait_for()
    app.type("head", "Lan")

    house = app.reveal("house")
    # The tags the form asks for, in the phone's language, so the volunteer sets them.
    expect(house).to_contain_text("Thẻ cần gắn: Loại nhà, Số tầng")
    picker = house.locator("input[type=file]")
    picker.set_input_files(
        files=[{"name": "route.gpx", "mimeType": "application/xml", "buffer": b"<gpx></gpx>"}]
    )
    expect(house.locator("output")).to_contain_text("không phải tệp OSM")
    picker.set_input_files(
        files=[{"name": "house.osm", "mimeType": "application/xml", "buffer": OSM_FILE.encode()}]
    )
    expect(house.locator("output")).to_contain_text(f"Đã lưu tệp OSM ({len(OSM_FILE)} ký tự)")
    screenshot(page, "osm-question")

    # Each group's 'other' question is its own, shown beside its select only.
    app.choose("home/owner", "other")
    expect(app.question("land/owner_other")).to_be_hidden()
    app.type("home/owner_other", "Hợp tác xã")
    app.choose("land/owner", "other")
    app.type("land/owner_other", "Họ hàng")
    expect(app.question("home/owner_other").locator("input")).to_have_value("Hợp tác xã")
    app.wait_saved()
    app.finalize()
    page.locator("#sync").click()
    page.locator("#record-list .pill.state-synced").wait_for()
    page.context.close()

    with connect(server.data_dir / "gocua.db") as db:
        (raw,) = db.execute("SELECT data FROM records WHERE form_id = 'odd_questions'").fetchone()
    data = stored_answers.load(raw)
    assert {k: v for k, v in data.items() if k != "head"} == {
        "house": OSM_FILE,
        "home/owner": "other",
        "home/owner_other": "Hợp tác xã",
        "land/owner": "other",
        "land/owner_other": "Họ hàng",
    }

"""A line walked, a plot's shape and where the visit opened, on the phone with the browser's own
location (Chromium's, set through Playwright as the volunteer walks), synced, read back from the
server as the phone wrote them, and seen at the office on the staff map and the record page."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.domain import answers as stored_answers
from server.domain.db import connect
from tests.e2e.collector import Collector
from tests.e2e.conftest import expect, phone_context, screenshot
from tests.e2e.test_accessibility import assert_accessible, axe_violations
from tests.loop_forms import EN, VI, write_workbook

pytestmark = pytest.mark.e2e

# The gate of the house, then three steps along the lane; the plot's corners.
GATE = {"latitude": 21.0285, "longitude": 105.8048, "accuracy": 6}
LANE = [(21.0286, 105.8049), (21.0287, 105.8051), (21.0289, 105.8052)]
CORNERS = [(21.03, 105.8), (21.03, 105.801), (21.031, 105.801)]
OWNER = {"latitude": 21.0301, "longitude": 105.8005, "accuracy": 9}


def stored_answer(page, name: str) -> None:
    """Until the open draft on the phone's disk holds an answer to `name`."""
    page.wait_for_function(
        """(name) => new Promise((done) => {
            const open = indexedDB.open('gocua');
            open.onsuccess = () => {
                const all = open.result.transaction('records').objectStore('records').getAll();
                all.onsuccess = () => {
                    open.result.close();
                    done(all.result.some((r) => r.data[name]));
                };
            };
        })""",
        arg=name,
        polling=100,
    )


def geo_workbook(path: Path) -> Path:
    return write_workbook(
        path,
        {
            "survey": [
                {"type": "start-geopoint", "name": "noi_mo"},
                {"type": "text", "name": "chu", VI: "Chủ thửa", EN: "Owner"},
                {"type": "background-geopoint", "name": "noi_chu", "trigger": "${chu}"},
                {
                    "type": "geotrace",
                    "name": "duong",
                    VI: "Đường vào nhà",
                    EN: "Lane to the house",
                    "required": "yes",
                },
                {
                    "type": "geoshape",
                    "name": "thua",
                    VI: "Thửa đất",
                    EN: "The plot",
                    "required": "yes",
                },
            ],
            "settings": [{"form_id": "duong_va_thua", "version": "1"}],
        },
    )


def test_a_line_a_shape_and_the_start_point_reach_the_server(browser, server, tmp_path: Path):
    server.cli("form", "import", str(geo_workbook(tmp_path / "geo.xlsx")))
    context = phone_context(browser, permissions=["geolocation"], geolocation=GATE)
    page = context.new_page()
    app = Collector(page)
    app.enroll(server.cli("enroll").strip().splitlines()[-1])
    app.households().first.click()
    page.locator('#choose-form [data-form="duong_va_thua"]').click()
    page.locator("#finalize").wait_for()

    # Where the owner's name was given: a point taken as it is answered, no question shown.
    context.set_geolocation(OWNER)
    app.type("chu", "Lò Văn Minh")
    stored_answer(page, "noi_chu")
    expect(page.locator('[data-path="noi_chu"]')).to_have_count(0)

    line = app.reveal("duong")
    points = line.locator(".geo-point")
    expect(line.locator(".geo-empty")).to_have_text("Chưa có điểm nào.")
    for number, (lat, lon) in enumerate([*LANE, (21.04, 105.9)], start=1):
        context.set_geolocation({"latitude": lat, "longitude": lon, "accuracy": 4 + number})
        line.locator(".geo-here").click()
        expect(points).to_have_count(number)
    expect(points.nth(0)).to_contain_text(f"Điểm 1: {LANE[0][0]}, {LANE[0][1]}")
    expect(points.nth(1)).to_contain_text("± 6 m")  # its accuracy
    # The fourth was taken by mistake, far off: removed, the length is that of the lane.
    line.get_by_role("button", name="Xóa điểm 4").click()
    expect(points).to_have_count(3)
    expect(line.locator("output.gps")).to_have_text("Đã xóa điểm 4.")
    expect(line.locator(".geo-total")).to_contain_text("Chiều dài: 48,1 m")
    expect(line.locator(".geo-sketch polyline")).to_be_attached()

    shape = app.reveal("thua")
    corners = shape.locator(".geo-point")
    for number, (lat, lon) in enumerate(CORNERS[:2], start=1):
        context.set_geolocation({"latitude": lat, "longitude": lon, "accuracy": 3})
        shape.locator(".geo-here").click()
        expect(corners).to_have_count(number)
    # The third corner is under trees: typed from the land register, with a decimal comma.
    shape.locator(".geo-by-hand summary").click()
    shape.get_by_label("Vĩ độ").fill("21,031")
    shape.get_by_label("Kinh độ").fill("105,801")
    shape.locator(".geo-typed").click()
    expect(corners).to_have_count(3)  # it closes itself: the first corner is not listed again
    expect(corners.nth(2)).to_contain_text("Điểm 3: 21.031, 105.801 · nhập tay")
    expect(shape.locator(".geo-total")).to_contain_text("Diện tích: 5.783 m²")
    expect(shape.locator(".geo-sketch polygon")).to_be_attached()
    # A typed point off the Earth is refused, and said so.
    shape.get_by_label("Vĩ độ").fill("91")
    shape.get_by_label("Kinh độ").fill("105")
    shape.locator(".geo-typed").click()
    expect(shape.locator("output.gps")).to_contain_text("Vĩ độ phải từ -90 đến 90")
    expect(corners).to_have_count(3)
    screenshot(page, "geo-questions")
    assert_accessible("a line and a shape", axe_violations(page))

    app.wait_saved()
    app.finalize()
    page.locator("#sync").click()
    page.locator("#record-list .pill.state-synced").wait_for()
    context.close()

    with connect(server.data_dir / "gocua.db") as db:
        (raw,) = db.execute("SELECT data FROM records WHERE form_id = 'duong_va_thua'").fetchone()
    data = stored_answers.load(raw)
    assert data["noi_mo"] == "21.028500 105.804800 0 6"  # taken as the visit opened
    assert data["duong"] == ";".join(
        f"{lat:.6f} {lon:.6f} 0 {4 + n}" for n, (lat, lon) in enumerate(LANE, start=1)
    )
    first, second = (f"{lat:.6f} {lon:.6f} 0 3" for lat, lon in CORNERS[:2])
    assert data["thua"] == f"{first};{second};21.031 105.801 0 0;{first}"
    assert data["noi_chu"] == "21.030100 105.800500 0 9"
    assert set(data) == {"noi_mo", "chu", "noi_chu", "duong", "thua"}

    # At the office: the lane and the plot drawn on the staff map, and the record page's words.
    password = server.add_staff(
        "add", "duyet.thua", "--name", "Chị Duyệt", "--role", "reviewer", "--commune", "99999"
    )
    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN").new_page()
    desk.goto(f"{server.base}/login")
    desk.fill("input[name=username]", "duyet.thua")
    desk.fill("input[name=password]", password)
    desk.click("button[type=submit]")
    desk.goto(f"{server.base}/reports/map?form=duong_va_thua")
    desk.locator("#map[data-drawn]").wait_for(state="attached")
    expect(desk.locator("path.map-geotrace")).to_have_count(1)
    expect(desk.locator("path.map-geoshape")).to_have_count(1)
    # The start point and the owner's: points, as a geopoint is.
    expect(desk.locator(".leaflet-marker-icon.map-point")).to_have_count(2)
    desk.locator("path.map-geoshape").click()
    desk.locator(".leaflet-popup .popup-record").click()
    expect(desk.locator(".geo-answer").first).to_contain_text("3 điểm · chiều dài 48,1 m")
    expect(desk.locator(".geo-answer").nth(1)).to_contain_text("3 điểm · diện tích 5.783,2 m²")
    desk.context.close()

"""The staff map and gallery in Chromium against a real server whose tile server cannot be
reached: the points are drawn and clustered all the same, each leads to its record, and the
gallery's photos lead to theirs."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from PIL import Image

from server.domain.db import connect
from tests.e2e.conftest import expect, screenshot
from tests.e2e.test_accessibility import assert_accessible, axe_violations
from tests.e2e.test_review_office import Phone, stored
from tests.records import household_data, record
from tests.server_process import ServerProcess, free_port
from tests.sync.photo_form import PHOTO_VERSION, install_photo_form

pytestmark = pytest.mark.e2e

# Five doors of one lane in Hà Nội (30 m apart: one cluster until the lane fills the map),
# one house in Đà Nẵng, one in Sài Gòn: seen whole, one cluster of 5 and two lone points.
LANE = [f"21.0285 {105.8540 + i * 0.0003:.4f} 10 5" for i in range(5)]
DA_NANG, SAI_GON = "16.0544 108.2022 4 6", "10.7769 106.7009 3 7"


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    # A tile address where nothing listens: the office's Internet is down.
    unreachable = f"http://127.0.0.1:{free_port()}/{{z}}/{{x}}/{{y}}.png"
    server = ServerProcess(
        tmp_path_factory.mktemp("map") / "server", extra_env={"GOCUA_MAP_TILES": unreachable}
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def visits(office: ServerProcess) -> dict[str, Any]:
    phone = Phone(office)
    east = phone.villages["Thôn Đông"]
    household, code = stored(office, "SELECT id, code FROM households WHERE village_id = ?", east)[
        0
    ]
    lane = [
        record(east, data=household_data(gps=p, head_name=f"Nhà {i}")) for i, p in enumerate(LANE)
    ]
    far = [
        record(east, data=household_data(gps=DA_NANG, head_name="Nhà Đà Nẵng")),
        record(east, household, household_data(gps=SAI_GON, head_name="Nhà Sài Gòn")),
    ]
    nowhere = record(east, data=household_data(head_name="Nhà Không GPS"))
    assert phone.push(*lane, *far, nowhere) == ["applied"] * 8

    with connect(office.data_dir / "gocua.db") as db:
        install_photo_form(db)
    shots = []
    for index, color in enumerate([(200, 40, 40), (40, 160, 40)]):
        out = io.BytesIO()
        Image.new("RGB", (800, 600), color).save(out, "JPEG")
        body = out.getvalue()
        sha = hashlib.sha256(body).hexdigest()
        answer = requests.put(
            f"{office.base}/api/v1/blobs/{sha}",
            data=body,
            headers={**phone.headers, "Content-Type": "image/jpeg"},
            timeout=30,
        )
        assert answer.status_code in (200, 201)
        shots.append(
            record(
                east,
                data=household_data(house_photo=sha, head_name=f"Nhà Có Ảnh {index}"),
                form_version=PHOTO_VERSION,
            )
        )
    assert phone.push(*shots) == ["applied"] * 2
    password = office.add_staff(
        "add", "duyet.bando", "--name", "Chị Duyệt", "--role", "reviewer", "--commune", "99999"
    )
    return {"lane": lane, "far": far, "shots": shots, "password": password, "code": code}


@pytest.fixture
def desk(browser: Any, office: ServerProcess, visits: dict[str, Any]) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{office.base}/login")
    page.fill("input[name=username]", "duyet.bando")
    page.fill("input[name=password]", visits["password"])
    page.click("button[type=submit]")
    if "/account/password" in page.url:  # a first password is changed before anything else
        page.fill("input[name=current]", visits["password"])
        page.fill("input[name=new]", "mat-khau-moi-cua-chi-duyet")
        page.fill("input[name=confirm]", "mat-khau-moi-cua-chi-duyet")
        page.click("button[type=submit]")
        visits["password"] = "mat-khau-moi-cua-chi-duyet"
    page.wait_for_url(re.compile(r"/$"))
    yield page
    context.close()


def drawn(page: Any) -> tuple[list[int], int]:
    """The clusters' counts and the lone points Leaflet has put in the DOM."""
    page.locator("#map[data-drawn]").wait_for(state="attached")
    page.locator(".leaflet-marker-icon").first.wait_for()
    clusters = [int(n) for n in page.locator(".marker-cluster .cluster-count").all_inner_texts()]
    return clusters, page.locator(".leaflet-marker-icon.map-point").count()


def test_the_points_are_drawn_and_clustered_with_no_tile_server(desk, office, visits):
    desk.click("a.map-nav")
    expect(desk.locator("#map-status")).to_have_text("7 điểm GPS của 7 phiếu.")
    clusters, lone = drawn(desk)
    assert sorted(clusters) == [5] and lone == 2  # every point, once: 5 + 1 + 1
    assert desk.locator("#map-missing").count() == 0
    screenshot(desk, "map-no-tiles")
    assert_accessible("the map, drawn", axe_violations(desk))

    # A lone point opens its box; its link is the record. The Sài Gòn visit's household is on
    # the register: the point is named by its head and code there.
    saigon = desk.locator(f".leaflet-marker-icon.map-point[title*='{visits['code']}']")
    saigon.click()
    expect(desk.locator(".leaflet-popup .popup-household")).to_have_attribute(
        "href", f"/households/{visits['far'][1]['household_id']}"
    )
    expect(desk.locator(".leaflet-popup-close-button")).to_have_attribute("aria-label", "Đóng")
    expect(desk.locator(".leaflet-control-zoom-in")).to_have_attribute("title", "Phóng to")
    expect(desk.locator(".leaflet-popup")).to_have_css("opacity", "1")  # faded in
    assert_accessible("the map, a point's box open", axe_violations(desk))
    desk.locator(".leaflet-popup .popup-record").click()
    desk.wait_for_url(f"**/records/{visits['far'][1]['id']}")
    expect(desk.locator("h1")).to_be_visible()


def test_a_filter_in_the_address_narrows_the_map(desk, office, visits):
    desk.goto(f"{office.base}/reports/map?state=approved")
    expect(desk.locator("#map-status")).to_have_text("0 điểm GPS của 0 phiếu.")
    assert desk.locator(".leaflet-marker-icon").count() == 0
    desk.goto(f"{office.base}/reports/map?date_from=2000-01-01")
    assert sorted(drawn(desk)[0]) == [5]
    # Clicking the cluster zooms in until the lane's five doors stand apart (the far points
    # are then off the map, and out of the DOM).
    desk.locator(".marker-cluster").first.click()
    expect(desk.locator(".leaflet-marker-icon.map-point")).to_have_count(5)
    expect(desk.locator(".marker-cluster")).to_have_count(0)


def test_the_gallery_shows_the_photos_and_links_to_their_records(desk, office, visits):
    desk.click("a.gallery-nav")
    photos = desk.locator("#gallery .photo")
    expect(photos).to_have_count(2)
    shots = {shot["id"]: shot for shot in visits["shots"]}
    assert set(photos.evaluate_all("items => items.map(i => i.dataset.record)")) == set(shots)
    first = shots[photos.first.get_attribute("data-record")]
    thumb = photos.first.locator("img")
    expect(thumb).to_have_js_property("complete", True)
    assert thumb.evaluate("img => img.naturalWidth") == 320
    photos.first.locator("a.record-link").click()
    desk.wait_for_url(f"**/records/{first['id']}")
    desk.go_back()
    with desk.expect_navigation():
        desk.locator("#gallery .photo a.photo-link").first.click()
    assert desk.url.endswith(f"/{first['id']}/{first['data']['house_photo']}")
    assert desk.evaluate("document.contentType") == "image/jpeg"

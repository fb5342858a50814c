"""The staff site's map and photo gallery: the points and photos of the commune's records with
the submissions list's filters, pages bounded by a cursor, a viewer and other communes kept
out, and every view audited."""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import pytest
from PIL import Image

from server.domain.db import write_transaction
from server.domain.forms import install_form
from server.domain.register import add_commune, add_village
from tests.api.test_reports_dashboard import login_as, push
from tests.api.test_sync_blobs import put
from tests.records import household_data, record
from tests.sync.photo_form import PHOTO_VERSION, install_photo_form, photo

VI = "label::Tiếng Việt (vi)"
POINTS = ["21.0285 105.8542 12 5", "21.0290 105.8550 10 4", "10.7769 106.7009 5 8"]


def points(client: Any, query: str = "") -> tuple[list[dict[str, Any]], Any]:
    response = client.get(f"/reports/map/points{query}")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    body = response.get_json()
    return body["records"], body["next"]


@pytest.fixture
def mapped(client: Any, phone: dict[str, Any]) -> dict[str, Any]:
    """Three records with a GPS point (two villages), one without, one with a point off Earth."""
    first, second = phone["villages"][0]["id"], phone["villages"][1]["id"]
    items = [
        record(first, data=household_data(gps=POINTS[0], head_name="Lò Văn Một")),
        record(first, data=household_data(gps=POINTS[1], head_name="Lò Văn Hai")),
        record(second, data=household_data(gps=POINTS[2], head_name="Lò Văn Ba")),
        record(first, data=household_data(head_name="Không Có Điểm")),
    ]
    push(client, phone, *items)
    return {"items": items, "first": first, "second": second}


def test_points_of_the_commune_with_their_records_and_filters(client, db, mapped):
    login_as(client, db, "reviewer")
    rows, cursor = points(client)
    assert cursor is None
    by_name = {r["name"]: r for r in rows}
    assert set(by_name) == {"Lò Văn Một", "Lò Văn Hai", "Lò Văn Ba"}
    one = by_name["Lò Văn Một"]
    assert one["points"] == [[21.0285, 105.8542, "gps"]]
    assert one["id"] == mapped["items"][0]["id"]
    links = client.get("/reports/map/points").get_json()["links"]
    assert links == {"record": "/records/ID", "household": "/households/ID"}
    only_first, _ = points(client, f"?village={mapped['first']}")
    assert {r["name"] for r in only_first} == {"Lò Văn Một", "Lò Văn Hai"}
    with write_transaction(db):
        db.execute(
            "UPDATE records SET review_state = 'approved' WHERE id = ?", [mapped["items"][2]["id"]]
        )
    approved, _ = points(client, "?state=approved")
    assert [r["name"] for r in approved] == ["Lò Văn Ba"]
    assert points(client, "?date_from=2100-01-01")[0] == []
    assert len(points(client, "?date_to=2100-01-01&form=ho_gia_dinh_cds")[0]) == 3
    volunteer = db.execute("SELECT id FROM users WHERE username = 'tnv.demo'").fetchone()[0]
    assert len(points(client, f"?volunteer={volunteer}")[0]) == 3
    page = client.get(f"/reports/map?volunteer={volunteer}").get_data(as_text=True)
    assert f'<option value="{volunteer}" selected>' in page


def test_geopoints_of_any_form_repeats_included(client, db, phone):
    definition = {
        "settings": {"form_id": "ruong", "version": "1", "default_language": "Tiếng Việt (vi)"},
        "survey": [
            {"type": "text", "name": "head_name", VI: "Chủ hộ"},
            {"type": "geopoint", "name": "home", VI: "Vị trí nhà"},
            {"type": "begin_repeat", "name": "plots", VI: "Thửa"},
            {"type": "geopoint", "name": "corner", VI: "Góc thửa"},
            {"type": "text", "name": "note", VI: "Ghi chú"},
            {"type": "end_repeat"},
        ],
        "choices": [],
    }
    with write_transaction(db):
        form = install_form(db, definition)[0]
    data = {
        "head_name": "Chủ Ruộng",
        "home": "21.5 105.1 10 5",
        # A text answer that looks like a point is not one: only geopoint questions count.
        "plots": [{"corner": "21.6 105.2"}, {"note": "21.7 105.3"}, {"corner": "22 106 0 3"}],
    }
    push(client, phone, record(phone["villages"][0]["id"], data=data, form=form))
    login_as(client, db, "reviewer")
    [row], _ = points(client, "?form=ruong")
    assert row["name"] == "Chủ Ruộng"
    assert sorted(map(tuple, row["points"])) == [
        (21.5, 105.1, "home"),
        (21.6, 105.2, "corner"),
        (22.0, 106.0, "corner"),
    ]


def test_pages_by_cursor_cover_every_point_once(client, db, mapped):
    login_as(client, db, "admin")
    seen, url = [], "?limit=1"
    while url is not None:
        rows, cursor = points(client, url)
        seen += [r["id"] for r in rows]
        url = f"?limit=1&after={cursor}" if cursor else None
    assert sorted(seen) == sorted(i["id"] for i in mapped["items"][:3])
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize(
    "query",
    [
        "?limit=0",
        "?limit=5001",
        "?limit=abc",
        "?limit=%D9%A1",  # an Arabic-Indic one: a digit to str.isdigit, not to the limit
        "?state=nope",
        "?date_from=30/11/2026",
        "?date_from=2026-13-45",  # the shape of a day, but none of the calendar
        "?date_to=9999-12-31",  # its end is past the calendar in UTC
        "?date_from=0001-01-01",  # its start is before it, seven hours west of Hà Nội
        "?after=garbage",
        "?after=" + "x" * 5000,
    ],
)
def test_bad_parameters_are_400(client, db, mapped, query):
    login_as(client, db, "reviewer")
    response = client.get(f"/reports/map/points{query}")
    assert response.status_code == 400 and response.get_json()["code"] == "bad_request"


@pytest.mark.parametrize("day", ["2026-13-45", "9999-12-31", "0001-01-01"])
def test_a_day_outside_the_calendar_is_a_bad_date_on_the_list_too(client, db, day):
    """The submissions list shares the filter: it answered 500 to these."""
    login_as(client, db, "reviewer")
    for name in ("date_from", "date_to"):
        page = client.get(f"/?{name}={day}")
        assert page.status_code == 200
        assert 'class="error" role="alert"' in page.get_data(as_text=True)


def test_another_communes_village_form_or_records_are_not_found(client, db, mapped):
    with write_transaction(db):
        add_commune(db, "88888", "Xã Khác", "01", "Hà Nội")
        other = add_village(db, "88888", "Thôn Khác")
    login_as(client, db, "reviewer")
    assert client.get(f"/reports/map/points?village={other['id']}").status_code == 404
    assert client.get("/reports/map/points?form=nope").status_code == 404
    assert client.get(f"/reports/map?village={other['id']}").status_code == 404
    client.post("/logout")
    login_as(client, db, "admin", commune_id="88888")
    assert points(client) == ([], None)
    assert client.get(f"/reports/map/points?village={mapped['first']}").status_code == 404


def test_a_viewer_gets_no_map_no_points_and_no_photos(client, db, mapped):
    login_as(client, db, "viewer")
    assert client.get("/reports/map").status_code == 403
    response = client.get("/reports/map/points")
    assert response.status_code == 403 and response.get_json()["code"] == "forbidden"
    assert client.get("/reports/gallery").status_code == 403
    record_id = mapped["items"][0]["id"]
    assert client.get(f"/reports/photos/{record_id}/{'a' * 64}").status_code == 403
    assert "/reports/map" not in client.get("/reports/").get_data(as_text=True)


def test_anonymous_json_is_401(client):
    assert client.get("/reports/map/points").status_code == 401


def test_every_points_page_is_audited_with_its_filter_and_count(client, db, mapped):
    user = login_as(client, db, "reviewer")
    points(client, f"?village={mapped['first']}")
    row = db.execute(
        "SELECT user_id, target, detail FROM audit_log WHERE action = 'view_map'"
    ).fetchone()
    assert row["user_id"] == user["id"] and row["target"] == "99999"
    detail = json.loads(row["detail"])
    assert detail["village"] == mapped["first"] and detail["shown"] == 2


def test_the_map_page_links_the_points_and_says_when_leaflet_is_missing(
    app, client, db, mapped, tmp_path
):
    login_as(client, db, "reviewer")
    page = client.get(f"/reports/map?village={mapped['first']}").get_data(as_text=True)
    assert f"/reports/map/points?village={mapped['first']}" in page
    assert "/static/vendor/leaflet/leaflet.js" in page and 'id="map-missing"' not in page
    assert 'id="map-no-tiles"' in page
    assert client.get("/static/vendor/leaflet/leaflet.js").status_code == 200
    assert client.get("/static/vendor/leaflet/../package.json").status_code == 404
    assert client.get("/static/vendor/eslint/package.json").status_code == 404
    app.config["NODE_MODULES"] = str(tmp_path / "none")
    app.config["MAP_TILES"] = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    bare = client.get("/reports/map?lang=en").get_data(as_text=True)
    assert 'id="map-missing"' in bare and "The map&#39;s files (Leaflet) are missing" in bare
    assert "leaflet.js" not in bare and 'id="map-no-tiles"' not in bare
    assert 'data-tiles="https://tile.openstreetmap.org/{z}/{x}/{y}.png"' in bare


def jpeg(color: tuple[int, int, int], size: tuple[int, int] = (1200, 900)) -> tuple[bytes, str]:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG")
    content = out.getvalue()
    return content, hashlib.sha256(content).hexdigest()


@pytest.fixture
def photographed(client: Any, db: Any, phone: dict[str, Any]) -> dict[str, Any]:
    """Two records of the photo form: one with a house photo and a member's, one whose
    'photo' is bytes no program reads as a picture."""
    install_photo_form(db)
    village = phone["villages"][0]["id"]
    house, house_sha = jpeg((200, 30, 30))
    face, face_sha = jpeg((30, 30, 200), (600, 800))
    broken, broken_sha = photo("broken")
    for body, sha in ((house, house_sha), (face, face_sha), (broken, broken_sha)):
        assert put(client, phone, sha, body).status_code in (200, 201)
    members = household_data()["members"]
    members[0]["member_photo"] = face_sha
    with_photos = record(
        village,
        data=household_data(members=members, house_photo=house_sha, head_name="Chủ Hộ Ảnh"),
        form_version=PHOTO_VERSION,
    )
    with_broken = record(
        village,
        data=household_data(house_photo=broken_sha, head_name="Ảnh Hỏng"),
        form_version=PHOTO_VERSION,
    )
    push(client, phone, with_photos, with_broken)
    return {
        "record": with_photos["id"],
        "broken_record": with_broken["id"],
        "house": house_sha,
        "face": face_sha,
        "broken": broken_sha,
        "house_bytes": house,
    }


def test_the_gallery_shows_each_photo_with_a_link_to_its_record(client, db, photographed):
    login_as(client, db, "reviewer")
    page = client.get("/reports/gallery").get_data(as_text=True)
    record_id = photographed["record"]
    for sha in (photographed["house"], photographed["face"]):
        assert f'src="/reports/photos/{record_id}/{sha}/thumb"' in page
    assert f"/reports/photos/{photographed['broken_record']}/{photographed['broken']}/thumb" in page
    assert page.count(f'href="/records/{record_id}"') == 2
    assert "Ảnh ngôi nhà" in page and "Ảnh thành viên" in page
    thumb = client.get(f"/reports/photos/{record_id}/{photographed['house']}/thumb")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    small = Image.open(io.BytesIO(thumb.data))
    assert max(small.size) == 320
    whole = client.get(f"/reports/photos/{record_id}/{photographed['house']}")
    assert whole.status_code == 200 and whole.data == photographed["house_bytes"]
    assert whole.headers["Cache-Control"] == "no-store"
    # Unreadable bytes are no thumbnail and no photo, never a server error.
    broken = f"/reports/photos/{photographed['broken_record']}/{photographed['broken']}"
    assert client.get(f"{broken}/thumb").status_code == 404
    assert client.get(broken).status_code == 404
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log ORDER BY id")]
    assert "view_gallery" in actions and actions.count("view_photo") == 1


def test_a_photo_is_sent_only_for_a_record_of_the_commune_that_names_it(client, db, photographed):
    login_as(client, db, "admin")
    record_id, house = photographed["record"], photographed["house"]
    # Another record's photo, a hash no record names, a record that is not there.
    assert client.get(f"/reports/photos/{photographed['broken_record']}/{house}").status_code == 404
    assert client.get(f"/reports/photos/{record_id}/{'0' * 64}/thumb").status_code == 404
    assert client.get(f"/reports/photos/nope/{house}").status_code == 404
    assert client.get(f"/reports/photos/{record_id}/NOT-A-HASH").status_code == 404
    client.post("/logout")
    with write_transaction(db):
        add_commune(db, "88888", "Xã Khác", "01", "Hà Nội")
    login_as(client, db, "admin", commune_id="88888")
    assert client.get(f"/reports/photos/{record_id}/{house}/thumb").status_code == 404
    assert photographed["house"] not in client.get("/reports/gallery").get_data(as_text=True)


def test_gallery_pages_by_cursor_and_filters(client, db, phone, photographed):
    install_photo_form(db)
    village = phone["villages"][0]["id"]
    many = []
    for index in range(30):
        content, sha = jpeg((index * 8, 100, 100), (40, 40))
        put(client, phone, sha, content)
        many.append(
            record(
                village,
                data=household_data(house_photo=sha, head_name=f"Hộ {index}"),
                form_version=PHOTO_VERSION,
            )
        )
    push(client, phone, *many)
    login_as(client, db, "reviewer")
    seen, url = 0, "/reports/gallery"
    while url:
        page = client.get(url).get_data(as_text=True)
        seen += page.count('class="photo card"')
        found = page.split('id="gallery-next" href="')
        url = found[1].split('"')[0].replace("&amp;", "&") if len(found) > 1 else ""
    assert seen == 33
    assert (
        client.get("/reports/gallery?date_from=2100-01-01")
        .get_data(as_text=True)
        .count('class="photo card"')
        == 0
    )
    assert client.get("/reports/gallery?state=nope").status_code == 400
    assert client.get("/reports/gallery?after=garbage").status_code == 400

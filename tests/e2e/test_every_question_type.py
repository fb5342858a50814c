"""Every question type of the form engine, filled on the phone and accepted by the server."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from server.domain.db import connect
from tests.e2e.collector import Collector
from tests.e2e.conftest import expect

pytestmark = pytest.mark.e2e
FORM = Path(__file__).resolve().parents[1] / "forms" / "all_types.json"
PHOTO = Path(__file__).resolve().parents[2] / "pwa" / "icons" / "icon-512.png"  # a camera file


def test_every_question_type_on_the_phone(server, browser):
    server.cli("form", "import", str(FORM))
    where = {"latitude": 20.4, "longitude": 106.17, "accuracy": 8}
    context = browser.new_context(
        viewport={"width": 360, "height": 640}, permissions=["geolocation"], geolocation=where
    )
    page = context.new_page()
    app = Collector(page)
    app.enroll(server.cli("enroll").strip().splitlines()[-1])
    app.households().first.click()
    page.locator('#choose-form [data-form="all_types"]').click()
    page.locator("#finalize").wait_for()

    assert app.value("weight") == "3.5"  # the form's default
    for metadata in ("started", "device", "volunteer", "phone_no", "mail"):
        expect(page.locator(f'[data-path="{metadata}"]')).to_have_count(0)  # never asked
    app.type("name", "Lan")
    app.type("story", "Dòng một\nDòng hai")
    # appearance 'numbers': a text answer typed on the phone's number pad.
    expect(app.question("digits").locator("input")).to_have_attribute("inputmode", "numeric")
    app.type("digits", "0912345678")
    app.type("count", 2)
    app.type("visit_day", "2026-11-20")
    app.type("visit_time", "08:30")
    app.type("moment", "2026-11-20T08:30")
    app.reveal("ack").locator("input").check()
    expect(app.question("shown_double").locator("input")).to_have_attribute("readonly", "")

    app.reveal("colour").locator("select").select_option("green")
    app.choose("fruit", "mango", "other")
    app.type("fruit_other", "Ổi")  # asked because 'other' was chosen
    app.choose("region", "north")
    province = app.question("province")
    expect(province.locator('label:has(input[value="cantho"])')).to_be_hidden()
    app.choose("province", "namdinh")
    app.choose("region", "south")  # the cascade changes: the old province no longer applies
    assert app.checked("province") == []
    expect(province.locator('label:has(input[value="namdinh"])')).to_be_hidden()
    app.choose("province", "cantho")

    app.reveal("where").locator("button").click()
    expect(app.question("where").locator("output")).to_contain_text("8")  # accuracy shown
    app.reveal("photo").locator("input[type=file]").set_input_files(str(PHOTO))
    expect(app.question("photo").locator("img.photo")).to_be_visible()  # kept on the phone
    app.type("code", "8938505974192")
    app.type("kids[0].kid_name", "Bi")
    app.type("kids[1].kid_name", "Na")
    app.add("visits")
    app.type("visits[0].visit_on", "2026-11-01")
    app.finalize()
    page.locator("#sync").click()
    page.locator("#record-list .pill.state-synced").wait_for()

    with connect(server.data_dir / "gocua.db") as db:
        (raw,) = db.execute(
            "SELECT answers(data) FROM records WHERE form_id = 'all_types'"
        ).fetchone()
        (device,) = db.execute("SELECT id FROM devices").fetchone()
    data = json.loads(raw)
    # The metadata the phone fills with no question shown; what it cannot read stays empty.
    assert data["device"] == device and data["volunteer"] == "tnv.demo"
    assert data["started"] <= data["ended"]  # opened, then finalized (ISO times in UTC)
    assert data["started"].endswith("Z") and re.fullmatch(r"\d{4}-\d{2}-\d{2}", data["on_day"])
    assert "phone_no" not in data and "mail" not in data
    assert data["story"] == "Dòng một\nDòng hai" and data["count"] == 2 and data["double"] == 4
    assert data["digits"] == "0912345678"  # text all the same, leading 0 and all
    assert data["weight"] == 3.5 and data["ack"] == "OK" and data["colour"] == "green"
    assert data["fruit"] == ["mango", "other"] and data["fruit_other"] == "Ổi"
    assert (data["region"], data["province"]) == ("south", "cantho")
    lat, lon, _, accuracy = data["where"].split()
    assert (float(lat), float(lon), accuracy) == (20.4, 106.17, "8")
    assert [k["kid_name"] for k in data["kids"]] == ["Bi", "Na"]
    assert [k["kid_age"] for k in data["kids"]] == [1, 1]  # the default in each new child
    assert data["visits"] == [{"visit_on": "2026-11-01"}] and data["secret"] == "h1"
    # The photo went up before the record that names it, as a JPEG under its own hash.
    stored = server.data_dir / "blobs" / data["photo"][:2] / data["photo"]
    assert stored.read_bytes()[:3] == b"\xff\xd8\xff"
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == data["photo"]
    context.close()

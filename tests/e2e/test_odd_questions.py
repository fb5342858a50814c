"""The odd questions an ODK form brings, filled on the phone and synced: an OpenMapKit (osm)
question answered with the .osm file a mapping app saved, a select ... or_other whose name is
in two groups, each 'other' answer under its own key, and an attached XML file's choices and
lookups worked out offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas.form import Form
from schemas.settle import settle
from server.domain.db import connect
from tests.e2e.conftest import expect, screenshot
from tests.e2e.visits import enrolled, stored
from tests.loop_forms import EN, OSM_FILE, VI, osm_workbook, write_workbook

pytestmark = pytest.mark.e2e


def test_an_osm_file_and_two_other_answers_from_the_phone_to_the_server(
    browser, server, tmp_path: Path
):
    server.cli("form", "import", str(osm_workbook(tmp_path / "odd.xlsx")))
    app = enrolled(browser, server)
    page = app.page
    app.start_visit("odd_questions")
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
    app.send()
    page.context.close()

    data = stored(server, "odd_questions")["data"]
    assert {k: v for k, v in data.items() if k != "head"} == {
        "house": OSM_FILE,
        "home/owner": "other",
        "home/owner_other": "Hợp tác xã",
        "land/owner": "other",
        "land/owner_other": "Họ hàng",
    }


HOUSEHOLDS_XML = """<?xml version="1.0" encoding="UTF-8"?>
<root>
  <item><name>h1</name><label>Hộ ông Lò</label><thon>Thôn Đông</thon><so_nguoi>4</so_nguoi></item>
  <item><name>h2</name><label>Hộ bà Vì</label><thon>Thôn Tây</thon><so_nguoi>2</so_nguoi></item>
</root>
"""


def xml_workbook(path: Path) -> Path:
    lookup = "instance('ho')/root/item[name = ${ho}]"
    return write_workbook(
        path,
        {
            "survey": [
                {"type": "select_one_from_file ho.xml", "name": "ho", VI: "Hộ", EN: "Household"},
                {"type": "calculate", "name": "thon", "calculation": f"{lookup}/thon"},
                {"type": "calculate", "name": "them", "calculation": f"{lookup}/so_nguoi + 1"},
                {"type": "note", "name": "thay", VI: "Hộ ở ${thon}", EN: "In ${thon}"},
            ],
            "settings": [{"form_id": "xml_lookup", "version": "1"}],
        },
    )


def test_an_xml_files_choices_and_lookups_on_the_phone_and_the_server(
    browser, server, tmp_path: Path
):
    (tmp_path / "ho.xml").write_text(HOUSEHOLDS_XML, encoding="utf-8")
    server.cli(
        "form",
        "import",
        str(xml_workbook(tmp_path / "xml.xlsx")),
        "--attach",
        str(tmp_path / "ho.xml"),
    )
    app = enrolled(browser, server)
    app.start_visit("xml_lookup")
    expect(app.question("ho")).to_contain_text("Hộ bà Vì")
    app.choose("ho", "h2")
    # The lookup is worked out on the phone, offline, from the file the form brought.
    expect(app.question("thay")).to_contain_text("Hộ ở Thôn Tây")
    app.send()
    app.page.context.close()

    data = stored(server, "xml_lookup")["data"]
    with connect(server.data_dir / "gocua.db") as db:
        (definition,) = db.execute(
            "SELECT definition FROM forms WHERE form_id = 'xml_lookup'"
        ).fetchone()
    assert data == {"ho": "h2", "thon": "Thôn Tây", "them": 3}
    # The server's engine works the same values out of the stored version.
    assert settle(Form(json.loads(definition)), {"ho": "h2"}) == data

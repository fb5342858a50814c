"""A line and a shape after they reach the server: the record page (points, length, area), the
staff edit page (a point a line, a shape closed), the exports (left out when pseudonymised), the
OData feed (text, as a geopoint is) and the data dictionary."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from typing import Any

from markupsafe import escape

from schemas.form import Form
from server.domain.db import write_transaction
from server.domain.forms import install_form
from server.domain.records.places import MAP_LINE_VERTICES, map_line
from tests.api.test_odata import make_token, rows
from tests.api.test_review_edit import revisions
from tests.api.test_review_helpers import post, push, staff
from tests.records import record

DEFINITION = {
    "settings": {"form_id": "thua_dat", "version": "1", "default_language": "vi"},
    "survey": [
        {"type": "start-geopoint", "name": "noi_mo"},
        {"type": "text", "name": "chu", "label": "Chủ thửa"},
        {"type": "geotrace", "name": "duong", "label": "Đường vào"},
        {"type": "geoshape", "name": "thua", "label": "Thửa đất"},
    ],
    "choices": [],
}
LANE = "21.0286 105.8049 0 5;21.0287 105.8051 0 6;21.0289 105.8052 0 7"
PLOT = "21.03 105.8 0 3;21.03 105.801 0 3;21.031 105.801 0 0;21.03 105.8 0 3"
ANSWERS = {"noi_mo": "21.0285 105.8048 0 6", "chu": "Lò Văn Minh", "duong": LANE, "thua": PLOT}


def words(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    text = html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))
    return " ".join(text.split())


def pushed(client: Any, phone: dict[str, Any], db: Any) -> dict[str, Any]:
    with write_transaction(db):
        install_form(db, DEFINITION)
    item = record(phone["villages"][0]["id"], data=dict(ANSWERS), form=Form(DEFINITION))
    assert [r["status"] for r in push(client, phone, item)] == ["applied"]
    return item


def test_the_record_page_gives_the_points_and_the_length_and_area(client, app, phone, db):
    item = pushed(client, phone, db)
    staff(client, app)
    page = words(client.get(f"/records/{item['id']}"))
    assert "3 điểm · chiều dài 48,1 m" in page
    assert "3 điểm · diện tích 5.783,2 m²" in page  # the shape's closing point is not counted
    assert "21.0287, 105.8051 (± 6,0 m)" in page
    client.get("/lang/en")
    page = words(client.get(f"/records/{item['id']}"))
    assert "3 points · length 48.1 m" in page and "area 5,783.2 m²" in page


def test_the_edit_page_takes_a_point_a_line_and_closes_a_shape(client, app, phone, db):
    item = pushed(client, phone, db)
    staff(client, app)
    form = client.get(f"/records/{item['id']}/edit").get_data(as_text=True)
    assert '<textarea name="q:duong" rows="6"' in form and LANE.replace(";", "\n") in form
    assert 'name="q:noi_mo"' not in form  # filled by the phone, never typed
    # A ring typed without its closing point is closed; a line's blank lines are dropped.
    edited = post(
        client,
        f"/records/{item['id']}/edit",
        rev=item["rev"],
        **{"q:duong": "21 105\n\n21.001 105.001\n", "q:thua": "10 20\n10 20.001\n10.001 20\n"},
    )
    assert edited.status_code == 302
    stored = json.loads(
        db.execute("SELECT answers(data) FROM records WHERE id = ?", [item["id"]]).fetchone()[0]
    )
    assert stored["duong"] == "21 105;21.001 105.001"
    assert stored["thua"] == "10 20;10 20.001;10.001 20;10 20"
    # Too few corners: refused in the catalogue's words, and nothing more is saved.
    rev = revisions(db, item["id"])[-1]["rev"]
    bad = post(client, f"/records/{item['id']}/edit", rev=rev, **{"q:thua": "10 20\n10 21"})
    assert bad.status_code == 422
    assert escape("Vùng cần ít nhất 3 góc") in bad.get_data(as_text=True)
    assert len(revisions(db, item["id"])) == 2


def test_exports_odata_and_the_dictionary_treat_lines_and_shapes_as_places(client, app, phone, db):
    item = pushed(client, phone, db)
    staff(client, app)
    plain = client.get("/reports/export/households.csv?form=thua_dat&pseudo=0")
    (row,) = csv.DictReader(io.StringIO(plain.data.decode("utf-8-sig")))
    assert row["record_id"] == item["id"]
    assert (row["duong"], row["thua"], row["noi_mo"]) == (LANE, PLOT, ANSWERS["noi_mo"])
    pseudo = client.get("/reports/export/households.csv?form=thua_dat&pseudo=1")
    (row,) = csv.DictReader(io.StringIO(pseudo.data.decode("utf-8-sig")))
    assert not {"duong", "thua", "noi_mo", "chu"} & row.keys()
    # OData: text, as a geopoint is (the export's cells, typed by the form).
    (entity,) = rows(client, make_token(client), "/odata/thua_dat.svc/Submissions")
    assert (entity["duong"], entity["thua"], entity["noi_mo"]) == (LANE, PLOT, ANSWERS["noi_mo"])
    dictionary = client.get("/reports/dictionary.csv?form=thua_dat").data.decode("utf-8-sig")
    questions = {r["name"]: r for r in csv.DictReader(io.StringIO(dictionary))}
    assert [questions[n]["type"] for n in ("noi_mo", "duong", "thua")] == [
        "start-geopoint",
        "geotrace",
        "geoshape",
    ]
    assert {questions[n]["pseudonymised_export"] for n in ("noi_mo", "duong", "thua")} == {"no"}


def test_the_staff_map_gives_lines_and_shapes_and_the_start_point(client, app, phone, db):
    item = pushed(client, phone, db)
    staff(client, app)
    response = client.get("/reports/map/points?form=thua_dat")
    assert response.status_code == 200
    (row,) = response.get_json()["records"]
    assert row["id"] == item["id"]
    assert row["points"] == [[21.0285, 105.8048, "noi_mo"]]
    assert row["lines"] == [
        ["duong", "geotrace", [[21.0286, 105.8049], [21.0287, 105.8051], [21.0289, 105.8052]]],
        ["thua", "geoshape", [[21.03, 105.8], [21.03, 105.801], [21.031, 105.801], [21.03, 105.8]]],
    ]


def test_a_long_walk_is_thinned_for_the_map_its_ends_kept() -> None:
    walk = ";".join(f"21 {105 + i / 10000:.4f} 0 5" for i in range(1000))
    line = map_line(walk)
    assert line is not None and len(line) <= MAP_LINE_VERTICES
    assert line[0] == [21.0, 105.0] and line[-1] == [21.0, 105.0999]
    assert map_line("21 105") is None and map_line("not a line") is None

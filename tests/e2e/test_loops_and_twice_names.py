"""Forms with an XLSForm loop and with one name in two groups, from workbook to export: imported,
filled on the phone, synced, accepted, shown on the record page and exported under distinct
columns."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.e2e.conftest import expect
from tests.e2e.visits import enrolled, staff_page, stored
from tests.loop_forms import loop_workbook, twice_workbook

pytestmark = pytest.mark.e2e
INVALID = re.compile(r"\binvalid\b")


def exported(page: Any, server: Any, form_id: str) -> tuple[list[dict], list[dict]]:
    """The households table as CSV and as the XLSX workbook's first sheet."""
    answer = page.request.get(f"{server.base}/reports/export/households.csv?form={form_id}")
    assert answer.status == 200
    rows = list(csv.DictReader(io.StringIO(answer.text().lstrip("\ufeff"))))
    answer = page.request.get(f"{server.base}/reports/export.xlsx?form={form_id}")
    assert answer.status == 200
    sheet = load_workbook(io.BytesIO(answer.body()), read_only=True).worksheets[0]
    header, *body = [list(r) for r in sheet.iter_rows(values_only=True)]
    return rows, [dict(zip(header, r, strict=False)) for r in body]


def office_rows(
    browser: Any, server: Any, record_id: str, form_id: str, words: tuple[str, ...]
) -> list[dict]:
    """The record's page on the office's screen shows each of ``words``; its one row in the
    CSV export and its one row in the XLSX export."""
    desk = staff_page(browser, server)
    desk.goto(f"{server.base}/records/{record_id}")
    body = desk.locator("main")
    for text in words:
        expect(body).to_contain_text(text)
    rows, sheet = exported(desk, server, form_id)
    (row,) = rows
    (line,) = sheet
    return [row, line]


def test_a_loop_over_three_crops_from_workbook_to_export(browser, server, tmp_path: Path):
    server.cli("form", "import", str(loop_workbook(tmp_path / "crops.xlsx")))
    app = enrolled(browser, server)
    page = app.page
    app.start_visit("harvest_loop")
    app.type("farmer", "Lan")
    # Each crop's group asks the loop's questions with the crop's name in their words.
    expect(app.reveal("harvest/maize/kg")).to_contain_text("Số kg Ngô đã thu")
    expect(app.question("harvest/cassava/sold")).to_contain_text("Có bán Sắn không?")
    expect(page.locator('[data-path="harvest/none/kg"]')).to_have_count(0)
    for crop, kg in (("rice", 120), ("maize", 40), ("cassava", 0)):
        app.type(f"harvest/{crop}/kg", kg)
    app.choose("harvest/rice/sold", "yes")
    app.choose("harvest/maize/sold", "no")
    app.send()
    page.context.close()

    record = stored(server, "harvest_loop")
    record_id, data = record["id"], record["data"]
    assert {k: v for k, v in data.items() if k.startswith("harvest/")} == {
        "harvest/rice/kg": 120,
        "harvest/maize/kg": 40,
        "harvest/cassava/kg": 0,
        "harvest/rice/sold": "yes",
        "harvest/maize/sold": "no",
    }
    assert data["farmer"] == "Lan"

    words = ("Số kg Lúa đã thu", "Số kg Ngô đã thu", "Số kg Sắn đã thu", "120", "40")
    for row in office_rows(browser, server, record_id, "harvest_loop", words):
        assert [str(row[f"harvest/{c}/kg"]) for c in ("rice", "maize", "cassava")] == [
            "120",
            "40",
            "0",
        ]
        assert row["harvest/rice/sold"] == "yes" and row["harvest/maize/sold"] == "no"


def test_one_name_in_two_groups_from_workbook_to_export(browser, server, tmp_path: Path):
    server.cli("form", "import", str(twice_workbook(tmp_path / "parents.xlsx")))
    app = enrolled(browser, server)
    app.start_visit("two_parents")
    app.type("mother/age", 34)
    app.type("mother/note", "Mẹ ở nhà")
    app.type("job", "Nông dân")
    app.type("father/age", 130)
    # The father's age is checked by the father's rule alone, under its own key.
    expect(app.question("father/age")).to_have_class(INVALID)
    expect(app.question("mother/age")).not_to_have_class(INVALID)
    app.type("father/age", 36)
    app.type("father/note", "Bố đi làm xa")
    app.send()
    app.page.context.close()

    record = stored(server, "two_parents")
    record_id, data = record["id"], record["data"]
    assert {k: data[k] for k in ("mother/age", "father/age", "mother/note", "father/note")} == {
        "mother/age": 34,
        "father/age": 36,
        "mother/note": "Mẹ ở nhà",
        "father/note": "Bố đi làm xa",
    }
    assert "age" not in data and data["job"] == "Nông dân"

    words = ("Tuổi của mẹ", "34", "Tuổi của bố", "36", "Mẹ ở nhà", "Bố đi làm xa")
    for row in office_rows(browser, server, record_id, "two_parents", words):
        ages = [str(row[k]) for k in ("mother/age", "father/age", "job")]
        assert ages == ["34", "36", "Nông dân"]
        assert row["mother/note"] == "Mẹ ở nhà" and row["father/note"] == "Bố đi làm xa"

"""Attached XML files, ODK's secondary instances: the shared cases (schemas/xml_cases.json) read
by the importer, then settled and checked by the server's engine and the phone's alike, and
the bounds of a file."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from schemas.file_choices import MAX_ROWS, MAX_XML_BYTES, FileChoicesError, inline_file_choices
from schemas.form import Form
from schemas.formcheck import check_form
from schemas.settle import settle
from schemas.validate import RecordChecker
from schemas.xlsform import XLSFormError, read_xlsform
from tests.loop_forms import write_workbook
from tests.phone_rules import phone_check

ROOT = Path(__file__).resolve().parents[2]
CASES = json.loads((ROOT / "schemas/xml_cases.json").read_text("utf-8"))["cases"]
THON = [{"list_name": "thon", "name": n, "label": n} for n in ("dong", "tay")]


def imported(case: dict[str, Any]) -> dict[str, Any]:
    survey = copy.deepcopy(case["survey"])
    choices = copy.deepcopy(THON)
    attachments = {k: v.encode("utf-8") for k, v in case["files"].items()}
    tables: dict[str, Any] = {}
    inline_file_choices(survey, choices, attachments, tables)
    survey = [r for r in survey if r["type"] != "xml-external"]  # as read_xlsform drops them
    definition = {"settings": {"form_id": "xml", "version": "1"}, "survey": survey}
    definition["choices"] = choices
    if tables:
        definition["pulldata"] = tables
    return definition


ACCEPTED = [c for c in CASES if "data" in c]
REFUSED = [c for c in CASES if "refused" in c]


@pytest.mark.parametrize("case", ACCEPTED, ids=[c["name"] for c in ACCEPTED])
def test_the_server_reads_a_file_as_the_case_says(case: dict[str, Any]) -> None:
    definition = imported(case)
    assert [p for p in check_form(definition) if not p.warning] == []
    form = Form(definition)
    data = settle(form, copy.deepcopy(case["data"]))
    assert data == case["settled"]
    assert sorted(RecordChecker(form).check(data, today="2026-11-30")) == sorted(case["errors"])


def test_the_phone_reads_every_file_as_the_server_does() -> None:
    for case in ACCEPTED:
        asked = {"data": case["data"], "today": "2026-11-30", "settle": True}
        (phone,) = phone_check(imported(case), [asked])
        assert phone["settled"] == case["settled"], case["name"]
        assert sorted(phone["errors"]) == sorted(case["errors"]), case["name"]


@pytest.mark.parametrize("case", REFUSED, ids=[c["name"] for c in REFUSED])
def test_a_file_that_cannot_be_read_is_refused_naming_row_and_item(case: dict[str, Any]) -> None:
    with pytest.raises(FileChoicesError) as caught:
        imported(case)
    error, expected = caught.value, case["refused"]
    assert (error.row, error.line) == (expected["row"], expected["item"])
    assert expected["words"] in error.en
    assert error.vi and error.vi != error.en
    if error.line is not None:
        assert error.place == (f"mục {error.line}", f"item {error.line}")


def test_a_file_past_its_bounds_is_refused() -> None:
    case = {"survey": [{"type": "select_one_from_file ho.xml", "name": "ho", "label": "Hộ"}]}
    items = "<item><name>h</name><label>x</label></item>" * (MAX_ROWS + 1)
    with pytest.raises(FileChoicesError) as caught:
        imported({**case, "files": {"ho.xml": f"<root>{items}</root>"}})
    assert caught.value.line == MAX_ROWS + 1 and "more than" in caught.value.en
    big = "<root>" + " " * MAX_XML_BYTES + "</root>"
    with pytest.raises(FileChoicesError) as caught:
        imported({**case, "files": {"ho.xml": big}})
    assert "larger than 10 MB" in caught.value.en


def workbook_with_lookup(path: Path) -> Path:
    return write_workbook(
        path,
        {
            "survey": [
                {"type": "xml-external", "name": "ho"},
                {"type": "text", "name": "ma", "label": "Mã hộ"},
                {
                    "type": "calculate",
                    "name": "thon",
                    "calculation": "instance('ho')/root/item[name = ${ma}]/thon",
                },
                {"type": "select_one_from_file ho.xml", "name": "ho_chon", "label": "Hộ"},
            ],
            "settings": [{"form_id": "xml_lookup", "version": "1"}],
        },
    )


def test_a_workbook_with_an_xml_file_imports_and_its_external_row_goes(tmp_path: Path) -> None:
    xml = b"<root><item><name>h1</name><label>H1</label><thon>dong</thon></item></root>"
    given: list[Any] = []
    definition = read_xlsform(
        workbook_with_lookup(tmp_path / "f.xlsx"), attachments={"ho.xml": xml}, given=given
    )
    assert [r["type"] for r in definition["survey"]] == ["text", "calculate", "select_one file_ho"]
    assert definition["survey"][1]["calculation"] == "pulldata('ho', 'thon', 'name', ${ma})"
    assert definition["pulldata"]["ho"]["rows"] == [["h1", "H1", "dong"]]
    assert [(a.name, a.choices, a.lookup_rows) for a in given] == [("ho.xml", 1, 1)]


def test_a_workbook_whose_xml_file_is_not_attached_names_the_external_row(tmp_path: Path) -> None:
    with pytest.raises(XLSFormError) as caught:
        read_xlsform(workbook_with_lookup(tmp_path / "f.xlsx"), attachments={})
    assert (caught.value.sheet, caught.value.row) == ("survey", 4)
    assert "ho.xml" in caught.value.en and "ho.xml" in caught.value.vi

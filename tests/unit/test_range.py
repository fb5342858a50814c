"""The XLSForm range question: its parameters read and refused as the phone reads them
(``schemas/range_cases.json``, which ``pwa/js/form.js`` passes too), a workbook with one
imported, and its answers checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from werkzeug.datastructures import MultiDict

from schemas.form import Form, range_parameters
from schemas.formcheck import check_form
from schemas.validate import RecordChecker
from schemas.xlsform import read_xlsform
from server.domain.records.edit import field_view, read_form
from tests.unit.test_form_extras import refused
from tests.unit.test_xlsform import workbook

CASES = json.loads(
    (Path(__file__).resolve().parents[2] / "schemas" / "range_cases.json").read_text("utf-8")
)


@pytest.mark.parametrize("case", CASES["parameters"], ids=[c["name"] for c in CASES["parameters"]])
def test_parameters(case: dict[str, Any]) -> None:
    bounds = range_parameters(case["parameters"])
    assert (list(bounds) if isinstance(bounds, tuple) else bounds) == case["bounds"]


def form_of(parameters: str) -> Form:
    return Form(
        {
            "settings": {"form_id": "r", "version": "1"},
            "survey": [{"type": "range", "name": "level", "label": "L", "parameters": parameters}],
            "choices": [],
        }
    )


@pytest.mark.parametrize("case", CASES["answers"], ids=[c["name"] for c in CASES["answers"]])
def test_answers(case: dict[str, Any]) -> None:
    errors = RecordChecker(form_of(case["parameters"])).check({"level": case["value"]})
    assert [e["code"] for e in errors.get("level", [])] == (
        [case["problem"]] if case["problem"] else []
    )


def test_a_workbook_with_a_range_imports_and_its_answer_is_checked(tmp_path: Path) -> None:
    survey = [
        ["type", "name", "label", "parameters", "required"],
        ["range", "satisfaction", "Satisfaction", "start=0 end=5 step=0.5", "yes"],
        ["range", "rooms", "Rooms", "", ""],
    ]
    definition = read_xlsform(workbook(tmp_path, survey))
    form = Form(definition)
    assert form.nodes["satisfaction"].type == "range"
    assert form.nodes["satisfaction"].get("parameters") == "start=0 end=5 step=0.5"
    checker = RecordChecker(form)
    assert checker.check({"satisfaction": 3.5, "rooms": 10}) == {}
    errors = checker.check({"satisfaction": 5.5, "rooms": 3.5})
    assert [e["code"] for e in errors["satisfaction"]] == ["out_of_range"]
    assert [e["code"] for e in errors["rooms"]] == ["not_integer"]
    # Nothing moved yet is no answer: a required range asks for one.
    assert [e["code"] for e in checker.check({})["satisfaction"]] == ["required"]


@pytest.mark.parametrize(
    ("parameters", "words"),
    [
        ("start=10 end=0 step=-1", "step must be more than 0"),
        ("start=0 end=100000", "10,000 steps"),
        ("start=0 end=1 step=0.00001", "10,000 steps"),
    ],
)
def test_bad_parameters_are_refused_naming_sheet_row_and_feature(
    tmp_path: Path, parameters: str, words: str
) -> None:
    survey = [["type", "name", "label", "parameters"], ["text", "q", "Q", ""]]
    survey.append(["range", "level", "Level", parameters])
    error = refused(tmp_path, survey)
    assert (error.sheet, error.row, error.feature) == ("survey", 3, "type 'range'")
    assert words in error.en and parameters in error.vi


@pytest.mark.parametrize(
    ("parameters", "en", "vi"),
    [
        ("start=0 end=10 step=0", "step must be more than 0", "step phải lớn hơn 0"),
        ("start=low end=10", "must be numbers", "phải là số"),
    ],
)
def test_what_pyxform_refuses_first_is_said_in_both_languages(
    tmp_path: Path, parameters: str, en: str, vi: str
) -> None:
    survey = [
        ["type", "name", "label", "parameters"],
        ["range", "good", "Good", "start=0 end=4"],
        ["range", "level", "Level", parameters],
    ]
    error = refused(tmp_path, survey)
    assert (error.sheet, error.row, error.feature) == ("survey", 3, "type 'range'")
    assert en in error.en and vi in error.vi and parameters in error.vi


def test_a_parameter_beside_start_end_and_step_is_still_sorted() -> None:
    # pyxform refuses it in a workbook; a form written as JSON meets the same check.
    definition = {
        "settings": {"form_id": "r", "version": "1"},
        "survey": [
            {"type": "range", "name": "level", "label": "L", "parameters": "start=0 end=4 rows=2"}
        ],
        "choices": [],
    }
    problems = [p for p in check_form(definition) if not p.warning]
    assert [p.feature for p in problems] == ["parameter 'rows'"]
    good = {**definition, "survey": [{**definition["survey"][0], "parameters": "start=0 end=4"}]}
    assert [p for p in check_form(good) if not p.warning] == []


def test_the_edit_page_offers_a_number_bounded_as_the_slider() -> None:
    form = form_of("start=10 end=0 step=3")
    view = field_view(form, form.nodes["level"], 7, "q:level", "en", {"level": 7})
    # A browser counts steps from min: min is 1, the last step from 10, so 10, 7, 4, 1 pass.
    assert view["range"] == {"min": 1, "max": 10, "step": 3}
    data, errors = read_form(form, {"level": 7}, MultiDict({"q:level": "4"}))
    assert (data, errors) == ({"level": 4}, {})
    halves = form_of("start=0 end=5 step=0.5")
    data, errors = read_form(halves, {}, MultiDict({"q:level": "2,5"}))
    assert (data, errors) == ({"level": 2.5}, {})

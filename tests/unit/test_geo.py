"""Lines and shapes (``geotrace``, ``geoshape``) and ``start-geopoint``: answers checked as the
phone checks them (``schemas/geo_cases.json``, which ``pwa/js/geo.js`` passes too), workbooks
with them imported, and the text the staff pages and ODK Collect's answers are tidied to."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from schemas.form import Form
from schemas.formcheck import check_form
from schemas.geo import closed, geo_problem, read_points, tidy
from schemas.settle import settle
from schemas.validate import RecordChecker
from schemas.xlsform import read_xlsform
from tests.unit.test_form_extras import refused
from tests.unit.test_xlsform import workbook

CASES = json.loads(
    (Path(__file__).resolve().parents[2] / "schemas" / "geo_cases.json").read_text("utf-8")
)["cases"]
FORM = Form(
    {
        "settings": {"form_id": "geo", "version": "1"},
        "survey": [
            {"type": "geotrace", "name": "path", "label": "Path"},
            {"type": "geoshape", "name": "plot", "label": "Plot"},
            {"type": "start-geopoint", "name": "where"},
        ],
        "choices": [],
    }
)


def value_of(case: dict[str, Any]) -> Any:
    if "repeat" in case:
        return ";".join([case["repeat"]["point"]] * case["repeat"]["times"])
    return case["value"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_shared_cases(case: dict[str, Any]) -> None:
    assert geo_problem(case["kind"], value_of(case)) == case["problem"]
    key = "path" if case["kind"] == "geotrace" else "plot"
    errors = RecordChecker(FORM).check({key: value_of(case)})
    assert [e["code"] for e in errors.get(key, [])] == (
        [case["problem"]] if case["problem"] else []
    )


def test_a_start_geopoint_is_a_point_never_asked_and_may_be_empty() -> None:
    checker = RecordChecker(FORM)
    assert checker.check({"where": "21.0285 105.8048 12 4"}) == {}
    assert checker.check({}) == {}  # no fix, or permission refused
    assert [e["code"] for e in checker.check({"where": "21 400"})["where"]] == ["not_geopoint"]


def test_every_problem_is_said_in_both_languages() -> None:
    errors = RecordChecker(FORM).check({"path": "1 2", "plot": "1 2;1 3;2 3;2 2"})
    for error in (*errors["path"], *errors["plot"]):
        assert error["vi"] and error["en"] and error["vi"] != error["en"]


def test_a_shape_left_open_is_closed_and_a_lines_empty_points_dropped() -> None:
    assert closed("1 2;1 3;2 3") == "1 2;1 3;2 3;1 2"
    assert closed("1 2;1 3;2 3;1 2") == "1 2;1 3;2 3;1 2"
    assert closed("1 2;1 3") == "1 2;1 3"  # too few to close: the check says so
    assert tidy("geotrace", " 1 2 0 3 ; 1 3 0 3;") == "1 2 0 3;1 3 0 3"
    assert tidy("geoshape", "1 2;\n1 3;\n2 3\n") == "1 2;1 3;2 3;1 2"
    assert read_points(tidy("geoshape", "1 2;1 3;2 3")) == [
        (1.0, 2.0, None, None),
        (1.0, 3.0, None, None),
        (2.0, 3.0, None, None),
        (1.0, 2.0, None, None),
    ]


def test_a_workbook_with_a_line_a_shape_and_a_start_point_imports(tmp_path: Path) -> None:
    survey = [
        ["type", "name", "label", "required", "constraint", "calculation"],
        ["start-geopoint", "where", "", "", "", ""],
        ["geotrace", "path", "Đường đi bộ", "yes", "", ""],
        ["geoshape", "plot", "Thửa đất", "", "area(.) < 5000000", ""],
        ["calculate", "plot_area", "", "", "", "area(${plot})"],
    ]
    definition = read_xlsform(workbook(tmp_path, survey))
    assert [p for p in check_form(definition) if not p.warning] == []
    form = Form(definition)
    assert [form.nodes[n].type for n in ("where", "path", "plot")] == [
        "start-geopoint",
        "geotrace",
        "geoshape",
    ]
    checker = RecordChecker(form)
    plot = "10 20;10 20.01;10.01 20.01;10.01 20;10 20"
    answers = {"path": "10 20 0 3;10 20.001 0 4", "plot": plot}
    assert checker.check(settle(form, answers)) == {}
    assert settle(form, answers)["plot_area"] == pytest.approx(1.22e6, rel=0.01)
    assert [e["code"] for e in checker.check({})["path"]] == ["required"]


def test_a_background_point_is_taken_when_its_trigger_is_answered(tmp_path: Path) -> None:
    survey = [
        ["type", "name", "label", "trigger"],
        ["text", "chu", "Chủ thửa", ""],
        ["background-geopoint", "noi_chu", "", "${chu}"],
    ]
    definition = read_xlsform(workbook(tmp_path, survey))
    assert [p for p in check_form(definition) if not p.warning] == []
    form = Form(definition)
    assert form.nodes["noi_chu"].get("trigger") == "${chu}"
    checker = RecordChecker(form)
    assert checker.check({"chu": "Lò Văn Minh"}) == {}  # no fix: left empty
    assert checker.check({"chu": "Lò Văn Minh", "noi_chu": "21.0285 105.8048 0 6"}) == {}
    codes = [e["code"] for e in checker.check({"noi_chu": "north"})["noi_chu"]]
    assert codes == ["not_geopoint"]


def test_a_background_point_inside_a_repeat_or_on_one_is_refused(tmp_path: Path) -> None:
    survey = [
        ["type", "name", "label", "trigger"],
        ["begin_repeat", "nguoi", "Người", ""],
        ["text", "ten", "Tên", ""],
        ["end_repeat", "", "", ""],
        ["background-geopoint", "noi", "", "${ten}"],
    ]
    error = refused(tmp_path, survey)
    assert (error.sheet, error.row, error.feature) == ("survey", 5, "type 'background-geopoint'")
    assert "outside any repeat" in error.en and "nhóm lặp" in error.vi
    # The trigger column is still refused everywhere else.
    other = [["type", "name", "label", "trigger", "calculation"], ["text", "a", "A", "", ""]]
    error = refused(tmp_path, [*other, ["calculate", "b", "", "${a}", "1"]])
    assert (error.row, error.feature) == (3, "column 'trigger'")


def test_a_start_point_inside_a_repeat_is_refused(tmp_path: Path) -> None:
    survey = [
        ["type", "name", "label"],
        ["begin_repeat", "nguoi", "Người"],
        ["text", "ten", "Tên"],
        ["start-geopoint", "noi", ""],
        ["end_repeat", "", ""],
    ]
    error = refused(tmp_path, survey)
    assert (error.sheet, error.row, error.feature) == ("survey", 4, "type 'start-geopoint'")
    assert "outside any repeat" in error.en and "ngoài mọi nhóm lặp" in error.vi

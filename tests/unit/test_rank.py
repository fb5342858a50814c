"""XLSForm's rank question: its rule held equal with the phone's (``schemas/rank_cases.json``,
which ``pwa/js/rank.js`` and ``form.js`` pass too), a workbook with one imported, its answers
checked, and its ODK string."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from schemas.form import Form
from schemas.rank import rank_problem, rank_text
from schemas.validate import RecordChecker
from schemas.xlsform import read_xlsform
from tests.unit.test_xlsform import workbook

CASES = json.loads(
    (Path(__file__).resolve().parents[2] / "schemas" / "rank_cases.json").read_text("utf-8")
)


@pytest.mark.parametrize("case", CASES["order"], ids=[c["name"] for c in CASES["order"]])
def test_order(case: dict[str, Any]) -> None:
    assert rank_problem(case["offered"], case["value"]) == case["problem"]


@pytest.mark.parametrize("case", CASES["records"], ids=[c["name"] for c in CASES["records"]])
def test_records(case: dict[str, Any]) -> None:
    errors = RecordChecker(Form(CASES["form"])).check(case["data"])
    assert {path: [e["code"] for e in found] for path, found in errors.items()} == case["errors"]


def test_a_workbook_with_a_rank_imports_and_its_answer_is_checked(tmp_path: Path) -> None:
    survey = [
        ["type", "name", "label::Tiếng Việt (vi)", "label::English (en)", "required"],
        ["rank crops", "crops", "Xếp hạng cây trồng", "Rank the crops", "yes"],
    ]
    choices = [
        ["list_name", "name", "label::Tiếng Việt (vi)", "label::English (en)"],
        ["crops", "rice", "Lúa", "Rice"],
        ["crops", "maize", "Ngô", "Maize"],
        ["crops", "beans", "Đậu", "Beans"],
    ]
    definition = read_xlsform(workbook(tmp_path, survey, choices))
    form = Form(definition)
    node = form.nodes["crops"]
    assert (node.type, node.list_name) == ("rank", "crops")
    checker = RecordChecker(form)
    assert checker.check({"crops": ["beans", "rice", "maize"]}) == {}
    errors = checker.check({"crops": ["beans", "rice"]})
    assert [e["code"] for e in errors["crops"]] == ["rank_incomplete"]
    assert "mỗi lựa chọn một lần" in errors["crops"][0]["vi"]
    assert [e["code"] for e in checker.check({})["crops"]] == ["required"]


def test_a_rank_over_a_list_the_choices_sheet_lacks_is_refused() -> None:
    from schemas.form import FormError

    definition = {
        "settings": {"form_id": "r", "version": "1"},
        "survey": [{"type": "rank nothing", "name": "r", "label": "R"}],
        "choices": [],
    }
    with pytest.raises(FormError, match="nothing"):
        Form(definition)


def test_odk_string_is_the_names_in_order() -> None:
    assert rank_text(["maize", "rice", "beans"]) == "maize rice beans"
    assert rank_text(None) == ""


def crops_form() -> Form:
    return Form(
        {
            "settings": {"form_id": "r", "version": "1"},
            "survey": [
                {
                    "type": "rank crops",
                    "name": "crops",
                    "label::Tiếng Việt (vi)": "Cây trồng",
                    "label::English (en)": "Crops",
                }
            ],
            "choices": [
                {
                    "list_name": "crops",
                    "name": n,
                    "label::Tiếng Việt (vi)": vi,
                    "label::English (en)": en,
                }
                for n, vi, en in (
                    ("rice", "Lúa", "Rice"),
                    ("maize", "Ngô", "Maize"),
                    ("beans", "Đậu", "Beans"),
                )
            ],
        }
    )


def test_the_record_page_reads_a_rank_as_places_and_labels() -> None:
    from server.domain.records.query import answer_text

    form = crops_form()
    node = form.nodes["crops"]
    assert answer_text(form, node, ["beans", "rice", "maize"], "vi") == "1. Đậu, 2. Lúa, 3. Ngô"
    assert (
        answer_text(form, node, ["beans", "rice", "maize"], "en") == "1. Beans, 2. Rice, 3. Maize"
    )


def test_exports_give_odk_string_or_the_labels_in_order() -> None:
    from server.domain.reports.exports import ExportOptions, value

    form = crops_form()
    node = form.nodes["crops"]
    answer = ["beans", "rice", "maize"]
    assert value(form, node, answer, ExportOptions("c")) == "beans rice maize"
    labelled = ExportOptions("c", labels=True, lang="en")
    assert value(form, node, answer, labelled) == "Beans; Rice; Maize"


def test_the_edit_page_lets_staff_reorder_by_places() -> None:
    from werkzeug.datastructures import MultiDict

    from server.domain.records.edit import field_view, read_form

    form = crops_form()
    data = {"crops": ["beans", "rice", "maize"]}
    view = field_view(form, form.nodes["crops"], data["crops"], "q:crops", "vi", data)
    assert view["ranked"] == [("beans", "Đậu", 1), ("rice", "Lúa", 2), ("maize", "Ngô", 3)]
    # Maize put first: the others keep their order behind it.
    sent = MultiDict({"q:crops:present": "1", "q:crops:beans": "1", "q:crops:rice": "2"})
    sent["q:crops:maize"] = "1"
    edited, errors = read_form(form, data, sent)
    assert errors == {}
    assert edited["crops"] == ["maize", "beans", "rice"]  # the changed place goes first
    sent["q:crops:beans"] = "2"
    sent["q:crops:rice"] = "3"
    edited, errors = read_form(form, data, sent)
    assert (edited["crops"], errors) == (["maize", "beans", "rice"], {})
    assert RecordChecker(form).check(edited) == {}
    # Every place cleared is no answer; a word is refused.
    cleared, _ = read_form(form, data, MultiDict({"q:crops:present": "1", "q:crops:rice": ""}))
    assert "crops" not in cleared
    _, errors = read_form(form, data, MultiDict({"q:crops:present": "1", "q:crops:rice": "one"}))
    assert [e["code"] for e in errors["crops"]] == ["not_integer"]
    # Not on the page that was sent: the answer stays as it was.
    assert read_form(form, data, MultiDict({}))[0] == data
    # A choice left without a place is left out, and the check says the order is incomplete.
    short, _ = read_form(form, data, MultiDict({"q:crops:present": "1", "q:crops:rice": "1"}))
    assert [e["code"] for e in RecordChecker(form).check(short)["crops"]] == ["rank_incomplete"]


def test_a_default_order_is_the_names_as_a_list_on_both_sides(tmp_path: Path) -> None:
    import subprocess

    from schemas.settle import defaults

    definition = {
        "settings": {"form_id": "r", "version": "1"},
        "survey": [{"type": "rank crops", "name": "r", "label": "R", "default": "maize rice"}],
        "choices": [
            {"list_name": "crops", "name": "rice", "label": "Rice"},
            {"list_name": "crops", "name": "maize", "label": "Maize"},
        ],
    }
    form = Form(definition)
    assert defaults(form.root) == {"r": ["maize", "rice"]}
    assert RecordChecker(form).check(defaults(form.root)) == {}
    script = (
        "import { Form, Rules } from './pwa/js/form.js';"
        f"const form = new Form({json.dumps(definition)});"
        "process.stdout.write(JSON.stringify(new Rules(form).defaults(form.root)));"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout) == {"r": ["maize", "rice"]}


def test_a_rank_with_or_other_is_refused(tmp_path: Path) -> None:
    from tests.unit.test_form_extras import refused

    survey = [["type", "name", "label"], ["text", "q", "Q"], ["rank yn or_other", "r", "R"]]
    error = refused(tmp_path, survey)
    assert (error.sheet, error.row, error.feature) == ("survey", 3, "type 'rank yn or_other'")
    assert "add an 'other' choice" in error.en and "thêm lựa chọn 'other'" in error.vi

"""The keys of a record's answers (schemas/form.py) against the shared case file
(schemas/key_cases.json), which the phone's pwa/js/form.js passes too."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from schemas.form import Form
from schemas.formcheck import check_form
from schemas.labels import label
from schemas.settle import settle
from schemas.validate import RecordChecker
from schemas.xlsform import read_xlsform
from server.domain.openrosa.instance import map_instance, read_instance
from tests.loop_forms import other_twice_workbook, twice_workbook

CASES = json.loads(
    (Path(__file__).resolve().parents[2] / "schemas" / "key_cases.json").read_text("utf-8")
)["cases"]


def form_of(survey: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "settings": {"form_id": "keys", "version": "1"},
        "survey": survey,
        "choices": [{"list_name": "yn", "name": n, "label": n} for n in ("yes", "no")],
    }


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_keys(case: dict[str, Any]) -> None:
    definition = form_of(case["survey"])
    assert [p for p in check_form(definition) if not p.warning] == []
    form = Form(definition)
    assert [node.name for node in form.walk()] == case["keys"]
    assert [form.written_name(node) for node in form.walk()] == [
        key.rsplit("/", 1)[-1] for key in case["keys"]
    ]
    data = settle(form, copy.deepcopy(case["data"]))
    if "settled" in case:
        assert data == case["settled"]
    assert sorted(RecordChecker(form).check(data, today="2026-11-30")) == sorted(case["errors"])


def test_an_answer_under_a_duplicated_name_alone_is_refused() -> None:
    # The bare name is no key once it is used twice: the server names it as no question.
    form = Form(form_of(CASES[1]["survey"]))
    errors = RecordChecker(form).check({"age": 40, "father/age": 40, "mother/age": 40})
    assert list(errors) == ["age"]


def test_a_reference_to_a_duplicated_name_is_refused() -> None:
    survey = [*CASES[1]["survey"], {"type": "note", "name": "n", "label": "Age ${age}"}]
    problems = [p for p in check_form(form_of(survey)) if not p.warning]
    assert [(p.row, p.feature) for p in problems] == [(10, "${age}")]
    assert "more than one group" in problems[0].message_en
    assert "nhiều nhóm" in problems[0].message_vi


def test_one_name_twice_in_one_group_is_refused() -> None:
    survey = [
        {"type": "begin_group", "name": "g", "label": "G"},
        {"type": "text", "name": "a", "label": "A"},
        {"type": "text", "name": "a", "label": "A"},
        {"type": "end_group"},
    ]
    problems = check_form(form_of(survey))
    assert [(p.row, p.message_en) for p in problems] == [
        (4, "the name 'a' is used twice in one group")
    ]
    assert problems[0].message_vi == "tên 'a' bị dùng hai lần trong cùng một nhóm"


# -- a workbook with one name in two groups ------------------------------------------------------
def test_a_name_in_two_groups_keys_each_answer_by_its_path(tmp_path: Path) -> None:
    definition = read_xlsform(twice_workbook(tmp_path / "parents.xlsx"))
    form = Form(definition)
    assert [n.name for n in form.walk() if n.kind == "field"] == [
        "mother/age",
        "mother/note",
        "job",
        "father/age",
        "father/note",
    ]
    assert label(form, form.nodes["father/age"], "en", {}, []) == "Father's age"
    checker = RecordChecker(form)
    assert checker.check({"mother/age": 30, "father/age": 31, "job": "farmer"}) == {}
    assert list(checker.check({"father/age": 130})) == ["mother/age", "father/age"]


def test_a_collect_submission_finds_each_answer_in_its_own_group(tmp_path: Path) -> None:
    # ODK Collect sends the same tag in both groups: each lands under its own key.
    form = Form(read_xlsform(twice_workbook(tmp_path / "parents.xlsx")))
    xml = (
        b'<data id="two_parents" version="1"><mother><age>34</age><note>A</note><job>B</job>'
        b"</mother><father><age>36</age><note>C</note></father>"
        b"<meta><instanceID>uuid:x</instanceID></meta></data>"
    )
    mapped = map_instance(form, read_instance(xml).root)
    assert mapped.data == {
        "mother/age": 34,
        "mother/note": "A",
        "job": "B",
        "father/age": 36,
        "father/note": "C",
    }
    assert RecordChecker(form).check(mapped.data) == {}


def test_an_element_in_the_wrong_group_is_kept_beside_the_answer_not_over_it(
    tmp_path: Path,
) -> None:
    form = Form(read_xlsform(twice_workbook(tmp_path / "parents.xlsx")))
    xml = (
        b'<data id="two_parents" version="1"><mother><age>34</age><job>B</job></mother>'
        b"<father><job>D</job></father><meta><instanceID>uuid:x</instanceID></meta></data>"
    )
    mapped = map_instance(form, read_instance(xml).root)
    assert mapped.data == {"mother/age": 34, "job": "B", "father/job": "D"}
    assert list(RecordChecker(form).check(mapped.data)) == ["father/job"]


def test_a_written_path_reference_is_refused() -> None:
    survey = [*CASES[1]["survey"], {"type": "note", "name": "n", "label": "Age ${father/age}"}]
    problems = [p for p in check_form(form_of(survey)) if not p.warning]
    assert [(p.row, p.feature) for p in problems] == [(10, "${father/age}")]
    assert "refer to a question by its name" in problems[0].message_en
    assert "hãy gọi câu hỏi bằng tên" in problems[0].message_vi


# -- a workbook with a select ... or_other whose name is in two groups ---------------------------
def test_or_other_on_a_name_in_two_groups_imports_each_other_beside_its_select(
    tmp_path: Path,
) -> None:
    definition = read_xlsform(other_twice_workbook(tmp_path / "owners.xlsx"))
    assert check_form(definition) == []
    form = Form(definition)
    assert [n.name for n in form.walk() if n.kind == "field"] == [
        "home/owner",
        "home/owner_other",
        "plots/owner",
        "plots/owner_other",
    ]
    assert form.nodes["plots/owner_other"].repeats == ("plots",)
    assert label(form, form.nodes["home/owner_other"], "vi", {}, []) == "Ghi rõ lựa chọn khác"
    checker = RecordChecker(form)
    record = {
        "home/owner": "other",
        "home/owner_other": "Hợp tác xã",
        "plots": [
            {"plots/owner": "other", "plots/owner_other": "Họ hàng"},
            {"plots/owner": "self"},
        ],
    }
    assert settle(form, copy.deepcopy(record)) == record
    assert checker.check(record) == {}
    stale = {"home/owner": "self", "home/owner_other": "left from before", "plots": []}
    assert settle(form, stale) == {"home/owner": "self", "plots": []}


def test_a_collect_submission_puts_each_other_answer_under_its_own_key(tmp_path: Path) -> None:
    form = Form(read_xlsform(other_twice_workbook(tmp_path / "owners.xlsx")))
    xml = (
        b'<data id="owners" version="1"><home><owner>other</owner>'
        b"<owner_other>HTX</owner_other></home>"
        b"<plots><owner>other</owner><owner_other>Cousin</owner_other></plots>"
        b"<plots><owner>state</owner><owner_other/></plots>"
        b"<meta><instanceID>uuid:x</instanceID></meta></data>"
    )
    mapped = map_instance(form, read_instance(xml).root)
    assert mapped.data == {
        "home/owner": "other",
        "home/owner_other": "HTX",
        "plots": [
            {"plots/owner": "other", "plots/owner_other": "Cousin"},
            {"plots/owner": "state"},
        ],
    }
    assert RecordChecker(form).check(mapped.data) == {}

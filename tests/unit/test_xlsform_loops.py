"""XLSForm's `begin loop`, read from workbooks built here and from pyxform's own example."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas.form import Form
from schemas.formcheck import Problem, with_version
from schemas.validate import RecordChecker
from schemas.xlsform import XLSFormError, read_xlsform
from server.domain.openrosa.service import _xform
from tests.loop_forms import loop_workbook, write_workbook

SHARED_LOOP = Path(__file__).resolve().parents[1] / "xlsforms" / "loop.xlsx"


def test_a_loop_is_one_group_per_choice_with_the_choice_in_its_labels(tmp_path: Path) -> None:
    warnings: list[Problem] = []
    definition = read_xlsform(loop_workbook(tmp_path / "crops.xlsx"), warnings=warnings)
    form = Form(with_version(definition, "1"))
    groups = form.nodes["harvest"].children
    # 'none' is left out of the loop, as pyxform leaves it out.
    assert [g.name for g in groups] == ["rice", "maize", "cassava"]
    assert [form.label(g, "vi") for g in groups] == ["Lúa", "Ngô", "Sắn"]
    assert [form.label(g, "en") for g in groups] == ["Rice", "Maize", "Cassava"]
    maize = form.nodes["harvest/maize/kg"]
    assert form.written_name(maize) == "kg"
    assert form.label(maize, "vi") == "Số kg Ngô đã thu"
    assert form.label(maize, "en") == "Kilograms of Maize harvested"
    assert form.label(form.nodes["harvest/cassava/sold"], "en") == "Sold any Cassava?"
    assert maize.get("required") == "yes" and maize.get("constraint") == ". >= 0"
    assert "farmer" in form.nodes  # used once: keyed by its name as before
    # Every row made from the loop points at the workbook's row it copies.
    assert [p for p in warnings if p.row is not None and p.row > 6] == []

    checker = RecordChecker(form)
    data = {"farmer": "Lan", "harvest/rice/kg": 120, "harvest/maize/kg": 40}
    assert list(checker.check(data)) == ["harvest/cassava/kg"]  # required in each group
    assert checker.check({**data, "harvest/cassava/kg": 0, "harvest/rice/sold": "yes"}) == {}
    assert list(checker.check({**data, "harvest/cassava/kg": -1})) == ["harvest/cassava/kg"]


def test_pyxforms_own_loop_example_gets_the_other_group_its_select_adds(tmp_path: Path) -> None:
    form = Form(with_version(read_xlsform(SHARED_LOOP), "1"))
    groups = form.nodes["loop_toilet_types"].children
    # pyxform adds 'other' to a list that a select ... or_other uses, so its loop has it too.
    assert [g.name for g in groups][-2:] == ["bucket_system", "other"]
    other = form.nodes["loop_toilet_types/other/number"]
    assert form.label(other) == "How many Other are on the premises?"


def test_the_xform_of_an_expanded_loop_nests_as_pyxforms_own(tmp_path: Path) -> None:
    path = loop_workbook(tmp_path / "crops.xlsx")
    definition = with_version(read_xlsform(path), "1")
    xform = _xform("harvest_loop", "1", json.dumps(definition))
    assert xform is not None
    assert "<harvest><rice><kg/><sold/></rice><maize><kg/><sold/></maize>" in xform


def test_loops_that_would_make_too_many_rows_are_refused_naming_the_loop(tmp_path: Path) -> None:
    # 90 choices, a loop in a loop: 8,100 groups of a question, over 24,000 rows.
    survey = [
        {"type": "begin loop over many", "name": "outer", "label": "Outer"},
        {"type": "begin loop over many", "name": "inner", "label": "Inner"},
        {"type": "integer", "name": "n", "label": "N %(label)s"},
        {"type": "end loop"},
        {"type": "end loop"},
    ]
    choices = [{"list_name": "many", "name": f"c{i}", "label": f"C{i}"} for i in range(90)]
    path = write_workbook(
        tmp_path / "many.xlsx",
        {"survey": survey, "choices": choices, "settings": [{"form_id": "many"}]},
    )
    with pytest.raises(XLSFormError) as refused:
        read_xlsform(path)
    assert (refused.value.sheet, refused.value.row) == ("survey", 2)
    assert "20,000" in refused.value.en and "vòng lặp" in refused.value.vi

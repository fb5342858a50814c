"""The compiled indicator count gives the counts the interpreter gave.

``IndicatorSet.compute`` compiles each expression once per form version and place and moves one
context from member to member; ``tests/indicators_reference.py`` keeps the count before, which
evaluated every expression from the record. On the default survey with its indicator file, and
on a workbook written here with an indicator set of its own (household, member and a repeat
inside the member scopes; answers of the household read from a member; node-set functions;
calculates; ``today()``; an expression with '.', one naming a field the form lacks), Hypothesis
draws records and both counts must agree. The Hypothesis runs are left out of `make
test-fast`, as the checker's are.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.form import Form
from schemas.indicators import IndicatorSet, indicator_set
from tests import indicators_reference
from tests.records import VISIT_DATE
from tests.unit.test_validate_compiled import households, workbook_form, workbook_records

__all__ = ["workbook_form"]  # the fixture, used by name

DAYS = ["2026-11-20", "1990-01-01", None]


def indicator(ident: str, scope: str, denominator: str, numerator: str) -> dict[str, Any]:
    unit = "person" if scope else "household"
    return {
        "id": ident,
        "unit": unit,
        "scope": scope,
        "label": {"vi": ident, "en": ident},
        "denominator": denominator,
        "numerator": numerator,
    }


WORKBOOK_SET = IndicatorSet.from_dict(
    {
        "form_id": "compiled",
        "coverage": {"surveyed": "${n_people} > 0 or ${region} != ''", "persons": "people"},
        "indicators": [
            indicator("north", "", "true()", "${region} = 'north'"),
            indicator("crowded", "", "${n_people} != ''", "count(${people}) >= 3"),
            indicator("land", "", "selected(${owns_land}, 'yes')", "${land_area} > 2"),
            indicator("adults", "people", "${age} != ''", "${adult} = 'yes'"),
            indicator("reads", "people", "${age} >= ${min_age}", "selected(${skills}, 'read')"),
            indicator("south_worker", "people", "${region} = 'south'", "count(${jobs}) > 0"),
            indicator("busy", "jobs", "${job} != ''", "${hours} > 40 and ${age} < 60"),
            indicator("all_hours", "", "true()", "sum(${hours}) > 50"),
            indicator("recent", "", "${visit} != ''", "${visit} <= today()"),
            indicator("dot", "people", "true()", ". = 'x'"),
            indicator("unknown", "", "true()", "${not_in_form} = 1"),
        ],
    }
)


@pytest.fixture(scope="module")
def default_set() -> IndicatorSet:
    found = indicator_set("ho_gia_dinh_cds")
    assert found is not None
    return found


@pytest.fixture(scope="module")
def default_form() -> Form:
    return Form.load()


def both(
    indicators: IndicatorSet, form: Form, data: dict[str, Any], day: str | None
) -> tuple[Any, Any]:
    expected = indicators_reference.compute(indicators, form, copy.deepcopy(data), day)
    return indicators.compute(form, data, day), expected


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=workbook_records(), day=st.sampled_from(DAYS))
def test_a_workbooks_records_count_as_the_interpreter_counted(
    workbook_form: Form, data: dict[str, Any], day: str | None
) -> None:
    counted, expected = both(WORKBOOK_SET, workbook_form, data, day)
    assert counted == expected


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=households(), day=st.sampled_from([VISIT_DATE, "2026-12-31", None]))
def test_default_survey_records_count_as_the_interpreter_counted(
    default_set: IndicatorSet, default_form: Form, data: dict[str, Any], day: str | None
) -> None:
    counted, expected = both(default_set, default_form, data, day)
    assert counted == expected


def test_a_workbook_household_counted_by_hand(workbook_form: Form) -> None:
    """The workbook's set on one household worked out by hand, so that the agreement above is
    not two counts of nothing."""
    data = {
        "min_age": 10,
        "n_people": 3,
        "region": "south",
        "owns_land": "yes",
        "land_area": 5,
        "visit": "2026-11-01",
        "people": [
            {"pname": "An", "age": 30, "skills": ["read"], "jobs": [{"job": "farm", "hours": 45}]},
            {"pname": "Bình", "age": 12, "skills": ["write"]},
            {"pname": "Chi", "age": 70, "skills": ["read", "write"], "jobs": [{"hours": 50}]},
        ],
    }
    counted, expected = both(WORKBOOK_SET, workbook_form, data, "2026-11-20")
    assert counted == expected
    assert (counted.surveyed, counted.persons) == (True, 3)
    assert counted.counts == {
        "north": (0, 1),
        "crowded": (1, 1),
        "land": (1, 1),
        "adults": (2, 3),  # the calculate: An and Chi are 18 or more
        "reads": (2, 3),  # all three are 10 or more; An and Chi read
        "south_worker": (2, 3),  # a household's answer read from each member
        "busy": (1, 1),  # Chi's job has no name: not asked
        "all_hours": (1, 1),  # 45 + 50 over every member's jobs
        "recent": (1, 1),
        "dot": (0, 3),  # '.' without a current field: false, never an error
        "unknown": (0, 1),  # a field the form lacks: false
    }


@pytest.mark.parametrize(
    "people",
    [
        [1, {"age": 30, "jobs": "x"}],
        [{"age": 30, "jobs": [1, None, {"job": "a", "hours": 50}]}, None],
        {"age": 30},
        [[], {"jobs": [{"job": "b", "hours": 41}], "age": 20}],
    ],
    ids=["member-not-object", "job-not-object", "repeat-an-object", "member-a-list"],
)
def test_odd_repeats_count_as_the_interpreter_counted(workbook_form: Form, people: Any) -> None:
    data = {"n_people": 2, "region": "south", "hours": 7, "people": people}
    counted, expected = both(WORKBOOK_SET, workbook_form, data, "2026-11-20")
    assert counted == expected and counted.surveyed

"""The compiled record checker gives the verdicts the checker gave before it was compiled.

The old checker (``tests/validate_reference.py``, kept verbatim) is the oracle: on a workbook
written here with relevance, required and constraint expressions (with and without '.', with
the form's own messages), calculates, choice filters, a repeat count and a repeat inside a
repeat, and on the default survey, Hypothesis draws records (odd types, empty answers, unknown
names, wrong roster sizes) and both checkers must give the same errors, messages included. The
expression programs bound to a place (``bind_at``) must give what ``evaluate`` gives, on the
random expressions and records the cross-engine tests draw. The Hypothesis runs (about 20 s) are
left out of `make test-fast`, as the cross-engine ones are.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.expressions import Context, ExpressionError, bind_at, evaluate, place
from schemas.form import Form
from schemas.validate import RecordChecker
from schemas.xlsform import read_xlsform
from tests.records import VISIT_DATE, adult, child, household_data
from tests.unit.test_expressions import SUITE, case_id, context_for, local_zone, matches
from tests.unit.test_expressions_property import FIELDS, expressions, records
from tests.unit.test_xlsform import workbook
from tests.validate_reference import ReferenceChecker

HEADER = [
    "type",
    "name",
    "label",
    "relevant",
    "required",
    "constraint",
    "constraint_message",
    "required_message",
    "calculation",
    "choice_filter",
    "repeat_count",
]


def row(kind: str, name: str, **columns: str) -> list[str]:
    return [kind, name, name.replace("_", " ")] + [columns.get(h, "") for h in HEADER[3:]]


SURVEY = [
    HEADER,
    row("calculate", "min_age", calculation="10"),
    row("integer", "n_people", required="yes", constraint=". >= 0 and . <= 5"),
    row("select_one region", "region", required="yes"),
    row("select_one district", "district", required="yes", choice_filter="region=${region}"),
    row("text", "phone", constraint="regex(., '^0[0-9]{9}$')"),
    row("calculate", "total", calculation="${n_people} * 2"),
    row(
        "decimal",
        "income",
        relevant="${n_people} > 0",
        required="${n_people} > 2",
        constraint=". >= 0",
        required_message="Thu nhập của hộ ${n_people} người",
    ),
    row("date", "visit", constraint=". <= today()"),
    # A pattern typed as an answer may not be a regular expression: the expressions using it
    # fail, and each rule takes its default (relevant, required; a constraint refuses).
    row("text", "pattern"),
    row("text", "code", constraint="regex(., ${pattern})"),
    row("text", "code_note", relevant="regex(${code}, ${pattern})"),
    row("text", "code_again", required="regex(${code}, ${pattern})"),
    row("begin_group", "about", relevant="${region} != 'south' or ${n_people} >= 3"),
    row("select_one yn", "owns_land", required="yes"),
    row("integer", "land_area", relevant="selected(${owns_land}, 'yes')", constraint=". > 0"),
    row("end_group", ""),
    row("begin_repeat", "people", repeat_count="${n_people}"),
    row("text", "pname", required="yes"),
    row(
        "integer",
        "age",
        required="yes",
        constraint=". < 120 and . >= 0",
        constraint_message="Tuổi của ${pname} (hộ ${region})",
    ),
    row("calculate", "adult", calculation="if(${age} >= 18, 'yes', 'no')"),
    row(
        "select_multiple skills",
        "skills",
        relevant="${age} >= ${min_age}",
        required="yes",
        constraint="not(selected(., 'none') and count-selected(.) > 1)",
    ),
    row("integer", "order", constraint=". >= 1 and . <= count(${people})"),
    row("begin_repeat", "jobs", relevant="${age} >= 15"),
    row("text", "job", required="${age} >= 15"),
    row("integer", "hours", relevant="${job} != ''", constraint=". <= 168 and . > ${age} - 200"),
    row("end_repeat", ""),
    row("end_repeat", ""),
    row("note", "summary", relevant="sum(${age}) > 0"),
    row("integer", "oldest", relevant="count(${people}) > 0", constraint=". = max(${age})"),
    row("select_one yn", "again", relevant="${region} = 'north' or ${n_people} >= 3"),
]
CHOICES = [
    ["list_name", "name", "label", "region"],
    ["yn", "yes", "Yes", ""],
    ["yn", "no", "No", ""],
    ["region", "north", "North", ""],
    ["region", "south", "South", ""],
    ["district", "d1", "D1", "north"],
    ["district", "d2", "D2", "north"],
    ["district", "d3", "D3", "south"],
    ["skills", "read", "Read", ""],
    ["skills", "write", "Write", ""],
    ["skills", "none", "None", ""],
]


@pytest.fixture(scope="module")
def workbook_form(tmp_path_factory: pytest.TempPathFactory) -> Form:
    path: Path = workbook(tmp_path_factory.mktemp("compiled"), SURVEY, CHOICES)
    return Form(read_xlsform(path))


def odd(*usual: Any) -> st.SearchStrategy[Any]:
    """An answer: mostly one of ``usual``, sometimes empty or of another type."""
    return st.one_of(
        st.sampled_from(usual),
        st.sampled_from([None, "", [], "3", 2.5, True, -1, 0, "x", ["read"], {}]),
    )


@st.composite
def workbook_records(draw: st.DrawFn) -> dict[str, Any]:
    def maybe(name: str, answers: st.SearchStrategy[Any], into: dict[str, Any]) -> None:
        if draw(st.integers(0, 5)):
            into[name] = draw(answers)

    data: dict[str, Any] = {}
    maybe("min_age", odd("10", 10), data)
    maybe("n_people", odd(0, 1, 2, 3, 4, 6), data)
    maybe("region", odd("north", "south"), data)
    maybe("district", odd("d1", "d2", "d3"), data)
    maybe("phone", odd("0912345678", "12345"), data)
    maybe("total", odd("4", 4, 2.0), data)
    maybe("income", odd(0, 1.5, -3, 1000), data)
    maybe("visit", odd("2026-11-20", "2026-12-01", "2026-02-30"), data)
    maybe("pattern", odd("^a", "(", "["), data)
    maybe("code", odd("ab", "ba"), data)
    maybe("code_note", odd("seen"), data)
    maybe("code_again", odd("again"), data)
    maybe("owns_land", odd("yes", "no"), data)
    maybe("land_area", odd(0, 5, 12.5), data)
    people = []
    for _ in range(draw(st.integers(0, 4))):
        person: dict[str, Any] = {}
        maybe("pname", odd("An", "Bình"), person)
        maybe("age", odd(5, 12, 15, 30, 130, 18.5), person)
        maybe("adult", odd("yes", "no"), person)
        skills = odd(["read"], ["read", "write"], ["none", "read"], ["read", "read"])
        maybe("skills", skills, person)
        maybe("order", odd(1, 2, 5), person)
        if draw(st.booleans()):
            person["jobs"] = [
                {
                    k: v
                    for k, v in {
                        "job": draw(odd("farm", "shop")),
                        "hours": draw(odd(10, 200, 40.5)),
                    }.items()
                    if draw(st.integers(0, 4))
                }
                for _ in range(draw(st.integers(0, 2)))
            ]
        if not draw(st.integers(0, 15)):
            person["ghost"] = 1
        people.append(person)
    if draw(st.integers(0, 8)):
        data["people"] = people
    elif draw(st.booleans()):
        data["people"] = draw(st.sampled_from(["x", [1], {}, [[]]]))
    maybe("summary", odd("seen"), data)
    maybe("oldest", odd(30, 12, 5), data)
    maybe("again", odd("yes", "no"), data)
    if not draw(st.integers(0, 15)):
        data["unknown"] = "?"
    return data


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    data=workbook_records(),
    today=st.sampled_from(["2026-11-20", "1990-01-01", None]),
    # How much of the form is written out as Python, the rest left to the closures (a form
    # larger than WRITTEN_MOST): none, part of it, all of it.
    written_most=st.sampled_from([0, 3, 12, None]),
)
def test_a_workbooks_records_get_the_errors_the_checker_before_gave(
    workbook_form: Form, data: dict[str, Any], today: str | None, written_most: int | None
) -> None:
    expected = ReferenceChecker(workbook_form).check(copy.deepcopy(data), today=today)
    checker = RecordChecker(workbook_form, written_most=written_most)
    assert checker.check(data, today=today) == expected


def test_the_workbook_draws_reach_every_kind_of_verdict(workbook_form: Form) -> None:
    # The property above means something only if the records it draws pass and fail in every
    # way the workbook can: a valid record, and each error code somewhere.
    checker = RecordChecker(workbook_form)
    valid = {
        "min_age": "10",
        "n_people": 2,
        "region": "north",
        "district": "d2",
        "total": "4",
        "income": 10,
        "owns_land": "yes",
        "land_area": 3,
        "people": [
            {"pname": "An", "age": 30, "skills": ["read"], "jobs": [{"job": "farm", "hours": 40}]},
            {"pname": "Bình", "age": 5, "adult": "no"},
        ],
        "summary": None,
        "oldest": 30,
        "again": "yes",
        "pattern": "^a",
        "code": "ab",
        "code_again": "ab",
    }
    assert checker.check(valid, today="2026-11-20") == {}
    wrong = copy.deepcopy(valid)
    wrong["district"] = "d3"  # offered only in the south
    wrong["people"][0]["age"] = 130
    wrong["people"][1]["skills"] = ["read"]  # a 5-year-old is not asked
    del wrong["people"][0]["skills"]
    wrong["people"][0]["jobs"][0]["hours"] = 200
    wrong["income"] = None  # not required with 2 people
    wrong["n_people"] = 3  # required now, and the roster has 2
    wrong["pattern"] = "("  # the code's constraint fails: refused; the note is relevant
    wrong["code_note"] = "seen"
    del wrong["code_again"]  # its required fails: required
    errors = checker.check(wrong, today="2026-11-20")
    assert errors == ReferenceChecker(workbook_form).check(wrong, today="2026-11-20")
    assert {p: [e["code"] for e in errs] for p, errs in errors.items()} == {
        "district": ["not_a_choice"],
        "income": ["required"],
        "people": ["repeat_count"],
        "people[0].age": ["constraint"],
        "people[0].skills": ["required"],
        "people[0].jobs[0].hours": ["constraint"],
        "people[1].skills": ["not_relevant"],
        "oldest": ["constraint"],
        "code": ["constraint"],
        "code_again": ["required"],
    }
    assert errors["people[0].age"][0]["vi"] == "Tuổi của An (hộ north)"
    assert errors["income"][0]["vi"] == "Thu nhập của hộ 3 người"


@st.composite
def households(draw: st.DrawFn) -> dict[str, Any]:
    members = [
        adult("Nguyễn Thị Hoa", 1980),
        adult("Nguyễn Văn Tú", 1978, "spouse", "male"),
        child("Nguyễn Văn Nam", 2013),
        child("Nguyễn Thị Bé", 2019),
    ]
    data = household_data(members=members[: draw(st.integers(0, 4))])
    for _ in range(draw(st.integers(0, 4))):
        target = data
        if data["members"] and draw(st.booleans()):
            target = data["members"][draw(st.integers(0, len(data["members"]) - 1))]
        key = draw(st.sampled_from(sorted(k for k in target if k != "members")))
        if draw(st.booleans()):
            del target[key]
        else:
            target[key] = draw(
                odd("yes", "no", "none", "come_back", "level1", ["none", "zalo"], 1850, 2030, 3)
            )
    if not draw(st.integers(0, 10)):
        data["members"] = draw(odd([{}], [{"member_name": "A"}]))
    if draw(st.booleans()):
        data["support"] = draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "support_member": odd(1, 2, 9),
                        "support_actions": odd(["vneid"]),
                        "support_result": odd("done", "revisit"),
                        "support_revisit_date": odd("2026-11-19", "2026-12-01"),
                    }
                ),
                max_size=2,
            )
        )
    return data


DEFAULT = Form.load()
CHECKER = RecordChecker(DEFAULT)
REFERENCE = ReferenceChecker(DEFAULT)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=households(), today=st.sampled_from([VISIT_DATE, "2026-12-31", None]))
def test_default_survey_records_get_the_errors_the_checker_before_gave(
    data: dict[str, Any], today: str | None
) -> None:
    expected = REFERENCE.check(copy.deepcopy(data), today=today)
    assert CHECKER.check(data, today=today) == expected


def _instances(data: dict[str, Any], position: list[list[Any]]) -> tuple[Any, ...] | None:
    """The record and its instance at each step of ``position``; None where one is missing
    (a checker never evaluates at a position it has no instance for)."""
    nodes: list[Any] = [data]
    for repeat, index in position:
        items = nodes[-1].get(repeat)
        if not isinstance(items, list) or not 0 <= index < len(items):
            return None
        if not isinstance(items[index], dict):
            return None
        nodes.append(items[index])
    return tuple(nodes)


def _outcome(run: Any) -> Any:
    try:
        value = run()
    except ExpressionError as exc:
        return ("error", exc.code)
    except RecursionError:
        return ("error", "syntax")
    if isinstance(value, float) and math.isnan(value):
        return ("nan",)
    if isinstance(value, float):
        return (value, math.copysign(1.0, value))  # -0 and +0 differ in a division
    return (type(value).__name__, value)


@pytest.mark.slow
@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    expr=expressions,
    data=records(),
    where=st.sampled_from([[], [["r", 0]], [["r", 1]], [["r", 0], ["q", 0]], [["r", 2], ["q", 1]]]),
    current=st.sampled_from([None, "a", "ms", "x", "z", "r", "q"]),
)
def test_programs_bound_to_a_place_give_what_evaluate_gives(
    expr: str, data: dict[str, Any], where: list[list[Any]], current: str | None
) -> None:
    nodes = _instances(data, where)
    if nodes is None:
        return

    def context() -> Context:
        return Context(
            data=data,
            fields=FIELDS,
            position=where,
            current=current,
            today="2024-05-01",
            now="2024-05-01T10:20:30.000+07:00",
        )

    program = bind_at(expr, FIELDS, [repeat for repeat, _ in where], current)
    bound = _outcome(lambda: program(place(context(), nodes)))
    assert bound == _outcome(lambda: evaluate(expr, context()))


@pytest.mark.parametrize("case", SUITE["cases"], ids=[case_id(c) for c in SUITE["cases"]])
def test_shared_cases_through_programs_bound_to_their_place(case: dict[str, Any]) -> None:
    # schemas/expression_cases.json as the compiled checker evaluates: bound to the case's
    # position and current field, the record's instances there placed in the context, run twice
    # on one context (nothing worked out for one run may carry over to the next).
    ctx = context_for(case)
    nodes = _instances(ctx.data, ctx.position)  # type: ignore[arg-type]
    if nodes is None:
        pytest.skip("no instance at this position: a checker never evaluates there")
    place(ctx, nodes)
    program = bind_at(case["expr"], ctx.fields, [r for r, _ in ctx.position], ctx.current)
    if "error" in case:
        assert _outcome(lambda: program(ctx)) == ("error", case["error"])
        return
    with local_zone(case.get("tz", SUITE["tz"])):
        program(ctx)
        actual = program(ctx)
    assert matches(actual, case["expect"]), f"{case['expr']!r} gave {actual!r}"


PLACE_DATA = {
    "a": 3,
    "s": "yes",
    "ms": ["radio", "tv"],
    "r": [
        {"x": 3, "y": "", "q": [{"z": 1}, {"z": "2"}]},
        {"x": "5", "q": []},
        {"x": None, "y": 7.5, "q": [{"z": None}]},
    ],
}


@pytest.mark.parametrize(
    "expr",
    [
        "${x} = 3",  # at the top a node-set: true when one member's is
        "${x} != 3",
        "${x} >= ${a}",
        "${z} < 2",
        "if(true(), ${x}, '') = 3",
        "if(false(), 1, ${z}) > 1",
        "randomize(${x}, 7) = 5",
        "coalesce(${x}, 9) = 3",
        "${x} = ${a} and ${y} = ''",
        "${a} and ${s}",
        "${y} or 0",
        "(${x} = 3) = (${a} = 3)",
        "${a} + ${x} > 5",
        "-${x} < 0",
        "count(${x}) > 2 or ${s} = 'yes'",
        "count-selected(${ms}) = 2 and selected(${ms}, 'tv')",
        "not(selected(., 'radio') and count-selected(.) > 1)",
        ". >= 3 and . <= count(${r})",
        "format-date(today(), '%Y') >= ${a}",
        "position(..) = 2",
        "${r} = ''",
        "string-length(${x}) = 1",
        "${x}",
        ".",
        # The written programs' own ways: a text answer against a text, either way round (and
        # an answer that is not a text), arithmetic, and nodes nested deeper than they write.
        "'yes' = ${s} and ${a} != '3'",
        "${x} = '5' or '' != ${y}",
        "((${a} + 1) * 2 - ${x}) div 2 mod 3 = 1",
        "not(" * 40 + "${a} = 3" + ")" * 40,
        "-(" * 30 + "${x}" + ")" * 30 + " < 0",
    ],
)
@pytest.mark.parametrize("where", [[], [["r", 0]], [["r", 1]], [["r", 2], ["q", 0]]])
@pytest.mark.parametrize("current", [None, "a", "ms", "x", "z", "r"])
def test_each_shortcut_of_a_bound_program_gives_what_evaluate_gives(
    expr: str, where: list[list[Any]], current: str | None
) -> None:
    def context() -> Context:
        return Context(
            data=PLACE_DATA, fields=FIELDS, position=where, current=current, today=VISIT_DATE
        )

    nodes = _instances(PLACE_DATA, where)
    assert nodes is not None
    program = bind_at(expr, FIELDS, [repeat for repeat, _ in where], current)
    bound = _outcome(lambda: program(place(context(), nodes)))
    assert bound == _outcome(lambda: evaluate(expr, context()))


def test_a_long_chain_is_bound_and_checked_as_evaluate_reads_it(tmp_path: Path) -> None:
    # A chain of comparisons nests one level a term, with no bracket for the parser to bound:
    # written out whole, 150 terms are more parentheses than Python's parser takes.
    chain = " < ".join(["${n}"] * 75 + ["${m}"] * 75)
    for data in ({"n": 1, "m": 2}, {"n": "", "m": 7}):
        ctx = Context(data=data, fields={"n": [], "m": []})
        program = bind_at(chain, ctx.fields, [], None)
        assert program(place(ctx, [data])) == evaluate(chain, ctx)
    survey = [
        HEADER,
        row("integer", "n"),
        row("integer", "m", relevant=chain, constraint=f"not({chain})"),
    ]
    form = Form(read_xlsform(workbook(tmp_path, survey, [["list_name", "name", "label"]])))
    for data in ({"n": 1, "m": 2}, {"n": 3, "m": 1}, {"n": 0}):
        assert RecordChecker(form).check(data, VISIT_DATE) == ReferenceChecker(form).check(
            data, VISIT_DATE
        )

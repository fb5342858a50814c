"""The Python expression engine against the shared case file, plus what the file cannot say."""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from schemas import expr_parser
from schemas.expressions import (
    Context,
    ExpressionError,
    bind,
    evaluate,
    evaluate_bool,
    parse,
    references,
    to_boolean,
    to_number,
    to_string,
)

CASES_FILE = Path(__file__).resolve().parents[2] / "schemas" / "expression_cases.json"
SUITE = json.loads(CASES_FILE.read_text(encoding="utf-8"))


def context_for(case: dict[str, Any]) -> Context:
    return Context(
        data=case.get("data", SUITE["data"]),
        fields=case.get("fields", SUITE["fields"]),
        position=case.get("position", []),
        current=case.get("current"),
        today=case.get("today"),
        now=case.get("now"),
        choices=case.get("choices"),
        files=case.get("files"),
    )


@contextmanager
def local_zone(name: str) -> Iterator[None]:
    """Run in another local zone, as a server started with TZ=name would."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


def matches(actual: Any, expect: Any) -> bool:
    """Does an engine value equal a case-file value (types must agree: 1 is not true)?"""
    if isinstance(expect, dict):
        if "nan" in expect:
            return type(actual) is float and math.isnan(actual)
        if "inf" in expect:
            return type(actual) is float and actual == math.inf * expect["inf"]
        wanted = expect["nodeset"]
        return (
            type(actual) is list
            and len(actual) == len(wanted)
            and all(matches(a, w) for a, w in zip(actual, wanted, strict=True))
        )
    if isinstance(expect, bool):
        return type(actual) is bool and actual is expect
    if isinstance(expect, int | float):
        return type(actual) is float and math.isclose(actual, expect, rel_tol=1e-12, abs_tol=1e-12)
    return type(actual) is str and actual == expect


def case_id(case: dict[str, Any]) -> str:
    extra = "@" + ".".join(f"{r}{i}" for r, i in case["position"]) if "position" in case else ""
    extra += f"@{case['tz']}" if "tz" in case else ""
    extra += f"@.={case['current']}" if "current" in case else ""
    return case["expr"] + extra


def bound(expr: str, ctx: Context) -> Any:
    """``evaluate`` as the record checker does it: bound to the form's fields, then run twice
    on one context (what is worked out once must not carry over from one run to the next)."""
    program = bind(expr, ctx.fields)
    program(ctx)
    return program(ctx)


@pytest.mark.parametrize("run", [evaluate, bound], ids=["evaluate", "bind"])
@pytest.mark.parametrize("case", SUITE["cases"], ids=[case_id(c) for c in SUITE["cases"]])
def test_shared_case(case: dict[str, Any], run: Any) -> None:
    ctx = context_for(case)
    if "error" in case:
        with pytest.raises(ExpressionError) as info:
            run(case["expr"], ctx)
        assert info.value.code == case["error"], str(info.value)
        return
    with local_zone(case.get("tz", SUITE["tz"])):
        actual = run(case["expr"], ctx)
    assert matches(actual, case["expect"]), f"{case['expr']!r} gave {actual!r}"


def test_case_file_is_big_enough_and_covers_every_function() -> None:
    cases = SUITE["cases"]
    assert len(cases) >= 320
    text = " ".join(c["expr"] for c in cases)
    for name in expr_parser.FUNCTIONS:
        assert re.search(rf"(?<![\w-]){re.escape(name)}\(", text), name
    for op in (" div ", " mod ", " and ", " or ", "!=", "<=", ">=", " < ", " > ", " = ", "*"):
        assert op in text, op
    codes = {c["error"] for c in cases if "error" in c}
    assert {"syntax", "unknown_function", "unknown_field", "arity", "type"} <= codes


# -- errors carry what the form author needs ----------------------------------------------------
def test_syntax_error_names_the_position() -> None:
    with pytest.raises(ExpressionError) as info:
        parse("${a} + * 3")
    assert info.value.code == "syntax"
    assert info.value.position == 7
    assert "position 7" in str(info.value)


def test_unknown_function_and_field_are_named() -> None:
    with pytest.raises(ExpressionError, match=r"frobnicate\(\)"):
        parse("frobnicate(1)")
    with pytest.raises(ExpressionError, match=r"\$\{ghost\}") as info:
        evaluate("${ghost} > 1", Context(data={}, fields={}))
    assert info.value.code == "unknown_field"


def test_arity_message_says_what_is_expected() -> None:
    with pytest.raises(ExpressionError, match=r"substr\(\) takes 2 to 3 argument"):
        parse("substr('a')")


def test_expression_error_is_a_value_error() -> None:
    assert issubclass(ExpressionError, ValueError)


def test_deep_nesting_is_a_syntax_error_not_a_crash() -> None:
    with pytest.raises(ExpressionError) as info:
        parse("(" * 500 + "1" + ")" * 500)
    assert info.value.code == "syntax"


# -- API ---------------------------------------------------------------------------------------
def test_parse_is_cached() -> None:
    assert parse("1 + ${a}") is parse("1 + ${a}")


def test_references() -> None:
    assert references("${a} + count(${r}) > . and selected(${b}, 'x')") == {"a", "r", "b"}
    assert references("1 + 2") == set()
    found = references("${a}")
    found.add("mutated")
    assert references("${a}") == {"a"}


def test_evaluate_bool_reads_relevance_like_odk() -> None:
    ctx = Context(
        data={"n": 0, "s": "x", "m": [{"v": ""}]}, fields={"n": [], "s": [], "m": [], "v": ["m"]}
    )
    assert evaluate_bool("${n}", ctx) is False
    assert evaluate_bool("${s}", ctx) is True
    assert evaluate_bool("${v}", ctx) is True  # a non-empty node-set, as XPath says


def test_conversion_helpers() -> None:
    assert to_number("  4.5 ") == 4.5
    assert math.isnan(to_number(""))
    assert to_number(True) == 1.0
    assert to_number([7.0, 8.0]) == 7.0
    assert to_string(3.0) == "3"
    assert to_string(float("nan")) == "NaN"
    assert to_string(-math.inf) == "-Infinity"
    assert to_string(1e-7) == "1e-7"
    assert to_string(123456789.125) == "123456789.125"
    assert to_string([]) == ""
    assert to_boolean("false") is True
    assert to_boolean(float("nan")) is False
    assert to_boolean([""]) is True


def test_numbers_come_back_as_float_never_int() -> None:
    value = evaluate("${n}", Context(data={"n": 3}, fields={"n": []}))
    assert type(value) is float and value == 3.0


def test_today_and_now_default_to_the_clock() -> None:
    ctx = Context(data={}, fields={})
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", evaluate("today()", ctx))
    assert re.fullmatch(
        r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}", evaluate("now()", ctx)
    )


def test_context_position_accepts_tuples() -> None:
    ctx = Context(
        data={"r": [{"x": 1}, {"x": 2}]}, fields={"r": [], "x": ["r"]}, position=(("r", 1),)
    )
    assert evaluate("${x}", ctx) == 2.0


def test_fields_map_may_be_replaced_between_calls() -> None:
    fields: dict[str, list[str]] = {"x": []}
    data = {"x": [{"y": 1}]}
    assert evaluate("count(${x})", Context(data=data, fields=fields)) == 1.0
    fields["y"] = ["x"]  # now x is a repeat with one instance
    assert evaluate("count(${x})", Context(data=data, fields=fields)) == 1.0
    assert evaluate("${x}", Context(data=data, fields=fields)) == [""]


def test_malformed_data_does_not_crash() -> None:
    fields = {"r": [], "x": ["r"]}
    for data in ({"r": "oops"}, {"r": [None, 5, {"x": 1}]}, {"r": None}, {}):
        value = evaluate("count(${r}) + sum(${x})", Context(data=data, fields=fields))
        assert isinstance(value, float)


def test_every_function_in_the_grammar_is_implemented() -> None:
    ctx = Context(
        data={"r": [{"x": 1}]},
        fields={"r": [], "x": ["r"]},
        current="x",
        position=[["r", 0]],
        today="2024-01-01",
        now="2024-01-01T00:00:00Z",
    )
    for name, (low, _) in expr_parser.FUNCTIONS.items():
        args = {
            "count": "${x}",
            "sum": "${x}",
            "count-non-empty": "${x}",
            "position": "..",
            "indexed-repeat": "${x}, ${r}, 1",
        }.get(name, ", ".join(["1"] * low))
        evaluate(f"{name}({args})", ctx)


def test_a_date_follows_the_zone_the_process_is_in_now() -> None:
    # Number conversions are cached; a date's must not be, or a zone change would be missed.
    ctx = Context(data={}, fields={})
    with local_zone("UTC"):
        assert evaluate("decimal-date-time('2018-01-01')", ctx) == 17532.0
    with local_zone("Asia/Ho_Chi_Minh"):
        assert evaluate("decimal-date-time('2018-01-01')", ctx) == 17532 - 7 / 24
    with local_zone("America/New_York"):
        assert evaluate("format-date(0, '%Y-%m-%d %H:%M')", ctx) == "1969-12-31 19:00"


def test_uuid_is_random_and_bounded() -> None:
    ctx = Context(data={}, fields={})
    ids = {evaluate("uuid()", ctx) for _ in range(200)}
    assert len(ids) == 200
    pattern = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
    assert all(re.fullmatch(pattern, i) for i in ids)  # type: ignore[arg-type]
    assert re.fullmatch(r"[0-9A-Za-z]{20}", evaluate("uuid(20)", ctx))  # type: ignore[arg-type]
    assert evaluate("string-length(uuid(1000000))", ctx) == 1024.0


def test_randomize_without_a_seed_is_a_permutation() -> None:
    fields = {"r": [], "x": ["r"]}
    data = {"r": [{"x": letter} for letter in "ABCDEFGH"]}
    orders = {
        "".join(evaluate("randomize(${x})", Context(data=data, fields=fields)))  # type: ignore[arg-type]
        for _ in range(50)
    }
    assert all(sorted(order) == list("ABCDEFGH") for order in orders)
    assert len(orders) > 1

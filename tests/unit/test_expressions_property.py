"""Both expression engines give the same answer on random expressions and random answers.

Hypothesis draws well-formed expressions over the whole grammar (plus some token soup, so the two
parsers must also agree on what is an error and which kind), with random records that include
empty answers, odd strings, dates, select_multiple lists and nested repeats. Each test gathers a
batch of examples and sends it to one ``node tests/js/eval_cli.mjs`` call: a process per example
would make the test take minutes. Failures list the shortest disagreeing expressions.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from schemas.expressions import Context, ExpressionError, evaluate

# Left out of `make test-fast`: 750 Hypothesis expressions, each run by both engines (~5 s).
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "tests" / "js" / "eval_cli.mjs"
BATCH = 300

FIELDS = {
    "a": [],
    "b": [],
    "s": [],
    "d": [],
    "ms": [],
    "r": [],
    "x": ["r"],
    "y": ["r"],
    "q": ["r"],
    "z": ["r", "q"],
}
SCALAR_REFS = ["${a}", "${b}", "${s}", "${d}", "${ms}", "${x}", "${y}", "${z}"]
CHOICES = ["yes", "no", "radio", "tv", "a", "b"]

answers = st.one_of(
    st.none(),
    st.integers(-1000, 1000),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.5, -0.0, 1e21, 1e-7, 123.456, 2.675, -2.5]),
    st.sampled_from(
        [
            "",
            "0",
            "1.5",
            " 12 ",
            "abc",
            "2024-05-01",
            "2024-02-29T10:00:00+07:00",
            "1970-01-01T00:00:00.5Z",
            "a b",
            "-0",
            "1e3",
            "NaN",
            "Infinity",
            "yes",
            "no",
            "5.",
            "-.5",
            "Nguyễn",
            "radio tv",
            "2023-02-29",
        ]
    ),
    st.text(max_size=4),
)


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in ("a", "b", "s", "d"):
        if draw(st.booleans()):
            data[name] = draw(answers)
    if draw(st.booleans()):
        data["ms"] = draw(st.lists(st.sampled_from(CHOICES), max_size=3, unique=True))
    instances = []
    for _ in range(draw(st.integers(0, 3))):
        inst: dict[str, Any] = {n: draw(answers) for n in ("x", "y") if draw(st.booleans())}
        inst["q"] = [{"z": draw(answers)} for _ in range(draw(st.integers(0, 2)))]
        instances.append(inst)
    data["r"] = instances
    return data


positions = st.one_of(
    st.just([]),
    st.builds(lambda i: [["r", i]], st.integers(0, 3)),
    st.builds(lambda i, j: [["r", i], ["q", j]], st.integers(0, 3), st.integers(0, 2)),
)

numbers = st.one_of(
    st.integers(0, 100).map(str), st.sampled_from(["0", "1.5", ".5", "5.", "0.1", "1000000", "007"])
)
strings = st.one_of(
    st.text(alphabet="abc 019.-Nẽ", max_size=6).map(lambda t: f"'{t}'"),
    st.sampled_from(["''", '"a b"', "'2024-05-01'", "'yes'", "' 12 '", "'1e3'", "'radio'"]),
)
leaves = st.one_of(
    numbers,
    strings,
    st.sampled_from(SCALAR_REFS),
    st.sampled_from(
        [
            "${r}",
            "${q}",
            ".",
            "true()",
            "false()",
            "today()",
            "now()",
            "position(..)",
            "count(${r})",
            "count(${x})",
            "sum(${x})",
            "count(${q})",
            "sum(${z})",
            "count(.)",
        ]
    ),
)
BINARY_OPS = ["+", "-", "*", "div", "mod", "=", "!=", "<", "<=", ">", ">=", "and", "or"]
UNARY_FUNCS = [
    "not",
    "number",
    "string",
    "boolean",
    "int",
    "floor",
    "ceiling",
    "abs",
    "round",
    "string-length",
    "count-selected",
    "decimal-date-time",
]
PAIR_FUNCS = [
    "selected",
    "contains",
    "starts-with",
    "coalesce",
    "substr",
    "round",
    "min",
    "max",
    "concat",
    "join",
]
REGEXES = [
    "'^[0-9]+$'",
    "'a'",
    "'^$'",
    "'[a-z]'",
    "'^\\w+$'",
    "'\\d{2}'",
    "'b|c'",
    "'^.{3}$'",
    "'5[$]$'",
    "'x*'",
    "'('",
]
FORMATS = ["'%Y-%m-%d'", "'%e/%m %H:%M:%S'", "'%d %b %%'", "''"]


def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    spaced = st.sampled_from([" ", ""])
    return st.one_of(
        st.builds(
            lambda a, op, b, sp: f"{a} {op} {b}" if op.isalpha() else f"{a}{sp}{op}{sp}{b}",
            inner,
            st.sampled_from(BINARY_OPS),
            inner,
            spaced,
        ),
        st.builds(lambda a: f"-{a}", inner),
        st.builds(lambda a: f"({a})", inner),
        st.builds(lambda f, a: f"{f}({a})", st.sampled_from(UNARY_FUNCS), inner),
        st.builds(lambda f, a, b: f"{f}({a}, {b})", st.sampled_from(PAIR_FUNCS), inner, inner),
        st.builds(lambda a, b, c: f"if({a}, {b}, {c})", inner, inner, inner),
        st.builds(lambda a, b, c: f"substr({a}, {b}, {c})", inner, inner, inner),
        st.builds(
            lambda f, xs: f"{f}({', '.join(xs)})",
            st.sampled_from(["concat", "min", "max", "join"]),
            st.lists(inner, min_size=1, max_size=4),
        ),
        st.builds(lambda a, p: f"regex({a}, {p})", inner, st.sampled_from(REGEXES)),
        st.builds(lambda a, f: f"format-date({a}, {f})", inner, st.sampled_from(FORMATS)),
    )


expressions = st.recursive(leaves, extend, max_leaves=12)
TOKENS = [
    "1",
    "'a'",
    "${a}",
    "${x}",
    "${nope}",
    "(",
    ")",
    ",",
    "+",
    "-",
    "*",
    "div",
    "mod",
    "=",
    "!=",
    "<",
    ">=",
    "and",
    "or",
    ".",
    "..",
    "not(",
    "count(",
    "position(",
    "if(",
    "foo(",
    "age",
    "'",
    "${",
    "}",
    "[",
    "1e3",
    "true()",
    "concat(",
]
token_soup = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=7).map(" ".join)


@st.composite
def items(draw: st.DrawFn, exprs: st.SearchStrategy[str]) -> dict[str, Any]:
    return {
        "expr": draw(exprs),
        "ctx": {
            "data": draw(records()),
            "fields": FIELDS,
            "position": draw(positions),
            "current": draw(st.sampled_from([None, "a", "ms", "x", "z"])),
            "today": "2024-05-01",
            "now": "2024-05-01T10:20:30.000+07:00",
        },
    }


def encode(value: Any) -> Any:
    if isinstance(value, list):
        return {"nodeset": [encode(v) for v in value]}
    if isinstance(value, float):
        if math.isnan(value):
            return {"nan": True}
        if math.isinf(value):
            return {"inf": 1 if value > 0 else -1}
    return value


def run_python(item: dict[str, Any]) -> Any:
    c = item["ctx"]
    ctx = Context(
        data=c["data"],
        fields=c["fields"],
        position=c["position"],
        current=c["current"],
        today=c["today"],
        now=c["now"],
    )
    try:
        return encode(evaluate(item["expr"], ctx))
    except ExpressionError as exc:
        return {"error": exc.code}
    except Exception as exc:  # noqa: BLE001 - a crash is a disagreement to report, not to raise
        return {"error": "crash", "message": repr(exc)}


def same(py: Any, js: Any) -> bool:
    if isinstance(py, dict) and isinstance(js, dict):
        if "nodeset" in py:
            return (
                "nodeset" in js
                and len(py["nodeset"]) == len(js["nodeset"])
                and all(same(a, b) for a, b in zip(py["nodeset"], js["nodeset"], strict=True))
            )
        return py == js and py.get("error") != "crash"
    if isinstance(py, bool) or isinstance(js, bool):
        return type(py) is type(js) and py == js
    if isinstance(py, float) and isinstance(js, int | float):
        # JSON.stringify prints 1e20 as "100000000000000000000": an int here, but the same double
        return py == float(js)
    return type(py) is type(js) and py == js


def gather(strategy: st.SearchStrategy[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    drawn: list[dict[str, Any]] = []

    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(item: dict[str, Any]) -> None:
        drawn.append(item)

    collect()
    return drawn


def check_batch(batch: list[dict[str, Any]]) -> None:
    node = shutil.which("node")
    assert node, "node is needed for the cross-engine test"
    payload = json.dumps(batch, ensure_ascii=False, allow_nan=False)
    proc = subprocess.run(
        [node, str(CLI)], input=payload.encode(), capture_output=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr.decode()
    js_results = json.loads(proc.stdout)
    assert len(js_results) == len(batch)
    failures = []
    for item, js in zip(batch, js_results, strict=True):
        py = run_python(item)
        if not same(py, js):
            failures.append((len(item["expr"]), item, py, js))
    failures.sort(key=lambda f: f[0])
    report = "\n".join(
        f"{json.dumps(item, ensure_ascii=False)}\n  python: {py}\n  js:     {js}"
        for _, item, py, js in failures[:5]
    )
    assert not failures, f"{len(failures)} of {len(batch)} disagree; shortest:\n{report}"


def test_engines_agree_on_random_expressions() -> None:
    batch = gather(items(expressions), BATCH)
    assert len(batch) >= BATCH // 2
    check_batch(batch)


def test_engines_agree_on_token_soup() -> None:
    check_batch(gather(items(token_soup), BATCH // 2))


@st.composite
def float_items(draw: st.DrawFn) -> dict[str, Any]:
    # number -> string and round() are where the two languages differ most: drive them with
    # arbitrary doubles.
    expr = draw(
        st.sampled_from(
            [
                "string(${b})",
                "round(${b}, 2)",
                "round(${b}, -3)",
                "round(${b})",
                "round(${b}, 17)",
                "concat(${b}, '')",
                "${b} mod 7",
                "format-date(${b}, '%Y-%m-%d %H:%M:%S')",
                "int(${b})",
                "substr(${b}, 1, 4)",
                "number(string(${b})) = ${b}",
                "${b} div 3",
                "floor(${b})",
            ]
        )
    )
    return {
        "expr": expr,
        "ctx": {
            "data": {"b": draw(st.floats(allow_nan=False, allow_infinity=False))},
            "fields": {"b": []},
            "position": [],
            "current": None,
            "today": None,
            "now": None,
        },
    }


def test_engines_agree_on_arbitrary_doubles() -> None:
    check_batch(gather(float_items(), BATCH))

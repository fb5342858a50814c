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
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
CHOICE_LABELS = {"s": {"yes": "Có", "no": "Không"}, "ms": {"radio": "Đài", "a": "A"}}
# pulldata()'s attached files, as a form definition holds them.
FILES = {
    "ho": {
        "columns": ["ma", "ten", "so"],
        "rows": [["1", "Một", "4"], ["a", "A", ""], ["1", "Lần hai", "9"], ["", "Trống", "0"]],
    }
}

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
            "0 0",
            "10.5 106.7 5 3",
            "0 0;0 1;1 1;0 0",
            "06:00:00+07:00",
            "12:30",
            "SGVsbG8=",
            "Tmd1eeG7hW4",
            "true",
            "2024-03-10T02:30:00",
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
            "pi()",
            "position()",
            "count-non-empty(${x})",
            "count-non-empty(${z})",
            "count-non-empty(${r})",
            "string-length(uuid())",
            "string-length(uuid(5))",
            "random() < 1",
            "join(' ', randomize(${x}, 7))",
            "join('', randomize(${z}, -3))",
            "count-selected(join(' ', randomize(${q})))",
            "indexed-repeat(${x}, ${r}, 2)",
            "indexed-repeat(${z}, ${r}, 1, ${q}, 2)",
            "indexed-repeat(${z}, ${q}, 1)",
            "jr:choice-name(${s}, '${s}')",
            "jr:choice-name(${ms}, '/data/ms')",
            "once(${a})",
            "pulldata('ho', 'ten', 'ma', ${x})",
            "pulldata('ho', 'so', 'ma', ${a}) + 1",
            "pulldata('ho', 'ma', 'ten', ${s})",
            "pulldata('khong', 'ten', 'ma', ${x})",
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
    "normalize-space",
    "boolean-from-string",
    "date",
    "date-time",
    "decimal-time",
    "base64-decode",
    "area",
    "distance",
    "sqrt",
    "once",
]
# Each language's own libm: results may differ in the last bit, so they are compared rounded.
TRANSCENDENTAL = ["exp", "exp10", "log", "log10", "sin", "cos", "tan", "asin", "acos", "atan"]
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
    "ends-with",
    "substring-before",
    "substring-after",
    "substring",
    "selected-at",
    "geofence",
    "format-date-time",
]
DIGESTS = ["'MD5'", "'sha-1'", "'SHA-256'", "'SHA-384'", "'SHA-512'", "'SHA-3'"]
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
FORMATS = ["'%Y-%m-%d'", "'%e/%m %H:%M:%S'", "'%d %b %%'", "''", "'%a %y %n %h %3'"]


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
        st.builds(lambda a, b, c: f"translate({a}, {b}, {c})", inner, inner, inner),
        st.builds(
            lambda f, xs: f"{f}({', '.join(xs)})",
            st.sampled_from(["checklist", "weighted-checklist"]),
            st.lists(inner, min_size=2, max_size=6).map(
                lambda xs: xs if len(xs) % 2 == 0 else xs[:-1]
            ),
        ),
        st.builds(
            lambda a, d, e: f"digest({a}, {d}{e})",
            inner,
            st.sampled_from(DIGESTS),
            st.sampled_from(["", ", 'hex'", ", 'base64'", ", 'x'"]),
        ),
        st.builds(lambda f, a: f"round({f}({a}), 6)", st.sampled_from(TRANSCENDENTAL), inner),
        st.builds(lambda a, b: f"round(pow({a}, {b}), 6)", inner, inner),
        st.builds(lambda a, b: f"round(atan2({a}, {b}), 6)", inner, inner),
        st.builds(lambda a, b: f"join(',', randomize(${{x}}, {a}))", inner, inner),
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
    "jr:choice-name(",
    "indexed-repeat(",
    "pulldata('ho', 'ten', 'ma',",
    "${r}",
    "pi()",
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
            "choices": CHOICE_LABELS,
            "files": FILES,
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
        choices=c.get("choices"),
        files=c.get("files"),
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


@contextmanager
def local_zone(name: str | None) -> Iterator[None]:
    if name is None:
        yield
        return
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


def check_batch(batch: list[dict[str, Any]], zone: str | None = None) -> None:
    """Both engines on one batch; with a zone, each runs as a process started with TZ=zone."""
    node = shutil.which("node")
    assert node, "node is needed for the cross-engine test"
    payload = json.dumps(batch, ensure_ascii=False, allow_nan=False)
    env = {**os.environ, "TZ": zone} if zone else None
    proc = subprocess.run(
        [node, str(CLI)],
        input=payload.encode(),
        capture_output=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    js_results = json.loads(proc.stdout)
    assert len(js_results) == len(batch)
    failures = []
    with local_zone(zone):
        python_results = [run_python(item) for item in batch]
    for item, py, js in zip(batch, python_results, js_results, strict=True):
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


# -- dates in local time: the engines agree in zones east, west and off the hour, across DST ---
ZONES = ["Asia/Ho_Chi_Minh", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe"]


@st.composite
def date_texts(draw: st.DrawFn) -> str:
    y, mo, d = draw(st.integers(1900, 2100)), draw(st.integers(1, 12)), draw(st.integers(1, 28))
    text = f"{y:04d}-{mo:02d}-{d:02d}"
    if draw(st.booleans()):
        hh, mi, ss = draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 59))
        text += f"T{hh:02d}:{mi:02d}:{ss:02d}"
        text += draw(st.sampled_from(["", ".5", ".123", "Z", "+07:00", "-05:00", "+05:45"]))
    return text


@st.composite
def date_items(draw: st.DrawFn) -> dict[str, Any]:
    value = draw(
        st.one_of(
            date_texts(),
            st.floats(-30000, 80000, allow_nan=False),
            st.integers(-30000, 80000),
            st.sampled_from(["06:00:00+07:00", "23:59:59.5Z", "12:00", "00:30-03:30"]),
        )
    )
    expr = draw(
        st.sampled_from(
            [
                "decimal-date-time(${d})",
                "${d} + 1",
                "date(${d})",
                "date-time(${d})",
                "decimal-time(${d})",
                "format-date(${d}, '%Y-%m-%d %H:%M:%S.%3 %a %b %y %n %e %h')",
                "format-date-time(${d} + 0.25, '%Y-%m-%d %H:%M:%S')",
                "date(decimal-date-time(${d}) + 1)",
                "date-time(date(${d}))",
                "decimal-date-time(date-time(${d})) - decimal-date-time(${d})",
                "${d} < today()",
                "today() - ${d}",
            ]
        )
    )
    return {
        "expr": expr,
        "ctx": {
            "data": {"d": value},
            "fields": {"d": []},
            "position": [],
            "current": None,
            "today": draw(st.sampled_from(["2024-03-10", "2024-11-03", "2024-05-01"])),
            "now": None,
        },
    }


@pytest.mark.parametrize("zone", ZONES)
def test_engines_agree_on_dates_in_local_time(zone: str) -> None:
    check_batch(gather(date_items(), BATCH // 2), zone)

"""The XLSForm expression engine (ODK's XPath subset), shared in meaning with pwa/js/expr.js.

Both engines must pass schemas/expression_cases.json. The grammar is in ``expr_parser``, the
values and conversions in ``expr_values``; this module resolves ``${references}`` against a
record and holds the function library. Expressions are compiled once (cached) into closures;
a checker's, bound to their place (``bind_at``), are written out as Python source.

Reference resolution, as ODK does it. ``ctx.fields`` maps each name to its enclosing repeats
(outermost first); a name that appears in some chain is a repeat. For ``${x}`` the longest prefix
of x's chain that matches ``ctx.position`` selects the current instances; if that is the whole
chain, ``${x}`` is the single answer there, otherwise it is the node-set of x's answers in every
instance below (document order). ``${R}`` for a repeat R is the node-set of R's instances (inside
the current instance of R's parent repeats), so ``count(${members})`` is the number of members
even when evaluated inside one member. A repeat instance's own value is ``''``. In ``count`` and
``sum`` a single answer counts as a one-node node-set, as in XPath.

Decisions where ODK leaves room (JavaScript does the same):

* ``=``/``!=`` between scalars: boolean if either is boolean, else number if either is a number,
  else string. ``<``, ``<=``, ``>``, ``>=`` compare numbers (date strings become days). Against a
  node-set a comparison is true when it holds for at least one node, each node's value being
  compared by the scalar rules; against a boolean the node-set is first made a boolean (XPath).
  An empty node-set therefore compares false with any number or string.
* ``int``, ``floor``, ``ceiling`` follow Math.trunc/floor/ceil (``-0`` kept); ``round`` is half
  away from zero on the decimal digits, its second argument truncated, and gives +0 for zero.
* ``substr(s, start[, end])`` counts characters (code points) from 0 and, like a Python slice,
  counts negative positions from the end and clamps to the string; NaN positions count as 0.
  ``string-length`` counts code points too.
* ``selected``/``count-selected`` split on spaces, tabs and line breaks; the choice is trimmed.
* ``coalesce(a, b)``: a (its first node for a node-set) unless its string is empty, else b.
* ``concat`` and ``join(sep, ...)`` take every node of a node-set argument; ``min``/``max`` take
  numbers and node-sets, give NaN for no values or when any value is NaN (an empty answer).
  ``sum`` of a node-set with an empty answer is NaN (number('') is NaN), of no nodes 0.
* ``regex(s, re)`` is true when re matches anywhere in s (anchor with ^...$ for a full match).
  The pattern should stay in the common subset of Python and JavaScript regular expressions;
  ``\\d``/``\\w``/``\\b`` are ASCII-only and ``$`` means the very end, as in JavaScript.
* ``today()`` is ``ctx.today``, else the date part of ``ctx.now``, else the local date;
  ``now()`` is ``ctx.now``, else the local time as ``YYYY-MM-DDTHH:MM:SS.sss+HH:MM``.
* ``position(..)`` is the 1-based index of the innermost current repeat instance, 1 at top level;
  ``position()`` is that index when the expression belongs to the repeat itself, else 1.
* ``decimal-date-time(d)`` is ``number(d)``: days since 1970-01-01T00:00Z, a date or a datetime
  without an offset being read in local time (``expr_values``).
* ``format-date(d, fmt)`` prints a date/datetime string written without an offset with the
  wall-clock time written in it, and any other date (an offset, a number) in local time; other
  ``%x`` codes are copied unchanged; anything that is not a date gives ``''``.
* ``coalesce`` passes over NaN as over ``''``. ``indexed-repeat(${f}, ${r}, i, ...)`` reads f in
  the i-th (1-based) instance of r, other repeats staying at the current instance; an index that
  is not a whole number, or out of range, gives ``''``. ``once(x)`` is the current field's own
  answer when it has one, else x. ``jr:choice-name(v, '${field}')`` is the label of choice v in
  ``ctx.choices`` (the form's default language: ``Form.choice_labels``), ``''`` when unknown.
* ``pulldata('file', 'column', 'key_column', key)`` is ``column`` of the first row of the
  attached CSV ``file`` (named without ``.csv``) whose ``key_column`` is ``string(key)``, exactly;
  ``''`` when no row matches or the file or a column is unknown. The files are
  ``ctx.files``: name -> ``{"columns": [...], "rows": [[...], ...]}``, the form definition's
  ``pulldata`` (``schemas/file_choices.py``).
  The other ODK functions are in ``expr_library``.
* ``.`` needs ``ctx.current``; without it evaluation fails with code ``no_current``. Unknown
  ``${names}`` fail with ``unknown_field`` whether or not the branch using them is taken.
"""

from __future__ import annotations

import datetime as _dt
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from schemas import expr_library as lib
from schemas.expr_parser import (
    Binary,
    Call,
    Current,
    ExpressionError,
    Node,
    Num,
    Ref,
    Str,
    Unary,
    parse,
    references,
    uses_current,
)
from schemas.expr_values import (
    ARITHMETIC,
    COMPARISONS,
    NAN,
    Value,
    compare_nodesets,
    format_date,
    from_answer,
    keep_zero_sign,
    round_half_away,
    to_boolean,
    to_number,
    to_string,
)

__all__ = [
    "Context",
    "ExpressionError",
    "bind",
    "evaluate",
    "evaluate_bool",
    "parse",
    "references",
    "to_boolean",
    "to_number",
    "to_string",
]


@dataclass(slots=True)
class Context:
    """What an expression is evaluated against (see the module docstring)."""

    data: Mapping[str, Any]
    fields: Mapping[str, Sequence[str]]
    position: Sequence[Sequence[Any]] = ()
    current: str | None = None
    today: str | None = None
    now: str | None = None
    # jr:choice-name: field -> choice name -> label (Form.choice_labels: the default language)
    choices: Mapping[str, Mapping[str, str]] | None = None
    # pulldata(): file name -> {"columns": [...], "rows": [[...], ...]} (the form's ``pulldata``)
    files: Mapping[str, Any] | None = None
    _repeats: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)
    # The record and its current instance of each repeat of ``position``, for programs made by
    # ``bind_at`` (``place``).
    _nodes: Sequence[Mapping[str, Any]] = field(default=(), init=False, repr=False, compare=False)


Fn = Callable[[Context], Value]
_REPEATS: dict[int, tuple[Mapping[str, Sequence[str]], int, frozenset[str]]] = {}
_TOKENS = re.compile(r"[^ \t\r\n]+")
_TRIM = " \t\r\n"


def _repeat_names(fields: Mapping[str, Sequence[str]]) -> frozenset[str]:
    # Callers build a new Context per evaluation but keep the form's fields map, so the set of
    # repeat names is kept per map object rather than per Context.
    hit = _REPEATS.get(id(fields))
    if hit is not None and hit[0] is fields and hit[1] == len(fields):
        return hit[2]
    names = frozenset(r for chain in fields.values() for r in chain)
    if len(_REPEATS) >= 64:
        _REPEATS.clear()
    _REPEATS[id(fields)] = (fields, len(fields), names)
    return names


def _instances(parent: Any, repeat: str) -> list[Any]:
    items = parent.get(repeat) if isinstance(parent, dict) else None
    if not isinstance(items, list):
        return []
    return [item if isinstance(item, dict) else {} for item in items]


def _resolve(ctx: Context, name: str, nodeset: bool) -> Value:
    chain = ctx.fields[name]
    repeat = name in ctx._repeats
    if not chain and not repeat:
        value = from_answer(ctx.data.get(name))
        return [value] if nodeset else value
    node: Any = ctx.data
    position = ctx.position
    depth = 0
    while depth < len(chain) and depth < len(position) and position[depth][0] == chain[depth]:
        items = node.get(chain[depth]) if isinstance(node, dict) else None
        index = int(position[depth][1])
        node = items[index] if isinstance(items, list) and 0 <= index < len(items) else None
        depth += 1
    if depth == len(chain) and not repeat:
        value = from_answer(node.get(name)) if isinstance(node, dict) else ""
        return [value] if nodeset else value
    nodes = [node] if isinstance(node, dict) else []
    for step in chain[depth:]:
        nodes = [inst for parent in nodes for inst in _instances(parent, step)]
    if repeat:
        return ["" for parent in nodes for _ in _instances(parent, name)]
    return [from_answer(inst.get(name)) for inst in nodes]


def _expand(values: Sequence[Value]) -> list[Value]:
    out: list[Value] = []
    for value in values:
        if type(value) is list:
            out.extend(value)
        else:
            out.append(value)
    return out


def _first(value: Value) -> Value:
    if type(value) is list:
        return value[0] if value else ""  # type: ignore[index]
    return value


def _compile_binary(node: Binary, at: _Place | None) -> Fn:
    if at is not None:
        fast = at.binary(node)
        if fast is not None:
            return fast
    fa, fb, op = _compile(node.left, at), _compile(node.right, at), node.op
    if op == "and":
        return lambda c: to_boolean(fa(c)) and to_boolean(fb(c))
    if op == "or":
        return lambda c: to_boolean(fa(c)) or to_boolean(fb(c))
    if op in ARITHMETIC:
        arith = ARITHMETIC[op]
        return lambda c: arith(to_number(fa(c)), to_number(fb(c)))
    scalar = COMPARISONS[op]

    def compare(c: Context) -> bool:
        a, b = fa(c), fb(c)
        if type(a) is list or type(b) is list:
            return compare_nodesets(scalar, a, b)
        return scalar(a, b)

    return compare


# -- the function library ---------------------------------------------------------------------
@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    # JavaScript's `$` (no m flag) is the very end of the input; Python's also matches before a
    # final newline, so it becomes \Z outside character classes.
    out, i, in_class = [], 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if ch == "[":
            in_class = True
        elif ch == "]":
            in_class = False
        out.append("\\Z" if ch == "$" and not in_class else ch)
        i += 1
    try:
        return re.compile("".join(out), re.ASCII)
    except re.error as exc:
        raise ExpressionError("regex", f"invalid regular expression {pattern!r}: {exc}") from None


def _selected(a: Value, b: Value) -> bool:
    choice = to_string(b).strip(_TRIM)
    return bool(choice) and choice in _TOKENS.findall(to_string(a))


def _substr(s: str, start: float, end: float | None) -> str:
    chars = len(s)

    def index(x: float) -> int:
        if x != x:
            return 0
        return int(max(-chars - 1.0, min(chars + 1.0, x)))

    return s[index(start) : chars if end is None else index(end)]


def _extreme(values: list[Value], smaller: bool) -> float:
    numbers = [to_number(v) for v in _expand(values)]
    if not numbers or any(x != x for x in numbers):
        return NAN
    best = numbers[0]
    for x in numbers[1:]:
        better = x < best if smaller else x > best
        # Math.min/max put -0 below +0; Python's comparisons call them equal.
        tie = x == 0 and best == 0 and (math.copysign(1.0, x) < 0) == smaller
        if better or tie:
            best = x
    return best


def _sum(values: Value) -> float:
    total = 0.0
    for value in values:  # type: ignore[union-attr]
        total += to_number(value)
    return total


def _today(c: Context) -> str:
    if c.today:
        return c.today
    if c.now:
        return c.now[:10]
    return _dt.date.today().isoformat()


def _now(c: Context) -> str:
    return c.now or _dt.datetime.now().astimezone().isoformat(timespec="milliseconds")


def _position(c: Context) -> float:
    return float(int(c.position[-1][1]) + 1) if c.position else 1.0


def _own_position(c: Context) -> float:
    # position() is the context node's: a repeat instance's index when the expression belongs
    # to the repeat itself (its relevant, say), else 1, for a field is the only one of its name.
    if c.current is not None and c.position and c.position[-1][0] == c.current:
        return _position(c)
    return 1.0


def _field_of(path: str) -> str:
    """``'${name}'``, ``'/data/group/name'`` or ``'name'`` -> ``name`` (jr:choice-name's path)."""
    path = path.strip()
    if path.startswith("${") and path.endswith("}"):
        return path[2:-1].strip()
    return path.rsplit("/", 1)[-1]


def _index(value: Value) -> int:
    n = to_number(value)
    return int(n) - 1 if math.isfinite(n) and n.is_integer() else -1


def _math(f: Callable[[float], float]) -> Callable[[Value], float]:
    def apply(value: Value) -> float:
        x = to_number(value)
        return keep_zero_sign(float(f(x)), x) if math.isfinite(x) else x

    return apply


def _numeric(f: Callable[[float], float]) -> Callable[[Value], Value]:
    return lambda a: f(to_number(a))


_UNARY: dict[str, Callable[[Value], Value]] = {
    "count-selected": lambda a: float(len(_TOKENS.findall(to_string(a)))),
    "string-length": lambda a: float(len(to_string(a))),
    "int": _math(math.trunc),
    "floor": _math(math.floor),
    "ceiling": _math(math.ceil),
    "abs": lambda a: abs(to_number(a)),
    "number": to_number,
    "string": to_string,
    "boolean": to_boolean,
    "not": lambda a: not to_boolean(a),
    "decimal-date-time": to_number,
    "date": lib.date,
    "date-time": lib.date_time,
    "normalize-space": lambda a: lib.normalize_space(to_string(a)),
    "boolean-from-string": lib.boolean_from_string,
    "area": lib.area,
    "distance": lib.distance,
    "base64-decode": lib.base64_decode,
    **{name: _numeric(f) for name, f in lib.MATH.items()},
}
_BINARY: dict[str, Callable[[Value, Value], Value]] = {
    "selected": _selected,
    "regex": lambda s, p: _regex(to_string(p)).search(to_string(s)) is not None,
    "contains": lambda a, b: to_string(b) in to_string(a),
    "starts-with": lambda a, b: to_string(a).startswith(to_string(b)),
    "format-date": lambda d, f: format_date(d, to_string(f)),
    "format-date-time": lambda d, f: format_date(d, to_string(f)),
    "ends-with": lambda a, b: to_string(a).endswith(to_string(b)),
    "substring-before": lambda a, b: lib.substring_before(to_string(a), to_string(b)),
    "substring-after": lambda a, b: lib.substring_after(to_string(a), to_string(b)),
    "pow": lambda a, b: lib.js_pow(to_number(a), to_number(b)),
    "atan2": lambda a, b: math.atan2(to_number(a), to_number(b)),
    "geofence": lib.geofence,
    "selected-at": lib.selected_at,
}
_NULLARY: dict[str, Fn] = {
    "true": lambda c: True,
    "false": lambda c: False,
    "today": _today,
    "now": _now,
    "position": _own_position,
    "pi": lambda c: math.pi,
    "random": lambda c: lib.random_number(),
}


def _empty(value: Value) -> bool:
    # NaN is what an empty answer becomes in arithmetic, so coalesce passes over it too.
    return to_string(value) == "" or (type(value) is float and value != value)


def _compile_indexed_repeat(node: Call, at: _Place | None) -> Fn:
    field = node.args[0].name  # type: ignore[union-attr]
    repeats = [a.name for a in node.args[1::2]]  # type: ignore[union-attr]
    indexes = [_compile(a, at) for a in node.args[2::2]]

    def indexed(c: Context) -> Value:
        wanted = {r: _index(f(c)) for r, f in zip(repeats, indexes, strict=True)}
        position: list[tuple[str, int]] = []
        for depth, repeat in enumerate(c.fields[field]):
            if repeat in wanted:
                position.append((repeat, wanted[repeat]))
            elif depth < len(c.position) and c.position[depth][0] == repeat:
                position.append((repeat, int(c.position[depth][1])))
            else:
                break
        if any(index < 0 for _, index in position):
            return ""
        inner = Context(data=c.data, fields=c.fields, position=position)
        inner._repeats = c._repeats
        return _first(_resolve(inner, field, False))

    return indexed


def _choice_name(fa: Fn, fb: Fn) -> Fn:
    def choice_name(c: Context) -> str:
        labels = (c.choices or {}).get(_field_of(to_string(fb(c))))
        return labels.get(to_string(fa(c)).strip(_TRIM), "") if labels else ""

    return choice_name


# pulldata's index of a file by one column, kept per table object: the form's tables live as
# long as its checker, and a lookup per keystroke must not walk 10,000 rows.
_LOOKUPS: dict[tuple[int, str], tuple[Any, dict[str, int]]] = {}


def _lookup(table: Any, key_column: str) -> tuple[list[Any], dict[str, int]] | None:
    if not isinstance(table, Mapping):
        return None
    columns, rows = table.get("columns"), table.get("rows")
    if not isinstance(columns, list) or not isinstance(rows, list) or key_column not in columns:
        return None
    hit = _LOOKUPS.get((id(table), key_column))
    if hit is not None and hit[0] is table:
        return columns, hit[1]
    at = columns.index(key_column)
    index: dict[str, int] = {}
    for number, row in enumerate(rows):
        if isinstance(row, list) and at < len(row):
            index.setdefault(str(row[at]), number)
    if len(_LOOKUPS) >= 64:
        _LOOKUPS.clear()
    _LOOKUPS[(id(table), key_column)] = (table, index)
    return columns, index


def _pulldata(f: list[Fn]) -> Fn:
    def pulldata(c: Context) -> str:
        file, column, key_column = (to_string(g(c)).strip(_TRIM) for g in f[:3])
        table = (c.files or {}).get(file)
        found = _lookup(table, key_column)
        if found is None or column not in found[0]:
            return ""
        number = found[1].get(to_string(f[3](c)))
        if number is None:
            return ""
        row = table["rows"][number]  # type: ignore[index]
        at = found[0].index(column)
        return str(row[at]) if at < len(row) else ""

    return pulldata


def _once(fa: Fn) -> Fn:
    def once(c: Context) -> Value:
        if c.current is not None and c.current in c.fields:
            own = _first(_resolve(c, c.current, False))
            if not _empty(own):
                return own
        return fa(c)

    return once


def _randomize(fns: list[Fn]) -> Fn:
    def randomize(c: Context) -> Value:
        value = fns[0](c)
        items = list(value) if type(value) is list else [value]  # type: ignore[arg-type]
        seed = to_number(fns[1](c)) if len(fns) == 2 else None
        return lib.shuffle(items, seed)

    return randomize


_MORE: dict[str, Callable[[list[Fn]], Fn]] = {
    "substring": lambda f: (
        lambda c: lib.substring(
            to_string(f[0](c)), to_number(f[1](c)), to_number(f[2](c)) if len(f) == 3 else None
        )
    ),
    "translate": lambda f: (
        lambda c: lib.translate(to_string(f[0](c)), to_string(f[1](c)), to_string(f[2](c)))
    ),
    "checklist": lambda f: (
        lambda c: lib.checklist(f[0](c), f[1](c), _expand([g(c) for g in f[2:]]))
    ),
    "weighted-checklist": lambda f: (
        lambda c: lib.weighted_checklist(f[0](c), f[1](c), [g(c) for g in f[2:]])
    ),
    "digest": lambda f: lambda c: lib.digest(*(g(c) for g in f)),
    "uuid": lambda f: lambda c: lib.uuid(f[0](c) if f else None),
    "randomize": _randomize,
    "once": lambda f: _once(f[0]),
    "jr:choice-name": lambda f: _choice_name(f[0], f[1]),
    "pulldata": _pulldata,
    "decimal-time": lambda f: lambda c: lib.decimal_time(f[0](c), _today(c)),
}


def _compile_call(node: Call, at: _Place | None) -> Fn:
    name = node.name
    if name == "position" and node.args:
        return _position
    if name in _NULLARY:
        return _NULLARY[name]
    if name in ("count", "sum", "count-non-empty"):
        arg = node.args[0]

        def nodes(c: Context) -> Value:
            target = arg.name if isinstance(arg, Ref) else c.current
            return _resolve(c, target, True)  # type: ignore[arg-type]

        if name == "count":
            return lambda c: float(len(nodes(c)))  # type: ignore[arg-type]
        if name == "count-non-empty":
            return lambda c: lib.count_non_empty(nodes(c))
        return lambda c: _sum(nodes(c))
    if name == "indexed-repeat":
        return _compile_indexed_repeat(node, at)
    fns = [_compile(arg, at) for arg in node.args]
    if name in _UNARY:
        f1, fa = _UNARY[name], fns[0]
        return lambda c: f1(fa(c))
    if name in _BINARY:
        f2, fa, fb = _BINARY[name], fns[0], fns[1]
        return lambda c: f2(fa(c), fb(c))
    if name == "if":
        fc, fa, fb = fns
        return lambda c: fa(c) if to_boolean(fc(c)) else fb(c)
    if name == "coalesce":
        fa, fb = fns

        def coalesce(c: Context) -> Value:
            a = _first(fa(c))
            return _first(fb(c)) if _empty(a) else a

        return coalesce
    if name in _MORE:
        return _MORE[name](fns)
    if name == "concat":
        return lambda c: "".join(to_string(v) for v in _expand([f(c) for f in fns]))
    if name == "join":
        return lambda c: to_string(fns[0](c)).join(
            to_string(v) for v in _expand([f(c) for f in fns[1:]])
        )
    if name == "substr":

        def substr(c: Context) -> str:
            end = to_number(fns[2](c)) if len(fns) == 3 else None
            return _substr(to_string(fns[0](c)), to_number(fns[1](c)), end)

        return substr
    if name == "round":
        return lambda c: round_half_away(
            to_number(fns[0](c)), to_number(fns[1](c)) if len(fns) == 2 else 0.0
        )
    if name in ("min", "max"):
        smaller = name == "min"
        return lambda c: _extreme([f(c) for f in fns], smaller)
    raise AssertionError(f"no implementation for {name}()")  # FUNCTIONS and this must agree


def _compile(node: Node, at: _Place | None = None) -> Fn:
    if isinstance(node, Num | Str):
        constant = node.value
        return lambda c: constant
    if isinstance(node, Ref):
        name = node.name
        return (at and at.answer(name)) or (lambda c: _resolve(c, name, False))
    if isinstance(node, Current):
        own = at and at.current is not None and at.answer(at.current)
        return own or (lambda c: _resolve(c, c.current, False))  # type: ignore[arg-type]
    if isinstance(node, Unary):
        fa = _compile(node.operand, at)
        return lambda c: -to_number(fa(c))
    if isinstance(node, Binary):
        return _compile_binary(node, at)
    if isinstance(node, Call):
        return _compile_call(node, at)
    raise AssertionError(f"cannot compile {node!r}")


@lru_cache(maxsize=4096)
def _program(expr: str) -> tuple[Fn, tuple[str, ...], bool]:
    tree = parse(expr)
    try:
        fn = _compile(tree)
    except RecursionError:
        raise ExpressionError("syntax", "the expression is nested too deeply") from None
    return fn, tuple(sorted(references(expr))), uses_current(tree)


def evaluate(expr: str, ctx: Context) -> Value:
    """Evaluate ``expr``: a bool, a float, a str, or a list (a node-set of values)."""
    fn, refs, needs_current = _program(expr)
    fields = ctx.fields
    for name in refs:
        if name not in fields:
            raise ExpressionError("unknown_field", f"unknown field ${{{name}}} in {expr!r}")
    if needs_current:
        if ctx.current is None:
            raise ExpressionError("no_current", f"'.' in {expr!r} but no current field is set")
        if ctx.current not in fields:
            raise ExpressionError("unknown_field", f"unknown current field {ctx.current!r}")
    ctx._repeats = _repeat_names(fields)
    try:
        return fn(ctx)
    except RecursionError:
        raise ExpressionError("syntax", "the expression is nested too deeply") from None


def bind(expr: str, fields: Mapping[str, Sequence[str]]) -> Callable[[Context], Value]:
    """``evaluate(expr, ctx)`` for contexts whose ``fields`` is this very map, with what depends
    on the expression and the form alone worked out once: a checker evaluates the same few
    expressions for every record of a form version. Anything ``evaluate`` would refuse goes
    through ``evaluate`` itself, so the errors are the same."""
    try:
        fn, refs, needs_current = _program(expr)
    except ExpressionError:
        return lambda ctx: evaluate(expr, ctx)
    if any(name not in fields for name in refs):
        return lambda ctx: evaluate(expr, ctx)
    repeats = _repeat_names(fields)

    def bound(ctx: Context) -> Value:
        if ctx.fields is not fields or (
            needs_current and (ctx.current is None or ctx.current not in fields)
        ):
            return evaluate(expr, ctx)
        ctx._repeats = repeats
        try:
            return fn(ctx)
        except RecursionError:
            raise ExpressionError("syntax", "the expression is nested too deeply") from None

    return bound


class _Place:
    """Where a ``bind_at`` program runs: inside the repeats ``scope`` (outermost first), with
    ``current`` as the current field."""

    def __init__(
        self, fields: Mapping[str, Sequence[str]], scope: Sequence[str], current: str | None
    ) -> None:
        self.fields = fields
        self.scope = tuple(scope)
        self.current = current
        self.repeats = _repeat_names(fields)

    def binary(self, node: Binary) -> Fn | None:
        """``node`` made with fewer steps where the kinds of its operands are known: a
        comparison of single answers and constants needs no node-set rules (and an ordering
        compares their numbers), ``and``/``or`` of true/false values no ``boolean()``. The
        same values as the general closures of ``_compile_binary``."""
        op, left, right = node.op, node.left, node.right
        if op in ("and", "or"):
            if not (_is_boolean(left) and _is_boolean(right)):
                return None
            fa, fb = _compile(left, self), _compile(right, self)
            if op == "and":
                return lambda c: fa(c) and fb(c)
            return lambda c: fa(c) or fb(c)
        if op not in COMPARISONS or not (self._single(left) and self._single(right)):
            return None
        if op in _ORDER:
            order, na, nb = _ORDER[op], self._number(left), self._number(right)
            if isinstance(nb, float) and not isinstance(na, float):
                k = nb
                return lambda c: order(na(c), k)  # type: ignore[operator]
            fna = (lambda c: na) if isinstance(na, float) else na
            fnb = (lambda c: nb) if isinstance(nb, float) else nb
            return lambda c: order(fna(c), fnb(c))  # type: ignore[operator]
        scalar, fa, fb = COMPARISONS[op], _compile(left, self), _compile(right, self)
        return lambda c: scalar(fa(c), fb(c))

    def _single(self, node: Node) -> bool:
        """Whether ``node``'s value is never a node-set: a constant, a single answer, an
        operation, a call of ``_SCALAR_CALLS``."""
        if isinstance(node, Num | Str | Binary | Unary):
            return True
        if isinstance(node, Call):
            return node.name in _SCALAR_CALLS
        name = node.name if isinstance(node, Ref) else self.current
        return isinstance(node, Ref | Current) and name is not None and self._depth(name) >= 0

    def _number(self, node: Node) -> Fn | float:
        """``number()`` of a value ``_single`` allows: a constant's once, an answer's as read."""
        if isinstance(node, Num | Str):
            return to_number(node.value)
        if not isinstance(node, Ref | Current):
            fn = _compile(node, self)
            return lambda c: to_number(fn(c))
        name = node.name if isinstance(node, Ref) else self.current
        depth = self._depth(name)  # type: ignore[arg-type]
        if depth == 0:
            return lambda c: _answer_number(c.data.get(name))
        return lambda c: _answer_number(c._nodes[depth].get(name))

    def _depth(self, name: str) -> int:
        """How many of ``scope``'s instances lead to ``name``'s single answer; -1 when ``${name}``
        is a repeat or a node-set here."""
        chain = self.fields[name]
        if name in self.repeats:
            return -1
        depth = 0
        while depth < len(chain) and depth < len(self.scope) and self.scope[depth] == chain[depth]:
            depth += 1
        return depth if depth == len(chain) else -1

    def answer(self, name: str) -> Fn | None:
        """``${name}`` read straight from the record or the current instance holding it, when
        ``_resolve`` would give that single answer; None leaves it to ``_resolve``."""
        depth = self._depth(name)
        if depth < 0:
            return None  # a node-set: the answers in every instance below (or a repeat's)
        if depth == 0:
            return lambda c: from_answer(c.data.get(name))
        return lambda c: from_answer(c._nodes[depth].get(name))


_ORDER: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
# Calls whose value is always true or false.
_BOOLEAN_CALLS = frozenset({"not", "selected", "true", "false", "boolean"})
# Calls whose value is never a node-set.
_SCALAR_CALLS = _BOOLEAN_CALLS | {
    "count",
    "count-selected",
    "sum",
    "string-length",
    "int",
    "number",
    "string",
    "today",
    "format-date",
    "format-date-time",
    "concat",
    "regex",
    "contains",
}


def _is_boolean(node: Node) -> bool:
    if isinstance(node, Binary):
        return node.op in COMPARISONS or node.op in ("and", "or")
    return isinstance(node, Call) and node.name in _BOOLEAN_CALLS


def _answer_number(raw: Any) -> float:
    """``number()`` of a stored answer (``to_number(from_answer(raw))``), an integer's at once."""
    if type(raw) is int:
        return float(raw)
    return to_number(from_answer(raw))


def bind_at(
    expr: str,
    fields: Mapping[str, Sequence[str]],
    scope: Sequence[str],
    current: str | None,
    *,
    written: bool = True,
) -> Callable[[Context], Value]:
    """``bind(expr, fields)`` for a context at a known place, made ready by ``place``: its
    ``position`` names the repeats ``scope`` (outermost first), its ``current`` is ``current``
    and its ``fields`` this very map. A ${reference} that is a single answer there is read from
    the record or the current instance itself instead of walking the position each time (the
    same answer: ``place`` holds the instances the position names). Unlike ``bind``'s, the
    program may raise RecursionError for ExpressionError("syntax"). ``written``: the program
    written out as one Python function (``_written``), else the closures of its nodes."""
    try:
        tree = parse(expr)
        _, refs, needs_current = _program(expr)
    except ExpressionError:
        return bind(expr, fields)
    if any(name not in fields for name in refs) or (
        needs_current and (current is None or current not in fields)
    ):
        return bind(expr, fields)
    try:
        at = _Place(fields, scope, current)
        return _written(tree, at) if written else _compile(tree, at)
    except RecursionError:
        return bind(expr, fields)


# A checker evaluates the same few expressions for every question of every record, and calling
# one closure per node of the expression was most of their cost: a ``bind_at`` program is
# written out as the source of one Python function, which does inline what the closures
# ``_compile`` makes for the same nodes would do (the same calls, in the same order), and calls
# such a closure for any node it does not write out (a node-set, count(), if()...). Nested
# deeper than this, a node is left to its closure: Python's parser refuses 200 nested
# parentheses, and a chain such as ``${a} < ${b} < ...`` nests one a term however long it is
# (our parser bounds brackets and calls, not chains).
_WRITTEN_DEPTH = 24


def _written(tree: Node, at: _Place) -> Fn:
    names: dict[str, Any] = {
        "from_answer": from_answer,
        "to_boolean": to_boolean,
        "to_number": to_number,
        "_answer_number": _answer_number,
        "_eq": COMPARISONS["="],
    }
    source = f"def program(c):\n    return {_source(tree, at, names, 0)}"
    # The same source for many questions (". >= 0" asked of each, the names apart): compiled
    # once. Compiling is most of what writing a program costs.
    code = _WRITTEN.get(source)
    if code is None:
        if len(_WRITTEN) >= _WRITTEN_KEPT:
            _WRITTEN.clear()
        code = _WRITTEN[source] = compile(source, "<expression>", "exec")
    exec(code, names)  # noqa: S102
    return names["program"]  # type: ignore[no-any-return]


_WRITTEN: dict[str, Any] = {}
_WRITTEN_KEPT = 4096


def _named(names: dict[str, Any], value: Any) -> str:
    """A name in the program's globals holding ``value``."""
    key = f"n{len(names)}"
    names[key] = value
    return key


def _source(node: Node, at: _Place, names: dict[str, Any], depth: int) -> str:
    """Python source of ``_compile(node, at)(c)``'s value."""
    if depth < _WRITTEN_DEPTH:
        deeper = depth + 1
        if isinstance(node, Num | Str):
            return _named(names, node.value)
        if isinstance(node, Ref | Current):
            raw = _raw_source(node, at, names)
            if raw is not None:
                return f"from_answer({raw})"
        elif isinstance(node, Unary):
            return f"(-to_number({_source(node.operand, at, names, deeper)}))"
        elif isinstance(node, Binary):
            written = _binary_source(node, at, names, deeper)
            if written is not None:
                return written
        elif isinstance(node, Call):
            written = _call_source(node, at, names, deeper)
            if written is not None:
                return written
    return f"{_named(names, _compile(node, at))}(c)"


def _raw_source(node: Ref | Current, at: _Place, names: dict[str, Any]) -> str | None:
    """Source of the stored answer ``node`` reads, where ``_Place.answer`` reads it straight
    from the record or an instance; None where it is a node-set (or '.' names nothing)."""
    name = node.name if isinstance(node, Ref) else at.current
    if name is None:
        return None
    depth = at._depth(name)
    if depth < 0:
        return None
    where = "c.data" if depth == 0 else f"c._nodes[{depth}]"
    return f"{where}.get({_named(names, name)})"


def _binary_source(node: Binary, at: _Place, names: dict[str, Any], depth: int) -> str | None:
    """``_compile_binary`` (with ``_Place.binary``'s shorter ways) as source; None where the
    closure stays (a comparison that may meet a node-set)."""
    op, left, right = node.op, node.left, node.right
    if op in ("and", "or"):
        a, b = _source(left, at, names, depth), _source(right, at, names, depth)
        if not (_is_boolean(left) and _is_boolean(right)):
            a, b = f"to_boolean({a})", f"to_boolean({b})"
        return f"({a} {op} {b})"
    if op in ARITHMETIC:
        arith = _named(names, ARITHMETIC[op])
        a, b = _source(left, at, names, depth), _source(right, at, names, depth)
        return f"{arith}(to_number({a}), to_number({b}))"
    if not (at._single(left) and at._single(right)):
        return None
    if op in _ORDER:
        a, b = _number_source(left, at, names, depth), _number_source(right, at, names, depth)
        return f"({a} {op} {b})"
    same = _text_equality(node, at, names)
    if same is not None:
        return same
    scalar = _named(names, COMPARISONS[op])
    return f"{scalar}({_source(left, at, names, depth)}, {_source(right, at, names, depth)})"


def _number_source(node: Node, at: _Place, names: dict[str, Any], depth: int) -> str:
    """``_Place._number`` as source: ``number()`` of a value ``_Place._single`` allows."""
    if isinstance(node, Num | Str):
        return _named(names, to_number(node.value))
    if isinstance(node, Ref | Current):
        return f"_answer_number({_raw_source(node, at, names)})"
    return f"to_number({_source(node, at, names, depth)})"


def _text_equality(node: Binary, at: _Place, names: dict[str, Any]) -> str | None:
    """``${name} = 'text'`` (or ``!=``, either way round): a stored text answer is compared
    as it is, as ``_eq`` would compare the two texts; any other answer goes through ``_eq``."""
    answer, text = node.left, node.right
    if isinstance(answer, Str):
        answer, text = text, answer
    if not isinstance(answer, Ref | Current) or not isinstance(text, Str):
        return None
    raw = _raw_source(answer, at, names)
    if raw is None:
        return None
    value = _named(names, text.value)
    # The answer is read once, into a local of its own (each comparison's differs).
    names["_locals"] = seen_count = names.get("_locals", 0) + 1
    seen = f"r{seen_count}"
    test, otherwise = ("==", "") if node.op == "=" else ("!=", "not ")
    return (
        f"({seen} {test} {value} if type({seen} := {raw}) is str"
        f" else {otherwise}_eq(from_answer({seen}), {value}))"
    )


def _call_source(node: Call, at: _Place, names: dict[str, Any], depth: int) -> str | None:
    """``_compile_call`` as source for the functions of one or two values (and those of none);
    None where the closure stays."""
    name = node.name
    if name == "position" and node.args:
        return None
    if name in _NULLARY:
        return f"{_named(names, _NULLARY[name])}(c)"
    if name in ("count", "sum", "count-non-empty", "indexed-repeat"):
        return None
    if name in _UNARY:
        if name == "not" and _is_boolean(node.args[0]):
            return f"(not {_source(node.args[0], at, names, depth)})"
        return f"{_named(names, _UNARY[name])}({_source(node.args[0], at, names, depth)})"
    if name in _BINARY:
        a = _source(node.args[0], at, names, depth)
        b = _source(node.args[1], at, names, depth)
        return f"{_named(names, _BINARY[name])}({a}, {b})"
    return None


def place(ctx: Context, nodes: Sequence[Mapping[str, Any]]) -> Context:
    """``ctx`` ready for ``bind_at`` programs: ``nodes`` are the record (``ctx.data``) and its
    instances at ``ctx.position``, outermost first, each a dict. Called again when the context
    moves to another position; its ``fields`` stay the same."""
    if not ctx._repeats:  # a checker moves one context from member to member
        ctx._repeats = _repeat_names(ctx.fields)
    ctx._nodes = nodes
    return ctx


def evaluate_bool(expr: str, ctx: Context) -> bool:
    """``boolean(expr)``: how ``relevant``, ``constraint`` and ``required`` are read."""
    return to_boolean(evaluate(expr, ctx))

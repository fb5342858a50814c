"""Settle a record's answers the way the phone does (pwa/js/form.js: ``Rules.settle``).

Settling works every calculation out again, drops the answers to questions that no longer
apply (not relevant, or a choice its choice_filter no longer offers) and fits each repeat to its
repeat_count, in form order. The phone settles after every answer; the server settles after an
office edit so that both store the same data for the same answers. Both are held to
schemas/settle_cases.json.

What the stored data looks like, as the phone stores it:

* a calculation that gives a boolean is stored as ``'true'`` / ``'false'``;
* a number is a JSON number written as JavaScript writes it: a whole number is an integer
  (``3``, never ``3.0``); a non-finite number (``1 div 0``, NaN) is no answer;
* a node-set gives its first value; an empty result removes the answer;
* a repeat that applies always has a list (``[]`` when it has no instances); new instances
  start with the form's ``default`` answers;
* a repeat_count is truncated and held to 0..100; one that is not a number gives no instances,
  one that fails to evaluate leaves the instances as they are.

The rules are applied twice: a relevance that reads a later question then sees that question
already settled. The input is not changed.
"""

from __future__ import annotations

import copy
import math
import re
from typing import Any

from schemas.expr_values import number_to_string
from schemas.expressions import Context, ExpressionError, evaluate
from schemas.form import AUTOMATIC_TYPES, Form, Node
from schemas.validate import holds, is_empty, number_of, offered

MAX_REPEAT = 100  # the phone never makes more instances than this, whatever repeat_count says

Position = list[list[Any]]

# JavaScript's Number(text) for a decimal default, which Python's float() reads differently
# ('inf', 'nan', '1_0' are numbers to Python; '0x10' and 'Infinity' are to JavaScript).
_JS_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_JS_RADIX = re.compile(r"0([xXoObB])([0-9a-zA-Z]+)")
_JS_INFINITY = re.compile(r"[+-]?Infinity")
_INTEGER_DEFAULT = re.compile(r"-?[0-9]+")


def settle(
    form: Form, data: dict[str, Any], today: str | None = None, now: str | None = None
) -> dict[str, Any]:
    """The record's data settled by the form's rules; ``today``/``now`` are what ``today()``
    and ``now()`` give (the visit's day, for a record edited later)."""
    out = copy.deepcopy(data)
    settler = _Settler(form, today, now)
    # Twice: a relevance that reads a later question sees that question already settled.
    for _ in range(2):
        settler.level(form.root, out, out, [], True)
    return out


def defaults(node: Node) -> dict[str, Any]:
    """A new repeat instance (or a new record, for the form's root) with the form's defaults.
    Questions in nested groups count; nested repeats start empty (absent)."""
    out: dict[str, Any] = {}
    for child in node.children:
        if child.kind == "group":
            out.update(defaults(child))
        elif child.kind == "field" and child.get("default") and child.type not in AUTOMATIC_TYPES:
            out[child.name] = _typed_default(child, child.get("default"))
    return out


def stored_number(x: float) -> int | float:
    """A finite number as the phone's JSON carries it: JavaScript writes a whole number below
    1e21 in plain digits, so it becomes the integer those digits read as."""
    if x.is_integer() and abs(x) < 1e21:
        return int(number_to_string(x))
    return x


class _Settler:
    def __init__(self, form: Form, today: str | None, now: str | None) -> None:
        self.form = form
        self.fields = form.field_repeats()
        self.choices = form.choice_labels()
        self.files = form.pulldata_files()
        self.today = today
        self.now = now

    def ctx(self, data: dict[str, Any], position: Position, current: str | None) -> Context:
        return Context(
            data=data,
            fields=self.fields,
            position=position,
            current=current,
            today=self.today,
            now=self.now,
            choices=self.choices,
            files=self.files,
        )

    def level(
        self,
        node: Node,
        scope: dict[str, Any],
        data: dict[str, Any],
        position: Position,
        relevant: bool,
    ) -> None:
        # `data` is the whole record being settled, `scope` the object that holds this level's
        # answers (the record itself, or one repeat instance): expressions read the answers
        # already settled above them.
        for child in node.children:
            ok = relevant and self.relevant(child, data, position)
            if child.kind == "group":
                self.level(child, scope, data, position, ok)
            elif child.kind == "repeat":
                self.repeat(child, scope, data, position, ok)
            elif not ok:
                scope.pop(child.name, None)
            elif (
                child.get("choice_filter")
                and not is_empty(scope.get(child.name))
                and not offered(
                    self.form,
                    self.fields,
                    child,
                    scope[child.name],
                    data,
                    position,
                    self.today,
                    self.now,
                )
            ):
                scope.pop(child.name, None)  # the parent answer changed: no longer offered
            elif child.type == "calculate" and child.get("calculation"):
                value = self.calculate(child, data, position)
                if value == "":
                    scope.pop(child.name, None)
                else:
                    scope[child.name] = value

    def repeat(
        self,
        node: Node,
        scope: dict[str, Any],
        data: dict[str, Any],
        position: Position,
        relevant: bool,
    ) -> None:
        if not relevant:
            scope.pop(node.name, None)
            return
        items = scope.get(node.name)
        if not isinstance(items, list):
            items = []
        count = self.repeat_count(node, data, position)
        if count is not None:
            items.extend(defaults(node) for _ in range(count - len(items)))
            del items[count:]
        scope[node.name] = items
        for index, instance in enumerate(items):
            # The checker refuses an instance that is not an object; there is nothing to settle
            # in one, so it is left for the checker to name.
            if isinstance(instance, dict):
                self.level(node, instance, data, [*position, [node.name, index]], True)

    def relevant(self, node: Node, data: dict[str, Any], position: Position) -> bool:
        expr = node.get("relevant")
        # A broken relevance is the form's fault: the question stays, as on the checker.
        return not expr or holds(expr, self.ctx(data, position, node.name)) is not False

    def repeat_count(self, node: Node, data: dict[str, Any], position: Position) -> int | None:
        expr = node.get("repeat_count")
        if not expr:
            return None
        number = number_of(expr, self.ctx(data, position, None))
        if number is None:
            return None
        if not math.isfinite(number):
            return 0
        return max(0, min(math.trunc(number), MAX_REPEAT))

    def calculate(self, node: Node, data: dict[str, Any], position: Position) -> Any:
        try:
            value: Any = evaluate(node.get("calculation"), self.ctx(data, position, node.name))
        except ExpressionError:
            return ""
        if isinstance(value, list):
            value = value[0] if value else ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float):
            return stored_number(value) if math.isfinite(value) else ""
        return value


def _typed_default(node: Node, raw: str) -> Any:
    if node.type == "integer" and _INTEGER_DEFAULT.fullmatch(raw):
        return stored_number(float(raw))
    if node.type in ("decimal", "range"):
        number = _js_number(raw)
        if math.isfinite(number):
            return stored_number(number)
    if node.type in ("select_multiple", "rank"):
        return raw.split()
    return raw


def _js_number(text: str) -> float:
    """JavaScript's ``Number(text)`` for a trimmed, non-empty text."""
    if _JS_DECIMAL.fullmatch(text):
        return float(text)
    radix = _JS_RADIX.fullmatch(text)
    if radix:
        try:
            return float(int(radix.group(2), {"x": 16, "o": 8, "b": 2}[radix.group(1).lower()]))
        except ValueError:
            return math.nan
        except OverflowError:
            return math.inf
    if _JS_INFINITY.fullmatch(text):
        return -math.inf if text.startswith("-") else math.inf
    return math.nan

"""The server's record checker as it walked a form before it was compiled (schemas/validate.py).

Kept as the oracle the compiled checker is held to: the same records accepted and refused, with
the same errors and messages (tests/unit/test_validate_compiled.py), and the same-run baseline of
bench/check_records.py. Not used by the product.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any, NamedTuple

from schemas.expressions import Context, ExpressionError, Value, bind, to_boolean
from schemas.form import Form, Node, range_is_whole, range_parameters, range_problem
from schemas.geo import GEO_TYPES, geo_problem
from schemas.labels import fill
from schemas.media import FILE_ANSWER_TYPES
from schemas.messages import message
from schemas.rank import rank_problem
from schemas.validate import (
    _FALSE,
    _OWN_BOUND,
    _SHA256,
    _TIME,
    _TRUE,
    _TYPE_RULES,
    EMPTY_METADATA_TYPES,
    MAX_TEXT_LENGTH,
    Errors,
    _add,
    _is_date,
    _is_datetime,
    _is_geopoint,
    _select_multiple_problem,
    _select_one_problem,
    is_empty,
    is_osm,
    number_of,
    offered,
)


class ReferenceChecker:
    """The checker as it was before its plan was compiled into closures, kept verbatim."""

    def __init__(self, form: Form) -> None:
        self.form = form
        self.fields = form.field_repeats()
        self.choices = form.choice_labels()
        self.files = form.pulldata_files()
        self._choice_names: dict[str, frozenset[Any]] = {}
        # Each expression bound to this form's fields once (a version never changes), whether
        # it reads the current field ('.'), and each question's choice filter and constraint.
        self._programs: dict[str, Callable[[Context], Value]] = {}
        self._dotted: dict[str, bool] = {}
        # Each group's and repeat's children as compiled steps, made on the first record
        # (``_step``): what a question asks of its answer, worked out once per form version.
        self._plans: dict[int, list[_Step]] = {}
        # A record's own state, set on the copy that checks it (``check``).
        self._today: str | None = None
        self._data: dict[str, Any] = {}
        self._memo: dict[tuple[tuple[str, int], ...], dict[Any, bool | None]] = {}
        self._contexts: dict[tuple[tuple[str, int], ...], Context] = {}
        # Names that may appear at each data level: top level (key "") and inside each repeat.
        self.allowed: dict[str, set[str]] = {"": set()}
        for name, node in form.nodes.items():
            if node.kind == "group":
                continue
            scope = node.repeats[-1] if node.repeats else ""
            self.allowed.setdefault(scope, set()).add(name)
            if node.kind == "repeat":
                self.allowed.setdefault(name, set())

    def check(self, data: dict[str, Any], today: str | None = None) -> Errors:
        # One checker serves every record of its form version, and a server's threads check
        # records at the same time (outside the write lock): a record's own state lives on a
        # copy made for it, which shares the checker's caches (the plan, the bound programs).
        # On the checker itself, a second record's date and answers replaced the first's
        # half-way through its check.
        run = copy.copy(self)
        errors: Errors = {}
        run._today = today
        run._data = data
        # Per repeat position: an expression's value (keyed with the current field when it
        # reads '.'), None when it failed.
        run._memo = {}
        # One context per repeat position, its current field set before each evaluation.
        run._contexts = {}
        run._level(self.form.root, data, "", (), "", True, errors)
        return errors

    # -- walking --------------------------------------------------------------------------------
    def _level(
        self,
        node: Node,
        scope: dict[str, Any],
        scope_name: str,
        position: tuple[tuple[str, int], ...],
        prefix: str,
        relevant: bool,
        errors: Errors,
    ) -> None:
        if node.kind != "group" or node is self.form.root:
            allowed = self.allowed.get(scope_name, ())
            for key in scope:
                if key not in allowed:
                    _add(errors, prefix + key, "unknown_field")
        steps = self._plans.get(id(node))
        if steps is None:
            steps = self._plans[id(node)] = [self._step(child) for child in node.children]
        for kind, child, name, relevance, plan in steps:
            # A question nobody could see needs no relevance of its own worked out.
            child_relevant = relevant and (
                relevance is None or self._bool(relevance, position, name, default=True)
            )
            if kind == "group":
                self._level(child, scope, scope_name, position, prefix, child_relevant, errors)
            elif kind == "repeat":
                self._repeat(child, scope.get(name), position, prefix, child_relevant, errors)
            else:
                self._field(
                    child,
                    plan,  # type: ignore[arg-type]
                    scope.get(name),
                    position,
                    prefix + name,
                    child_relevant,
                    errors,
                )

    # -- the plan -------------------------------------------------------------------------------
    def _step(self, node: Node) -> _Step:
        """What checking ``node`` takes, worked out from its row once: its kind, its relevance
        expression, and for a question everything ``_field`` asks of an answer."""
        relevance = node.get("relevant") or None
        if node.kind != "field":
            return (node.kind, node, node.name, relevance, None)
        raw = node.get("required")
        required: bool | str = (
            True if raw.lower() in _TRUE else False if raw.lower() in _FALSE else raw
        )
        plan = _FieldPlan(
            asks=node.type not in ("note", "calculate"),
            required=required,
            type_problem=self._type_rule(node),
            choice_filter=bool(node.get("choice_filter")),
            bounded=node.type not in _OWN_BOUND,
            constraint=node.get("constraint") or None,
        )
        return (node.kind, node, node.name, relevance, plan)

    def _type_rule(self, node: Node) -> Callable[[Any], str | None]:
        """``_type_problem`` for this question, its type looked at once."""
        kind = node.type
        rule = _TYPE_RULES.get(kind)
        if rule is not None:
            return rule
        if kind in ("select_one", "select_multiple"):
            names = self._choices_of(node)
            other = node.or_other
            if kind == "select_one":
                return lambda value: _select_one_problem(value, names, other)
            return lambda value: _select_multiple_problem(value, names, other)
        return lambda value: self._type_problem(node, value)

    def _repeat(
        self,
        node: Node,
        value: Any,
        position: tuple[tuple[str, int], ...],
        prefix: str,
        relevant: bool,
        errors: Errors,
    ) -> None:
        path = prefix + node.name
        if not relevant:
            if not is_empty(value):
                _add(errors, path, "not_relevant")
            return
        if value is None:
            value = []
        if not isinstance(value, list) or not all(isinstance(i, dict) for i in value):
            _add(errors, path, "wrong_type")
            return
        count_expr = node.get("repeat_count")
        if count_expr:
            expected = self._number(count_expr, position)
            if expected is not None and len(value) != expected:
                _add(errors, path, "repeat_count", expected=expected, actual=len(value))
        for index, instance in enumerate(value):
            self._level(
                node,
                instance,
                node.name,
                position + ((node.name, index),),
                f"{path}[{index}].",
                True,
                errors,
            )

    def _field(
        self,
        node: Node,
        plan: _FieldPlan,
        value: Any,
        position: tuple[tuple[str, int], ...],
        path: str,
        relevant: bool,
        errors: Errors,
    ) -> None:
        if not relevant:
            if not is_empty(value):
                _add(errors, path, "not_relevant")
            return
        if value is None or value == "" or value == []:  # is_empty, inlined: the hot path
            if plan.asks:
                required = plan.required
                if required is True or (
                    required is not False
                    and self._bool(required, position, node.name, default=True)  # type: ignore[arg-type]
                ):
                    self._add_custom(errors, path, node, "required_message", "required", position)
            return
        if node.type == "rank":
            problem = rank_problem(self._rank_offered(node, position), value)
        else:
            problem = plan.type_problem(value)
        if problem:
            _add(errors, path, problem)
            return
        if plan.choice_filter and not self._filtered_in(node, value, position):
            _add(errors, path, "not_a_choice")
            return
        if isinstance(value, str) and plan.bounded and len(value) > MAX_TEXT_LENGTH:
            _add(errors, path, "too_long", max=MAX_TEXT_LENGTH)
            return
        constraint = plan.constraint
        if constraint and not self._bool(constraint, position, node.name, default=False):
            self._add_custom(errors, path, node, "constraint_message", "constraint", position)

    # -- rules ----------------------------------------------------------------------------------
    def _context(self, position: tuple[tuple[str, int], ...], current: str | None) -> Context:
        ctx = self._contexts.get(position)
        if ctx is None:
            ctx = self._contexts[position] = Context(
                data=self._data,
                fields=self.fields,
                position=[list(p) for p in position],
                today=self._today,
                choices=self.choices,
                files=self.files,
            )
        ctx.current = current
        return ctx

    def _holds(self, expr: str, ctx: Context) -> bool | None:
        """``holds(expr, ctx)`` through the expression's program bound to this form."""
        program = self._programs.get(expr)
        if program is None:
            program = self._programs[expr] = bind(expr, self.fields)
        try:
            return to_boolean(program(ctx))
        except ExpressionError:
            return None

    def _bool(
        self, expr: str, position: tuple[tuple[str, int], ...], current: str | None, default: bool
    ) -> bool:
        # Within one record an expression has one value per repeat position (and current field,
        # when it uses '.'): the questions asked "if ${age} >= ${age_account}" of one member
        # share a single evaluation. None marks an expression that failed.
        dotted = self._dotted.get(expr)
        if dotted is None:
            dotted = self._dotted[expr] = "." in expr
        memo = self._memo.get(position)
        if memo is None:
            memo = self._memo[position] = {}
        key = (expr, current) if dotted else expr
        if key in memo:
            value = memo[key]
        else:
            value = memo[key] = self._holds(expr, self._context(position, current))
        # The form was checked when it was imported; a broken expression cannot be the
        # volunteer's fault, so it must not block their record.
        return default if value is None else value

    def _number(self, expr: str, position: tuple[tuple[str, int], ...]) -> int | None:
        number = number_of(expr, self._context(position, None))
        return int(number) if number is not None and math.isfinite(number) else None

    def _filtered_in(self, node: Node, value: Any, position: tuple[tuple[str, int], ...]) -> bool:
        return offered(
            self.form,
            self.fields,
            node,
            value,
            self._data,
            [list(p) for p in position],
            self._today,
        )

    def _type_problem(self, node: Node, value: Any) -> str | None:
        kind = node.type
        if kind in ("text", "barcode", "hidden"):
            return None if isinstance(value, str) else "wrong_type"
        if kind == "integer":
            ok = isinstance(value, int) and not isinstance(value, bool)
            return None if ok else "not_integer"
        if kind == "decimal":
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            return None if ok and math.isfinite(value) else "not_number"
        if kind == "range":
            return self._range_problem(node, value)
        if kind == "select_one":
            if not isinstance(value, str):
                return "wrong_type"
            return None if self._is_choice(node, value) else "not_a_choice"
        if kind == "select_multiple":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                return "wrong_type"
            if len(set(value)) != len(value):
                return "repeated_choice"
            return None if all(self._is_choice(node, v) for v in value) else "not_a_choice"
        if kind in ("date", "today"):
            return None if isinstance(value, str) and _is_date(value) else "not_date"
        if kind == "time":
            return None if isinstance(value, str) and _TIME.match(value) else "not_time"
        if kind in ("datetime", "start", "end"):
            return None if isinstance(value, str) and _is_datetime(value) else "not_datetime"
        if kind in ("geopoint", "start-geopoint", "background-geopoint"):
            return None if isinstance(value, str) and _is_geopoint(value) else "not_geopoint"
        if kind in GEO_TYPES:
            return geo_problem(kind, value)
        if kind in FILE_ANSWER_TYPES:
            return None if isinstance(value, str) and _SHA256.match(value) else "not_blob"
        if kind == "osm":
            return None if is_osm(value) else "not_osm"
        if kind == "acknowledge":
            return None if value == "OK" else "wrong_type"
        if kind in ("deviceid", "username"):
            return None if isinstance(value, str) else "wrong_type"
        if kind == "note" or kind in EMPTY_METADATA_TYPES:
            return "no_answer_expected"
        if kind == "calculate":
            ok = isinstance(value, str | int | float) and not isinstance(value, bool)
            return None if ok else "wrong_type"
        return "wrong_type"

    def _rank_offered(self, node: Node, position: tuple[tuple[str, int], ...]) -> list[str]:
        """The choice names a rank question offers now: its whole list, or what its
        choice_filter leaves of it."""
        names = [str(c["name"]) for c in self.form.choices.get(node.list_name or "", [])]
        if not node.get("choice_filter"):
            return names
        where = [list(p) for p in position]
        return [
            name
            for name in names
            if offered(self.form, self.fields, node, name, self._data, where, self._today)
        ]

    def _range_problem(self, node: Node, value: Any) -> str | None:
        bounds = range_parameters(node.get("parameters"))
        if isinstance(bounds, str):
            return None  # refused at import: a stored form's range always reads
        if not isinstance(value, int | float) or isinstance(value, bool):
            return "not_number"
        if range_is_whole(bounds) and not isinstance(value, int):
            return "not_integer"
        if not math.isfinite(value):
            return "not_number"
        return range_problem(bounds, value)

    def _is_choice(self, node: Node, value: str) -> bool:
        if node.or_other and value == "other":
            return True
        return value in self._choices_of(node)

    def _choices_of(self, node: Node) -> frozenset[Any]:
        # A set per choice list, made on first use: a form version never changes.
        list_name = node.list_name or ""
        names = self._choice_names.get(list_name)
        if names is None:
            names = self._choice_names[list_name] = frozenset(
                c["name"] for c in self.form.choices.get(list_name, [])
            )
        return names

    def _add_custom(
        self,
        errors: Errors,
        path: str,
        node: Node,
        column: str,
        code: str,
        position: tuple[tuple[str, int], ...],
    ) -> None:
        # The form's own message, its ${references} filled in for this question's instance.
        custom = {
            lang: fill(self.form.text(node.row, column, lang), self.form, self._data, position)
            for lang in ("vi", "en")
        }
        generic = message(f"field.{code}")
        errors.setdefault(path, []).append(
            {"code": code, **{lang: custom[lang] or generic[lang] for lang in generic}}
        )


class _FieldPlan(NamedTuple):
    """A question's checks, read from its row once (``RecordChecker._step``)."""

    asks: bool  # an empty answer may be required (not a note, not a calculation)
    required: bool | str  # always, never, or when this expression holds
    type_problem: Callable[[Any], str | None]
    choice_filter: bool
    bounded: bool  # text at most MAX_TEXT_LENGTH (an osm answer has its own bound)
    constraint: str | None


# A child of a group or repeat: its kind, node, key, relevance expression, and a question's plan.
_Step = tuple[str, Node, str, "str | None", "_FieldPlan | None"]

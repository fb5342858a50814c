"""Check a record's answers against its form version, with the same rules the phone applies.

Errors come back field by field, keyed by a path (``head_name``, ``members[1].birth_year``),
each ``{"code", "vi", "en"}``; the form's own ``constraint_message`` / ``required_message``
win over the catalogue's generic words. Nothing is "fixed": a record either passes or is
answered with what to change.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from schemas.expressions import (
    Context,
    ExpressionError,
    Value,
    bind_at,
    evaluate,
    evaluate_bool,
    place,
    to_boolean,
    to_number,
)
from schemas.form import (
    CHOICE_PREFIX,
    EMPTY_METADATA_TYPES,
    Form,
    Node,
    choice_filter_expression,
    range_is_whole,
    range_parameters,
    range_problem,
)
from schemas.geo import GEO_TYPES, geo_problem
from schemas.labels import fill
from schemas.media import FILE_ANSWER_TYPES
from schemas.messages import message
from schemas.rank import rank_problem

Errors = dict[str, list[dict[str, str]]]

_TRUE = {"yes", "true", "true()"}
_FALSE = {"", "no", "false", "false()"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)?$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# The longest answer of any text (in code points, as the form language's string-length
# counts): a form may ask for less with a constraint, never for more. The phone's checker
# (pwa/js/form.js: MAX_TEXT_LENGTH) holds the same number; tests/unit/test_validate.py runs both.
MAX_TEXT_LENGTH = 10_000
# What a person's erasure leaves in a name or a place the form requires (records/rights.py):
# there it passes its question's checks, type and constraint, so that the erased record is
# still accepted by the province and an office correction of it can be saved.
ERASED = "[đã xóa]"
# Answers that say where (the staff map draws each, an .osm answer is map data): with a text
# name, the answers an erasure can leave the marker in, and the only ones it passes in.
PLACE_TYPES = frozenset({"geopoint", "start-geopoint", "background-geopoint", "osm"} | GEO_TYPES)
_ERASABLE = PLACE_TYPES | {"text"}
# Answers bounded by their own rule instead: an .osm file, a line's or a shape's points.
_OWN_BOUND = {"osm"} | GEO_TYPES
# An osm question's answer is the text of the .osm file the volunteer chose (OpenMapKit's edit
# of one place: a few kilobytes), kept in the record so that it travels offline with it. It
# is bounded, an <osm> document, and holds no DTD, so nothing that reads it later expands an
# entity. pwa/js/form.js: isOsm, the same rule.
MAX_OSM_LENGTH = 100_000
_OSM_DTD = re.compile(r"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
# XML's own white space only: Python's and JavaScript's ideas of white space differ.
_XML_SPACE = " \t\r\n"
_OSM_PROLOG = re.compile(r"^(?:<\?xml[^>]*\?>[ \t\r\n]*)?(?:<!--[\s\S]*?-->[ \t\r\n]*)*")
_OSM_EMPTY = re.compile(r"^<osm(?:[ \t\r\n][^<>]*)?/>$")
_OSM_OPEN = re.compile(r"^<osm[ \t\r\n>]")


def is_osm(value: Any) -> bool:
    """An osm question's answer: an .osm file's text (``MAX_OSM_LENGTH`` at most)."""
    if not isinstance(value, str) or len(value) > MAX_OSM_LENGTH or _OSM_DTD.search(value):
        return False
    text = _OSM_PROLOG.sub("", value.strip(_XML_SPACE), count=1)
    if _OSM_EMPTY.match(text):
        return True
    return _OSM_OPEN.match(text) is not None and text.endswith("</osm>")


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


class RecordChecker:
    """Checks records of one form version; build once per version, reuse for every record.

    The form is compiled once, on the first record, into one closure per group, repeat and
    question: what a question asks of its answer (its type's check, choice list, filter and
    bound) and its relevance, required and constraint expressions, each bound to the place it
    is evaluated at (``bind_at``: a ${reference} to an answer of the record or of the current
    repeat instance is read from it directly). Each group's and repeat's questions are then
    written out as one function (``_compile_level``) doing inline what most answers need.
    A record's own state (its date, answers, errors and the values its expressions took)
    lives in objects made for it, for a server's threads check records with one checker at
    the same time."""

    def __init__(self, form: Form, written_most: int | None = None) -> None:
        self.form = form
        self.fields = form.field_repeats()
        self.choices = form.choice_labels()
        self.files = form.pulldata_files()
        self._choice_names: dict[str, frozenset[Any]] = {}
        # Names that may appear at each data level: top level (key "") and inside each repeat.
        self.allowed: dict[str, set[str]] = {"": set()}
        for name, node in form.nodes.items():
            if node.kind == "group":
                continue
            scope = node.repeats[-1] if node.repeats else ""
            self.allowed.setdefault(scope, set()).add(name)
            if node.kind == "repeat":
                self.allowed.setdefault(name, set())
        self._root: _LevelCheck | None = None
        self._rules: dict[tuple[Any, tuple[str, ...]], _Rule] = {}
        # Questions and expressions still to be written out as Python (WRITTEN_MOST).
        self._to_write = WRITTEN_MOST if written_most is None else written_most

    def check(self, data: dict[str, Any], today: str | None = None) -> Errors:
        root = self._root
        if root is None:
            # Two threads may both compile a version's first records: the same closures.
            root = self._root = self._level(self.form.root, (), True)
        run = _Run(self, data, today)
        root(run, _Frame(data, (), "", (data,)), True)
        return run.errors

    def _holds(self, rule: _Rule, ctx: Context) -> bool | None:
        """``holds(rule.expr, ctx)`` through the rule's program bound to this form (a
        ``bind_at`` program raises RecursionError where ``evaluate`` says "syntax")."""
        try:
            return to_boolean(rule.program(ctx))
        except (ExpressionError, RecursionError):
            return None

    # -- compiling the form ---------------------------------------------------------------------
    def _level(self, node: Node, scope: tuple[str, ...], own_data: bool) -> _LevelCheck:
        """The check of a group's or repeat instance's children; ``own_data`` when ``node``
        holds its own answers (the form's root, a repeat), whose unknown names are refused."""
        steps = [self._step(child, scope) for child in node.children]
        allowed = frozenset(self.allowed.get(scope[-1] if scope else "", ())) if own_data else None
        if len(steps) > self._to_write:
            return _level_of_closures(steps, allowed)
        self._to_write -= len(steps)
        return _compile_level(steps, allowed)

    def _condition(
        self, expr: str | None, scope: tuple[str, ...], current: str
    ) -> _Condition | None:
        """``expr`` as the question (or group, repeat) ``current`` at ``scope`` asks it."""
        if not expr:
            return None
        key: Any = (expr, current) if "." in expr else expr
        # Without '.' a program does not depend on the question asking it: the members'
        # questions asked "if ${age} >= ${age_account}" share one.
        rule = self._rules.get((key, scope))
        if rule is None:
            written = self._to_write > 0
            self._to_write -= written
            program = bind_at(expr, self.fields, scope, current, written=written)
            rule = self._rules[key, scope] = _Rule(expr, program)
        return _Condition(key, rule, current)

    def _step(self, node: Node, scope: tuple[str, ...]) -> _Step | _FieldStep:
        relevance = self._condition(node.get("relevant"), scope, node.name)
        if node.kind == "group":
            return self._group(node, scope, relevance)
        if node.kind == "repeat":
            return self._repeat(node, scope, relevance)
        return self._field(node, scope, relevance)

    def _group(self, node: Node, scope: tuple[str, ...], relevance: _Condition | None) -> _Step:
        level = self._level(node, scope, False)

        def group(run: _Run, frame: _Frame, relevant: bool) -> None:
            # A question nobody could see needs no relevance of its own worked out.
            if relevant and relevance is not None:
                relevant = run.value(frame, relevance) is not False
            level(run, frame, relevant)

        return group

    def _repeat(self, node: Node, scope: tuple[str, ...], relevance: _Condition | None) -> _Step:
        name = node.name
        inner = scope + (name,)
        level = self._level(node, inner, True)
        count_expr = node.get("repeat_count")

        def repeat(run: _Run, frame: _Frame, relevant: bool) -> None:
            if relevant and relevance is not None:
                relevant = run.value(frame, relevance) is not False
            value = frame.scope.get(name)
            path = frame.prefix + name
            if not relevant:
                if not is_empty(value):
                    _add(run.errors, path, "not_relevant")
                return
            if value is None:
                value = []
            if not isinstance(value, list) or not all(isinstance(i, dict) for i in value):
                _add(run.errors, path, "wrong_type")
                return
            if count_expr:
                ctx = run.context(frame)
                ctx.current = None
                number = number_of(count_expr, ctx)
                expected = int(number) if number is not None and math.isfinite(number) else None
                if expected is not None and len(value) != expected:
                    _add(run.errors, path, "repeat_count", expected=expected, actual=len(value))
            position, nodes = frame.position, frame.nodes
            for index, instance in enumerate(value):
                at = _Frame(
                    instance,
                    position + ((name, index),),
                    f"{path}[{index}].",
                    nodes + (instance,),
                )
                level(run, at, True)

        return repeat

    def _field(
        self, node: Node, scope: tuple[str, ...], relevance: _Condition | None
    ) -> _FieldStep:
        name = node.name
        raw = node.get("required")
        asks = node.type not in ("note", "calculate")
        always = raw.lower() in _TRUE
        required = None if always or raw.lower() in _FALSE else self._condition(raw, scope, name)
        asks_always = asks and always
        asks_when = required if asks else None
        is_rank = node.type == "rank"
        erasable = node.type in _ERASABLE
        type_problem = self._type_rule(node)
        choice_filter = bool(node.get("choice_filter"))
        bounded = node.type not in _OWN_BOUND
        constraint = self._condition(node.get("constraint"), scope, name)
        relevance_key = relevance.key if relevance is not None else None
        # The answers that need no more than a look at their type to pass the type's check, the
        # choice filter and the length bound (all but the constraint): a text, a choice of the
        # list, a whole number. Anything else goes the whole way.
        quick_text: frozenset[str] | bool | None = None
        quick_numbers: tuple[type, ...] = ()
        quick_list: frozenset[Any] | None = None
        if not is_rank and not choice_filter:
            quick_text, quick_numbers = self._quick(node)
            if node.type == "select_multiple":
                quick_list = self._choices_of(node)

        def field(run: _Run, frame: _Frame, relevant: bool) -> None:
            if relevant and relevance_key is not None:
                found = frame.memo.get(relevance_key, _UNSET)
                if found is _UNSET:
                    found = run.value(frame, relevance)  # type: ignore[arg-type]
                relevant = found is not False
            value = frame.scope.get(name)
            if not relevant:
                if not (value is None or value == "" or value == []):
                    _add(run.errors, frame.prefix + name, "not_relevant")
                return
            kind = type(value)
            if kind is str:
                quick = (
                    0 < len(value) <= MAX_TEXT_LENGTH
                    if quick_text is True
                    else quick_text is not None and value in quick_text  # type: ignore[operator]
                )
            elif kind is list:
                quick = quick_list is not None and _all_listed(value, quick_list)
            else:
                quick = kind in quick_numbers
            if quick:
                if (
                    constraint is not None
                    and run.value(frame, constraint) is not True
                    and not (erasable and value == ERASED)
                ):
                    run.custom(frame, node, "constraint_message", "constraint")
                return
            if value is None or value == "" or value == []:
                if asks_always or (
                    asks_when is not None and run.value(frame, asks_when) is not False
                ):
                    run.custom(frame, node, "required_message", "required")
                return
            if erasable and value == ERASED:
                return
            if is_rank:
                problem = rank_problem(run.rank_offered(node, frame), value)
            else:
                problem = type_problem(value)
            if problem:
                _add(run.errors, frame.prefix + name, problem)
                return
            if choice_filter and not run.filtered_in(node, value, frame):
                _add(run.errors, frame.prefix + name, "not_a_choice")
                return
            if bounded and isinstance(value, str) and len(value) > MAX_TEXT_LENGTH:
                _add(run.errors, frame.prefix + name, "too_long", max=MAX_TEXT_LENGTH)
                return
            if constraint is not None and run.value(frame, constraint) is not True:
                run.custom(frame, node, "constraint_message", "constraint")

        return _FieldStep(
            field, name, relevance, quick_text, quick_numbers, quick_list, constraint, erasable
        )

    def _quick(self, node: Node) -> tuple[frozenset[str] | bool | None, tuple[type, ...]]:
        """Which answers of ``node`` pass its type's check and the length bound at a look:
        text (True: any non-empty text of at most ``MAX_TEXT_LENGTH``, or only these names),
        and the number types. Only what ``_type_rule`` and the bound would let through."""
        kind = node.type
        if _TYPE_RULES.get(kind) is _text_problem:
            return True, ()
        if kind == "integer":
            return None, (int,)
        if kind == "calculate":
            return True, (int, float)
        if kind == "select_one":
            names = frozenset(
                n
                for n in self._choices_of(node)
                if isinstance(n, str) and 0 < len(n) <= MAX_TEXT_LENGTH
            )
            return names, ()
        return None, ()

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

    # -- rules ----------------------------------------------------------------------------------
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


class _Rule:
    """An expression and its program, bound to the place it is evaluated at."""

    __slots__ = ("expr", "program")

    def __init__(self, expr: str, program: Callable[[Context], Value]) -> None:
        self.expr = expr
        self.program = program


class _Condition:
    """A relevance, required or constraint expression as a question asks it: its value is kept
    per repeat position under ``key`` (with the question's name when it reads '.')."""

    __slots__ = ("key", "rule", "current")

    def __init__(self, key: Any, rule: _Rule, current: str) -> None:
        self.key = key
        self.rule = rule
        self.current = current


class _Frame:
    """A repeat position of one record: its answers (``scope``), where it is, and the values
    its expressions took. A group shares its parent's."""

    __slots__ = ("scope", "position", "prefix", "nodes", "memo")

    def __init__(
        self,
        scope: dict[str, Any],
        position: tuple[tuple[str, int], ...],
        prefix: str,
        nodes: tuple[dict[str, Any], ...],
    ) -> None:
        self.scope = scope
        self.position = position
        self.prefix = prefix
        self.nodes = nodes
        # Per expression (keyed with the current field when it reads '.'): its value, None
        # when it failed.
        self.memo: dict[Any, bool | None] = {}


class _Run:
    """One record's check: its date, answers and errors."""

    __slots__ = ("checker", "data", "today", "errors", "holds", "ctx", "at")

    def __init__(self, checker: RecordChecker, data: dict[str, Any], today: str | None) -> None:
        self.checker = checker
        self.data = data
        self.today = today
        self.errors: Errors = {}
        self.holds = checker._holds
        # The context and the frame it is at (``context``).
        self.ctx: Context | None = None
        self.at: _Frame | None = None

    def value(self, frame: _Frame, condition: _Condition) -> bool | None:
        """``condition``'s value at ``frame``: None when it failed (the caller's default
        stands for it). Within one record an expression has one value per repeat position (and
        current field, when it uses '.'): the questions asked "if ${age} >= ${age_account}" of
        one member share a single evaluation."""
        memo = frame.memo
        found = memo.get(condition.key, _UNSET)
        if found is _UNSET:
            ctx = self.ctx if self.at is frame else self.context(frame)
            ctx.current = condition.current
            found = memo[condition.key] = self.holds(condition.rule, ctx)
        return found  # type: ignore[return-value]

    def context(self, frame: _Frame) -> Context:
        """The record's evaluation context, moved to ``frame``'s position (one context a
        record: making one for each member cost more than its evaluations)."""
        ctx = self.ctx
        if ctx is None:
            checker = self.checker
            ctx = self.ctx = Context(
                data=self.data,
                fields=checker.fields,
                today=self.today,
                choices=checker.choices,
                files=checker.files,
            )
        ctx.position = [list(p) for p in frame.position]
        self.at = frame
        return place(ctx, frame.nodes)

    def filtered_in(self, node: Node, value: Any, frame: _Frame) -> bool:
        checker = self.checker
        where = [list(p) for p in frame.position]
        return offered(checker.form, checker.fields, node, value, self.data, where, self.today)

    def rank_offered(self, node: Node, frame: _Frame) -> list[str]:
        """The choice names a rank question offers now: its whole list, or what its
        choice_filter leaves of it."""
        form = self.checker.form
        names = [str(c["name"]) for c in form.choices.get(node.list_name or "", [])]
        if not node.get("choice_filter"):
            return names
        return [name for name in names if self.filtered_in(node, name, frame)]

    def custom(self, frame: _Frame, node: Node, column: str, code: str) -> None:
        # The form's own message, its ${references} filled in for this question's instance.
        form = self.checker.form
        custom = {
            lang: fill(form.text(node.row, column, lang), form, self.data, frame.position)
            for lang in ("vi", "en")
        }
        generic = message(f"field.{code}")
        self.errors.setdefault(frame.prefix + node.name, []).append(
            {"code": code, **{lang: custom[lang] or generic[lang] for lang in generic}}
        )


_UNSET = object()
# Questions and expressions a form version has written out as Python at most, the rest left
# to their closures: writing one costs several times what making its closure does (about
# 0.5 ms a question against 0.1 on the loaded 2-core machine), paid by the first record of a
# version in each worker process, and an imported form may ask up to 20,000 questions (10 s
# written out, 3 s as closures). The default survey writes 87.
WRITTEN_MOST = 2_000
# A group's, repeat's or question's check.
_Step = Callable[[_Run, _Frame, bool], None]
_LevelCheck = _Step


class _FieldStep:
    """A question's check (``check``, a ``_Step`` doing all of it) and what ``_compile_level``
    needs to write its common cases inline: its relevance, which answers pass at a look
    (``RecordChecker._quick``), its constraint. The inline cases repeat the first steps of
    ``check``; the reference checker's verdicts on drawn records keep the two in step
    (``tests/unit/test_validate_compiled.py``)."""

    __slots__ = (
        "check",
        "name",
        "relevance",
        "quick_text",
        "quick_numbers",
        "quick_list",
        "constraint",
        "erasable",
    )

    def __init__(
        self,
        check: _Step,
        name: str,
        relevance: _Condition | None,
        quick_text: frozenset[str] | bool | None,
        quick_numbers: tuple[type, ...],
        quick_list: frozenset[Any] | None,
        constraint: _Condition | None,
        erasable: bool,
    ) -> None:
        self.check, self.name, self.relevance = check, name, relevance
        self.quick_text, self.quick_numbers, self.quick_list = (
            quick_text,
            quick_numbers,
            quick_list,
        )
        self.constraint, self.erasable = constraint, erasable


# A level's check is written out as the source of one Python function and compiled: calling a
# closure for each question, and its tests of what the question is, were most of a record's
# check (a household of four asks 122 questions). The function does inline what most answers
# need, a look at the answer and the memo of the expressions' values, and calls the question's
# own check for anything more (a missing or wrong answer, an expression not worked out yet
# for this position...), which then does all of it: the errors are always that check's.
# ``is_empty(v)``, written out.
_EMPTY = "(v is None or v == '' or v == [])"


def _compile_level(steps: list[_Step | _FieldStep], allowed: frozenset[str] | None) -> _LevelCheck:
    names: dict[str, Any] = {
        "_UNSET": _UNSET,
        "_unknown": _unknown,
        "_all_listed": _all_listed,
        "ERASED": ERASED,
        "MAX_TEXT_LENGTH": MAX_TEXT_LENGTH,
        "allowed": allowed,
    }
    lines = ["def level(run, frame, relevant):", "    scope = frame.scope"]
    if allowed is not None:
        lines += ["    if not allowed.issuperset(scope):", "        _unknown(run, frame, allowed)"]
    lines += ["    get = scope.get", "    memo = frame.memo", "    value = run.value"]
    for i in range(len(steps)):
        lines += _step_source(steps, i, names)
    exec(compile("\n".join(lines), "<record check>", "exec"), names)  # noqa: S102
    return names["level"]  # type: ignore[no-any-return]


def _unknown(run: _Run, frame: _Frame, allowed: frozenset[str]) -> None:
    """An error for each name of ``frame``'s answers its level does not ask."""
    for key in frame.scope:
        if key not in allowed:
            _add(run.errors, frame.prefix + key, "unknown_field")


def _level_of_closures(
    steps: list[_Step | _FieldStep], allowed: frozenset[str] | None
) -> _LevelCheck:
    """What ``_compile_level`` writes out, as a loop over the questions' own checks."""
    checks = [step.check if isinstance(step, _FieldStep) else step for step in steps]

    def level(run: _Run, frame: _Frame, relevant: bool) -> None:
        if allowed is not None and not allowed.issuperset(frame.scope):
            _unknown(run, frame, allowed)
        for check in checks:
            check(run, frame, relevant)

    return level


def _step_source(steps: list[_Step | _FieldStep], i: int, names: dict[str, Any]) -> list[str]:
    """The lines checking ``steps[i]`` in a written level function (``_compile_level``)."""
    step = steps[i]
    if not isinstance(step, _FieldStep):  # a group or a repeat
        names[f"step{i}"] = step
        return [f"    step{i}(run, frame, relevant)"]
    names[f"step{i}"] = step.check
    names[f"name{i}"] = step.name
    lines = [f"    v = get(name{i})"]
    passes = _passes_at_a_look(step, i, names)
    inner = ["if not (" + passes + "):", f"    step{i}(run, frame, True)"]
    if step.constraint is not None:
        names[f"ckey{i}"], names[f"constraint{i}"] = step.constraint.key, step.constraint
        erased = " and v != ERASED" if step.erasable else ""
        inner = [
            "if " + passes + ":",
            f"    c = memo.get(ckey{i}, _UNSET)",
            "    if c is _UNSET:",
            f"        c = value(frame, constraint{i})",
            f"    if c is not True{erased}:",
            f"        step{i}(run, frame, True)",
            "else:",
            f"    step{i}(run, frame, True)",
        ]
    if step.relevance is None:
        lines += ["    if relevant:", *("        " + line for line in inner)]
    else:
        names[f"rkey{i}"], names[f"relevance{i}"] = step.relevance.key, step.relevance
        lines += [
            "    if relevant:",
            f"        r = memo.get(rkey{i}, _UNSET)",
            "        if r is _UNSET:",
            f"            r = value(frame, relevance{i})",
            "        if r is not False:",
            *("            " + line for line in inner),
            f"        elif not {_EMPTY}:",
            f"            step{i}(run, frame, True)",
        ]
    return lines + [f"    elif not {_EMPTY}:", f"        step{i}(run, frame, False)"]


def _passes_at_a_look(step: _FieldStep, i: int, names: dict[str, Any]) -> str:
    """The source of the test an answer ``v`` of ``step`` passes when its question's check
    would let it through at a look (``field``'s ``quick``); ``"False"`` when none would."""
    tests = []
    if step.quick_text is True:
        tests.append("(type(v) is str and 0 < len(v) <= MAX_TEXT_LENGTH)")
    elif step.quick_text is not None and step.quick_text is not False:
        names[f"texts{i}"] = step.quick_text
        tests.append(f"(type(v) is str and v in texts{i})")
    if step.quick_list is not None:
        names[f"listed{i}"] = step.quick_list
        tests.append(f"(type(v) is list and _all_listed(v, listed{i}))")
    if step.quick_numbers:
        names[f"numbers{i}"] = step.quick_numbers
        tests.append(f"type(v) in numbers{i}")
    return " or ".join(tests) or "False"


def _text_problem(value: Any) -> str | None:
    return None if isinstance(value, str) else "wrong_type"


def _integer_problem(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool)
    return None if ok else "not_integer"


def _decimal_problem(value: Any) -> str | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return None if ok and math.isfinite(value) else "not_number"


def _date_problem(value: Any) -> str | None:
    return None if isinstance(value, str) and _is_date(value) else "not_date"


def _time_problem(value: Any) -> str | None:
    return None if isinstance(value, str) and _TIME.match(value) else "not_time"


def _datetime_problem(value: Any) -> str | None:
    return None if isinstance(value, str) and _is_datetime(value) else "not_datetime"


def _geopoint_problem(value: Any) -> str | None:
    return None if isinstance(value, str) and _is_geopoint(value) else "not_geopoint"


def _blob_problem(value: Any) -> str | None:
    return None if isinstance(value, str) and _SHA256.match(value) else "not_blob"


def _select_one_problem(value: Any, names: frozenset[Any], other: bool) -> str | None:
    if not isinstance(value, str):
        return "wrong_type"
    return None if (other and value == "other") or value in names else "not_a_choice"


def _all_listed(value: list[Any], names: frozenset[Any]) -> bool:
    """``value`` is a select_multiple answer ``_select_multiple_problem`` lets through: some
    texts, each a name of the list, none twice (what an answer from the phone always is)."""
    if not value:
        return False
    seen = set()
    for choice in value:
        if type(choice) is not str or choice not in names or choice in seen:
            return False
        seen.add(choice)
    return True


def _select_multiple_problem(value: Any, names: frozenset[Any], other: bool) -> str | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return "wrong_type"
    if len(set(value)) != len(value):
        return "repeated_choice"
    ok = all((other and v == "other") or v in names for v in value)
    return None if ok else "not_a_choice"


# The types whose check needs nothing but the answer, as ``_type_problem`` checks them (the
# plan takes these; any other type goes through ``_type_problem`` itself).
_TYPE_RULES: dict[str, Callable[[Any], str | None]] = {
    **dict.fromkeys(("text", "barcode", "hidden", "deviceid", "username"), _text_problem),
    "integer": _integer_problem,
    "decimal": _decimal_problem,
    **dict.fromkeys(("date", "today"), _date_problem),
    "time": _time_problem,
    **dict.fromkeys(("datetime", "start", "end"), _datetime_problem),
    **dict.fromkeys(("geopoint", "start-geopoint", "background-geopoint"), _geopoint_problem),
    **dict.fromkeys(FILE_ANSWER_TYPES, _blob_problem),
}


# -- rules shared with schemas/settle.py ----------------------------------------------------------
def holds(expr: str, ctx: Context) -> bool | None:
    """``boolean(expr)``, or None when the expression fails (the caller picks the default)."""
    try:
        return evaluate_bool(expr, ctx)
    except ExpressionError:
        return None


def number_of(expr: str, ctx: Context) -> float | None:
    """``number(expr)`` (NaN included), or None when the expression fails."""
    try:
        return to_number(evaluate(expr, ctx))
    except ExpressionError:
        return None


def offered(
    form: Form,
    fields: Mapping[str, Sequence[str]],
    node: Node,
    value: Any,
    data: Mapping[str, Any],
    position: Sequence[Sequence[Any]],
    today: str | None,
    now: str | None = None,
) -> bool:
    """Every chosen value is a choice the question's choice_filter offers right now."""
    expr, columns = choice_filter_expression(node.get("choice_filter"))
    fields = {**fields, **{CHOICE_PREFIX + c: [] for c in columns}}
    rows = form.choices.get(node.list_name or "", [])
    for chosen in value if isinstance(value, list) else [value]:
        if node.or_other and chosen == "other":
            continue
        found = False
        for row in rows:
            if row["name"] != chosen:
                continue
            extra = {
                CHOICE_PREFIX + c: str(row.get(c) if row.get(c) is not None else "")
                for c in columns
            }
            ctx = Context(
                data={**data, **extra},
                fields=fields,
                position=position,
                current=node.name,
                today=today,
                now=now,
            )
            # A broken filter is the form's fault, not the volunteer's: the choice stays.
            found = holds(expr, ctx) is not False
            if found:
                break
        if not found:
            return False
    return True


def _add(errors: Errors, path: str, code: str, **params: Any) -> None:
    errors.setdefault(path, []).append({"code": code, **message(f"field.{code}", **params)})


def _is_date(value: str) -> bool:
    if not _DATE.match(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_datetime(value: str) -> bool:
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_geopoint(value: str) -> bool:
    parts = value.split()
    if not 2 <= len(parts) <= 4:
        return False
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        return False
    if not all(math.isfinite(n) for n in numbers):
        return False
    return (
        -90 <= numbers[0] <= 90
        and -180 <= numbers[1] <= 180
        and (len(numbers) < 4 or numbers[3] >= 0)
    )

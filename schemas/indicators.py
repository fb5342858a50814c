"""Indicators as data: read ``schemas/indicators/*.json`` and count them on one record.

An indicator file belongs to a form (``form_id``) and says, in the form's own expression
language, who counts (``denominator``) and who has the thing (``numerator``), either once per
household (``scope: ""``) or once per instance of a repeat (``scope: "members"``). A new form
brings its own file, and the server counts its indicators without new code.

Rules the counting follows, so that every figure can be worked out by hand:

* Only a *surveyed* record counts (the file's ``coverage.surveyed`` expression: for the default
  survey, the visit was completed and the household consented). Other visits count as visits.
* The numerator is asked only of those in the denominator, so ``numerator <= denominator``.
* A question that was not asked (relevance skipped it) or has no answer is an empty string in
  the expression language: ``${phone_access} != ''`` in a denominator leaves such people out.
* An expression that names a field the record's form version does not have counts as false
  for that record (an older version did not ask it), never as an error.
* Calculated answers a record lacks (``age`` …) are computed from the form first, with
  ``today()`` being the day of the visit, as on the phone.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from schemas.expr_values import Value, to_boolean
from schemas.expressions import Context, ExpressionError, bind_at, evaluate, parse, place
from schemas.expressions import references as expression_references
from schemas.form import Form, Node

INDICATORS_DIR = Path(__file__).parent / "indicators"
UNITS = ("household", "person")


class IndicatorError(ValueError):
    """An indicator file that cannot be used: names the file, the indicator and the problem."""


@dataclass(frozen=True)
class Target:
    """The national target shown beside an indicator (``percent`` None: no national figure)."""

    percent: float | None
    year: int | None
    source: str
    note: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Indicator:
    id: str
    group: str
    unit: str
    scope: str  # "" for the household, else the name of a repeat
    label: Mapping[str, str]
    denominator: str
    numerator: str
    target: Target
    short: Mapping[str, str] = field(default_factory=dict)

    def text(self, lang: str) -> str:
        return self.label.get(lang) or self.label.get("vi") or self.id

    def short_text(self, lang: str) -> str:
        """A few words for a column head; the full label when the file gives none."""
        return self.short.get(lang) or self.short.get("vi") or self.text(lang)


@dataclass
class RecordFacts:
    """What one record adds up to: was it a survey, how many people, and per indicator
    ``(numerator, denominator)``."""

    surveyed: bool
    persons: int
    counts: dict[str, tuple[int, int]]


@dataclass(frozen=True)
class IndicatorSet:
    form_id: str
    title: Mapping[str, str]
    surveyed: str
    persons_repeat: str
    identifying: tuple[str, ...]
    groups: tuple[Mapping[str, Any], ...]
    indicators: tuple[Indicator, ...]

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], source: str = "") -> IndicatorSet:
        where = source or str(raw.get("form_id") or "?")
        try:
            coverage = raw.get("coverage") or {}
            indicators = tuple(_indicator(item, where) for item in raw["indicators"])
            made = cls(
                form_id=str(raw["form_id"]),
                title=dict(raw.get("title") or {}),
                surveyed=str(coverage.get("surveyed") or "true()"),
                persons_repeat=str(coverage.get("persons") or ""),
                identifying=tuple(raw.get("identifying") or ()),
                groups=tuple(raw.get("groups") or ()),
                indicators=indicators,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise IndicatorError(f"{where}: {error}") from None
        ids = [i.id for i in indicators]
        if len(set(ids)) != len(ids):
            raise IndicatorError(f"{where}: an indicator id is used twice")
        for expr in made.expressions():
            try:
                parse(expr)
            except ExpressionError as error:
                raise IndicatorError(f"{where}: {expr!r}: {error}") from None
        return made

    def expressions(self) -> Iterator[str]:
        yield self.surveyed
        for indicator in self.indicators:
            yield indicator.denominator
            yield indicator.numerator

    def problems(self, form: Form) -> list[str]:
        """What does not fit this form: unknown fields, unknown repeats (empty when usable)."""
        out: list[str] = []
        repeats = {n.name for n in form.nodes.values() if n.kind == "repeat"}
        if self.persons_repeat and self.persons_repeat not in repeats:
            out.append(f"coverage.persons: '{self.persons_repeat}' is not a repeat of the form")
        for indicator in self.indicators:
            if indicator.scope and indicator.scope not in repeats:
                out.append(f"{indicator.id}: scope '{indicator.scope}' is not a repeat")
            for expr in (indicator.denominator, indicator.numerator):
                unknown = sorted(expression_references(expr) - form.nodes.keys())
                if unknown:
                    out.append(f"{indicator.id}: unknown fields {unknown} in {expr!r}")
        unknown = sorted(expression_references(self.surveyed) - form.nodes.keys())
        if unknown:
            out.append(f"coverage.surveyed: unknown fields {unknown}")
        return out

    def compute(self, form: Form, data: Mapping[str, Any], visit_date: str | None) -> RecordFacts:
        """Count every indicator on one record of ``form``.

        Each expression is compiled once per form version and place (``bind_at``: an answer
        of the household or of the member at hand is read straight from it), and one context
        moves from member to member: 0.10 ms a household of four, where evaluating every
        expression from the record took 0.27 ms, most of it finding each answer again
        (``bench/count_records.py``; ``tests/indicators_reference.py`` keeps that count as the
        oracle)."""
        fields = _fields(form)
        filled = fill_calculations(form, data, visit_date, fields)
        ctx = place(Context(data=filled, fields=fields, today=visit_date), [filled])
        programs = _programs(form)

        def holds(expr: str, scope: str) -> bool:
            program = programs.get((expr, scope))
            if program is None:
                program = programs[(expr, scope)] = bind_at(expr, fields, _chain(form, scope), None)
            try:
                return to_boolean(program(ctx))
            except (ExpressionError, RecursionError):  # RecursionError: too deeply nested
                return False

        counts = {i.id: (0, 0) for i in self.indicators}
        if not holds(self.surveyed, ""):
            return RecordFacts(False, 0, counts)
        persons = (
            sum(1 for _ in _positions(form, filled, self.persons_repeat))
            if self.persons_repeat
            else 0
        )
        by_scope: dict[str, list[Indicator]] = {}
        for indicator in self.indicators:
            by_scope.setdefault(indicator.scope, []).append(indicator)
        for scope, indicators in by_scope.items():
            at = _instances_at(form, filled, scope) if scope else iter([([], [filled])])
            for position, nodes in at:
                ctx.position = position
                place(ctx, nodes)
                # Indicators share denominators (VNeID level 1 or 2, and level 2 ...): each
                # expression is evaluated once per household or member.
                seen: dict[str, bool] = {}
                for indicator in indicators:
                    den = seen.get(indicator.denominator)
                    if den is None:
                        den = seen[indicator.denominator] = holds(indicator.denominator, scope)
                    if den:
                        num, total = counts[indicator.id]
                        counts[indicator.id] = (
                            num + holds(indicator.numerator, scope),
                            total + 1,
                        )
        return RecordFacts(True, persons, counts)


def _indicator(item: Mapping[str, Any], where: str) -> Indicator:
    ident = str(item["id"])
    unit = str(item["unit"])
    if unit not in UNITS:
        raise ValueError(f"indicator {ident}: unit must be one of {UNITS}")
    target = item.get("target") or {}
    percent = target.get("percent")
    year = target.get("year")
    label = dict(item["label"])
    if not label.get("vi") or not label.get("en"):
        raise ValueError(f"indicator {ident}: label needs vi and en")
    return Indicator(
        id=ident,
        group=str(item.get("group") or ""),
        unit=unit,
        scope=str(item.get("scope") or ""),
        label=label,
        denominator=str(item["denominator"]),
        numerator=str(item["numerator"]),
        target=Target(
            percent=float(percent) if percent is not None else None,
            year=int(year) if year is not None else None,
            source=str(target.get("source") or ""),
            note=dict(target.get("note") or {}),
        ),
        short=dict(item.get("short") or {}),
    )


def _positions(form: Form, data: Mapping[str, Any], repeat: str) -> Iterator[list[list[Any]]]:
    """Every instance of ``repeat`` (at any depth) as an expression-context position."""
    for position, _ in _instances_at(form, data, repeat):
        yield position


def _chain(form: Form, repeat: str) -> list[str]:
    """The repeats leading to ``repeat``'s instances, outermost first, itself last ([] for the
    household's own answers)."""
    node = form.nodes.get(repeat) if repeat else None
    return [*node.repeats, repeat] if node is not None and node.kind == "repeat" else []


def _instances_at(
    form: Form, data: Mapping[str, Any], repeat: str
) -> Iterator[tuple[list[list[Any]], list[Mapping[str, Any]]]]:
    """Every instance of ``repeat`` (at any depth): its expression-context position, and the
    record and the instances that position names, outermost first (``place``). An instance
    that is no object is an empty one, as the expressions read it."""
    chain = _chain(form, repeat)
    if not chain:
        return

    def walk(
        scope: Any, depth: int, position: list[list[Any]], nodes: list[Mapping[str, Any]]
    ) -> Iterator[tuple[list[list[Any]], list[Mapping[str, Any]]]]:
        items = scope.get(chain[depth]) if isinstance(scope, dict) else None
        for index, instance in enumerate(items if isinstance(items, list) else []):
            here = [*position, [chain[depth], index]]
            held = [*nodes, instance if isinstance(instance, dict) else {}]
            if depth == len(chain) - 1:
                yield here, held
            else:
                yield from walk(instance, depth + 1, here, held)

    yield from walk(data, 0, [], [data])


# Per form version: each (expression, scope) compiled for the place it runs (``bind_at``).
_PROGRAMS: WeakKeyDictionary[Form, dict[tuple[str, str], Callable[[Context], Value]]] = (
    WeakKeyDictionary()
)


def _programs(form: Form) -> dict[tuple[str, str], Callable[[Context], Value]]:
    programs = _PROGRAMS.get(form)
    if programs is None:
        programs = _PROGRAMS[form] = {}
    return programs


_FIELDS: WeakKeyDictionary[Form, dict[str, list[str]]] = WeakKeyDictionary()


def _fields(form: Form) -> dict[str, list[str]]:
    # One map per form: the expression engine keeps what it derives from it per map object.
    if form not in _FIELDS:
        _FIELDS[form] = form.field_repeats()
    return _FIELDS[form]


def fill_calculations(
    form: Form, data: Mapping[str, Any], today: str | None, fields: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A copy of ``data`` with the calculated answers it lacks computed, in form order."""
    out: dict[str, Any] = dict(data)
    _fill_level(form.root, out, out, [], fields or _fields(form), today)
    return out


def _fill_level(
    node: Node,
    scope: dict[str, Any],
    data: dict[str, Any],
    position: list[list[Any]],
    fields: Mapping[str, Any],
    today: str | None,
) -> None:
    for child in node.children:
        if child.kind == "group":
            _fill_level(child, scope, data, position, fields, today)
        elif child.kind == "repeat":
            items = scope.get(child.name)
            if not isinstance(items, list):
                continue
            copied = [dict(i) if isinstance(i, dict) else {} for i in items]
            scope[child.name] = copied
            for index, instance in enumerate(copied):
                _fill_level(child, instance, data, [*position, [child.name, index]], fields, today)
        elif child.type == "calculate" and child.get("calculation") and child.name not in scope:
            try:
                value = evaluate(
                    child.get("calculation"),
                    Context(
                        data=data, fields=fields, position=position, current=child.name, today=today
                    ),
                )
            except ExpressionError:
                continue
            value = _stored(value)
            if value != "":
                scope[child.name] = value


def _stored(value: Any) -> Any:
    # As the phone stores a calculation: first node, 'true'/'false', whole numbers as integers.
    if isinstance(value, list):
        value = value[0] if value else ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        return int(value) if value.is_integer() else value
    return value


def percent(numerator: int, denominator: int) -> float | None:
    """The share in percent, one decimal; None when nobody counts (shown as "—")."""
    return round(100.0 * numerator / denominator, 1) if denominator else None


@cache
def _read_files() -> tuple[tuple[str, str], ...]:
    return tuple(
        (p.name, p.read_text(encoding="utf-8")) for p in sorted(INDICATORS_DIR.glob("*.json"))
    )


@cache
def load_sets() -> tuple[IndicatorSet, ...]:
    """Every indicator file under ``schemas/indicators/``, in file-name order."""
    return tuple(IndicatorSet.from_dict(json.loads(text), name) for name, text in _read_files())


def fingerprint() -> str:
    """A hash of the indicator files as loaded: counts kept under another one are stale."""
    digest = hashlib.sha256()
    for name, text in _read_files():
        digest.update(f"{name}\0{text}\0".encode())
    return digest.hexdigest()


def indicator_set(form_id: str) -> IndicatorSet | None:
    return next((s for s in load_sets() if s.form_id == form_id), None)


def all_indicators() -> list[Indicator]:
    """Every indicator of every form, once per id (forms that share an id share its meaning)."""
    seen: dict[str, Indicator] = {}
    for indicator_set_ in load_sets():
        for indicator in indicator_set_.indicators:
            seen.setdefault(indicator.id, indicator)
    return list(seen.values())


def all_groups() -> list[Mapping[str, Any]]:
    seen: dict[str, Mapping[str, Any]] = {}
    for indicator_set_ in load_sets():
        for group in indicator_set_.groups:
            seen.setdefault(str(group["id"]), group)
    return list(seen.values())

"""The indicator count as it was before ``schemas/indicators.py`` compiled its expressions per
form (``IndicatorSet.compute``), kept verbatim as an oracle: every expression evaluated by the
interpreter, from the record, for each household and member. The differential tests
(``tests/unit/test_indicators_compiled.py``) hold the compiled count to it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from schemas.expressions import Context, ExpressionError, evaluate_bool
from schemas.form import Form
from schemas.indicators import (
    Indicator,
    IndicatorSet,
    RecordFacts,
    _fields,
    fill_calculations,
)


def _positions(form: Form, data: Mapping[str, Any], repeat: str) -> Iterator[list[list[Any]]]:
    """Every instance of ``repeat`` (at any depth) as an expression-context position."""
    node = form.nodes.get(repeat)
    if node is None or node.kind != "repeat":
        return
    chain = [*node.repeats, repeat]

    def walk(scope: Any, depth: int, position: list[list[Any]]) -> Iterator[list[list[Any]]]:
        items = scope.get(chain[depth]) if isinstance(scope, dict) else None
        for index, instance in enumerate(items if isinstance(items, list) else []):
            here = [*position, [chain[depth], index]]
            if depth == len(chain) - 1:
                yield here
            else:
                yield from walk(instance, depth + 1, here)

    yield from walk(data, 0, [])


def compute(
    self: IndicatorSet, form: Form, data: Mapping[str, Any], visit_date: str | None
) -> RecordFacts:
    """Count every indicator on one record of ``form``."""
    fields = _fields(form)
    filled = fill_calculations(form, data, visit_date, fields)

    def holds(expr: str, position: list[list[Any]]) -> bool:
        try:
            return evaluate_bool(
                expr, Context(data=filled, fields=fields, position=position, today=visit_date)
            )
        except ExpressionError:
            return False

    counts = {i.id: (0, 0) for i in self.indicators}
    if not holds(self.surveyed, []):
        return RecordFacts(False, 0, counts)
    persons = (
        sum(1 for _ in _positions(form, filled, self.persons_repeat)) if self.persons_repeat else 0
    )
    by_scope: dict[str, list[Indicator]] = {}
    for indicator in self.indicators:
        by_scope.setdefault(indicator.scope, []).append(indicator)
    for scope, indicators in by_scope.items():
        for position in _positions(form, filled, scope) if scope else iter([[]]):
            # Indicators share denominators (VNeID level 1 or 2, and level 2 ...): each
            # expression is evaluated once per household or member.
            seen: dict[str, bool] = {}
            for indicator in indicators:
                den = seen.get(indicator.denominator)
                if den is None:
                    den = seen[indicator.denominator] = holds(indicator.denominator, position)
                if den:
                    num, total = counts[indicator.id]
                    counts[indicator.id] = (
                        num + holds(indicator.numerator, position),
                        total + 1,
                    )
    return RecordFacts(True, persons, counts)

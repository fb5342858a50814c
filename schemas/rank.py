"""XLSForm's ``rank`` question: the volunteer puts a list's choices in order.

As in ODK (pyxform's ``odk:rank``), the question offers a choice list, its ``choice_filter``
applied, and its answer is every offered choice once, first the one put first. ODK writes it as
the choice names space-separated (``rice maize cassava``); a record's ``data`` keeps it as the
list of names in that order, as it keeps a ``select_multiple``, so the expression language reads
both alike (``selected()``, ``count-selected()``, ``selected-at()``) and exports and OData give
ODK's string. ``pwa/js/rank.js: rankProblem`` is the phone's twin, held equal by
``schemas/rank_cases.json``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def rank_problem(offered: Iterable[str], value: Any) -> str | None:
    """What is wrong with ``value`` as the order of the ``offered`` choice names, or None.

    ``wrong_type`` (not a list of names), ``repeated_choice`` (a name twice), ``not_a_choice``
    (a name not offered now) or ``rank_incomplete`` (an offered choice left out: the order is
    of all of them, never a few)."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return "wrong_type"
    if len(set(value)) != len(value):
        return "repeated_choice"
    names = set(offered)
    if any(v not in names for v in value):
        return "not_a_choice"
    return None if len(value) == len(names) else "rank_incomplete"


def rank_text(value: Any) -> str:
    """The answer as ODK writes it: the names in order, space-separated."""
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return "" if value is None else str(value)

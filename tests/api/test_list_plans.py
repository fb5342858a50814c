"""The staff's records list reads its list indexes alone: every filter and every two of them
page and count through one index that holds every column they test (``COVERING``), with no
sort of its own, so that a list and its count at a million records cost what one index's
range costs. The write path is tuned against these indexes (``store.store_pushed``); a
change that narrows or drops one must keep these plans or say why."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from server.domain.records.query import COUNT_CAP, Filters, _where
from tests.api.test_review_list import store

# A filter of each kind; the review states the office reads as "received" or "corrected" are
# worked out from the record's reviews (``query._CORRECTED_SQL``), which reads its rev too.
SINGLE = {
    "village": None,  # the first village, filled in below
    "volunteer": "2",
    "state": "approved",
    "outcome": "completed",
    "needs_help": "1",
    "date_from": "2026-11-11",
}
INDEX_OF = {
    "village": "records_list_village",
    "volunteer": "records_list_user",
    "state": "records_list_state",
}
COLUMN_OF = {"village": "village_id", "volunteer": "user_id", "state": "review_state"}


def plan(db: Any, sql: str, params: list[Any]) -> str:
    return " / ".join(r[3] for r in db.execute(f"EXPLAIN QUERY PLAN {sql}", params))


def filters(db: Any) -> list[dict[str, str]]:
    village = db.execute("SELECT id FROM villages ORDER BY name LIMIT 1").fetchone()[0]
    single = {**SINGLE, "village": village}
    return [{}] + [
        {a: single[a], b: single[b]} if a != b else {a: single[a]}
        for a, b in itertools.combinations_with_replacement(single, 2)
    ]


@pytest.fixture
def stored(db: Any) -> Any:
    store(db, 30)
    return db


def test_every_filter_and_every_two_count_through_one_covering_index(stored: Any) -> None:
    for args in filters(stored):
        where, params = _where(stored, "99999", Filters.from_args(args))
        counted = plan(
            stored,
            f"SELECT count(*) FROM (SELECT 1 FROM records r WHERE {where} LIMIT ?)",
            [*params, COUNT_CAP + 1],
        )
        assert "USING COVERING INDEX records_list" in counted, (args, counted)
        assert "TEMP B-TREE" not in counted and "SCAN r" not in counted, (args, counted)
        # A filter with an index of its own reads it when alone; with another filter, the
        # count reads the range of one of the two (not the whole commune's).
        if len(args) == 1 and next(iter(args)) in INDEX_OF:
            assert f"INDEX {INDEX_OF[next(iter(args))]} " in counted, (args, counted)
        ranges = [f"AND {COLUMN_OF[name]}=?" for name in args if name in COLUMN_OF]
        if ranges:
            assert any(r in counted for r in ranges), (args, counted)


def test_every_filter_and_every_two_page_newest_first_without_a_sort(stored: Any) -> None:
    for args in [*filters(stored), {"state": "received"}, {"state": "corrected"}]:
        where, params = _where(stored, "99999", Filters.from_args(args))
        paged = plan(
            stored,
            f"SELECT r.id FROM records r WHERE {where} AND (r.received_at, r.id) < (?, ?)"
            " ORDER BY r.received_at DESC, r.id DESC LIMIT 51",
            [*params, "9", "z"],
        )
        assert "INDEX records_list" in paged, (args, paged)
        assert "TEMP B-TREE" not in paged and "SCAN r" not in paged, (args, paged)

"""The pull feed's pages: exactly the changes a phone may see, in order, each page's cost bounded by
its size rather than by how much of the feed follows the cursor."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from server.domain import migrations
from server.domain.db import connect, write_transaction
from server.domain.feeds import page_json, record_change

COMMUNES = ["C1", "C2", None]
VILLAGES = ["V1", "V2", "V3", None]
USERS = [1, 2, None]


@pytest.fixture()
def db(tmp_path: Path) -> sqlite_utils.Database:
    database = connect(tmp_path / "gocua.db")
    migrations.apply(database)
    return database


def fill(db: sqlite_utils.Database, rows: list[tuple[Any, Any, Any]]) -> None:
    with write_transaction(db):
        for i, (commune, village, user) in enumerate(rows):
            record_change(
                db,
                "household",
                f"h{i}",
                {"i": i},
                commune_id=commune,
                village_id=village,
                user_id=user,
            )


def may_see(device: dict[str, Any], commune: Any, village: Any, user: Any) -> bool:
    return (
        (commune is None or commune == device["commune_id"])
        and (village is None or village in device["village_ids"])
        and (user is None or user == device["user_id"])
    )


def pull(db: sqlite_utils.Database, device: dict[str, Any], since: int, limit: int) -> Any:
    """A page as the phone reads it: the answer's JSON, parsed."""
    return json.loads(page_json(db, device, since, limit))


def walk(db: sqlite_utils.Database, device: dict[str, Any], limit: int) -> list[int]:
    since, seen = 0, []
    while True:
        page = pull(db, device, since, limit)
        seen += [change["data"]["i"] for change in page["changes"]]
        assert len(page["changes"]) <= limit
        if not page["has_more"]:
            return seen
        assert len(page["changes"]) == limit, "a page short of its size must be the last"
        since = page["next_since"]


@pytest.mark.parametrize("seed", range(8))
def test_pages_hold_exactly_what_the_phone_may_see_in_order(
    db: sqlite_utils.Database, seed: int
) -> None:
    chance = random.Random(seed)
    rows = [
        (chance.choice(COMMUNES), chance.choice(VILLAGES), chance.choice(USERS)) for _ in range(400)
    ]
    fill(db, rows)
    devices = [
        {"commune_id": "C1", "village_ids": ["V1", "V3"], "user_id": 1},
        {"commune_id": "C2", "village_ids": [], "user_id": 2},
        {"commune_id": "C1", "village_ids": ["V1", "V2", "V3"], "user_id": 3},
    ]
    for device in devices:
        expected = [i for i, row in enumerate(rows) if may_see(device, *row)]
        for limit in (1, 7, 50, 1000):
            assert walk(db, device, limit) == expected


def steps_for_first_page(db: sqlite_utils.Database, device: dict[str, Any]) -> int:
    """SQLite virtual-machine steps (in thousands) the first page costs: a count of work done,
    the same on a fast machine or a slow one."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    db.conn.set_progress_handler(count, 1000)
    try:
        pull(db, device, 0, 100)
    finally:
        db.conn.set_progress_handler(None, 0)
    return steps


def test_a_page_costs_its_size_not_the_length_of_the_feed(db: sqlite_utils.Database) -> None:
    device = {"commune_id": "C1", "village_ids": ["V1", "V2"], "user_id": 1}
    fill(db, [(None, None, None)] * 5 + [("C1", "V1", None)] * 1_000)
    short = steps_for_first_page(db, device)
    fill(db, [("C1", "V2", None), (None, None, None)] * 20_000)
    long = steps_for_first_page(db, device)
    # Before pages were bounded, the first page gathered and sorted all 41,000 later changes:
    # about forty times the work of the short feed.
    assert long <= short * 1.5 + 2, (short, long)


def feed(db: sqlite_utils.Database) -> list[tuple[Any, ...]]:
    return [
        tuple(r) for r in db.execute("SELECT kind, entity_id, op, village_id, payload FROM changes")
    ]


def test_a_households_newer_put_replaces_the_older_one_for_the_same_phones(db):
    with write_transaction(db):
        for kind, entity, village, op, payload in [
            ("household", "h1", "V1", "put", {"v": 1}),
            ("household", "h1", "V2", "put", {"v": 2}),  # other phones: kept
            ("review", "r1", "V1", "put", {"v": 1}),
            ("household", "h2", "V1", "put", {"v": 1}),
            ("household", "h1", "V1", "put", {"v": 3}),  # replaces {"v": 1} of V1
            ("review", "r1", "V1", "put", {"v": 2}),  # a review is no whole state: kept
            ("household", "h2", "V1", "delete", {}),  # a removal replaces nothing
        ]:
            record_change(db, kind, entity, payload, commune_id="C1", village_id=village, op=op)
    assert feed(db) == [
        ("household", "h1", "put", "V2", '{"v":2}'),
        ("review", "r1", "put", "V1", '{"v":1}'),
        ("household", "h2", "put", "V1", '{"v":1}'),
        ("household", "h1", "put", "V1", '{"v":3}'),
        ("review", "r1", "put", "V1", '{"v":2}'),
        ("household", "h2", "delete", "V1", "{}"),
    ]
    device = {"commune_id": "C1", "village_ids": ["V1"], "user_id": 1}
    assert [c["data"] for c in pull(db, device, 0, 10)["changes"]] == [
        {"v": 1},
        {"v": 1},
        {"v": 3},
        {"v": 2},
        {},
    ]


def test_migration_m015_keeps_each_households_latest_put_of_a_feed_kept_before(db):
    with write_transaction(db):
        db.execute("DROP INDEX changes_entity")
        db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm015_feed_latest_households'")
        for kind, entity, village, payload in [
            ("household", "h1", "V1", '{"v":1}'),
            ("household", "h1", "V2", '{"v":2}'),
            ("household", "h1", "V1", '{"v":3}'),
            ("review", "r1", "V1", '{"v":1}'),
            ("review", "r1", "V1", '{"v":2}'),
        ]:
            db.execute(
                "INSERT INTO changes (commune_id, village_id, kind, entity_id, op, payload,"
                " created_at) VALUES ('C1', ?, ?, ?, 'put', ?, 'then')",
                [village, kind, entity, payload],
            )
    assert migrations.apply(db) == ["m015_feed_latest_households"]
    assert feed(db) == [
        ("household", "h1", "put", "V2", '{"v":2}'),
        ("household", "h1", "put", "V1", '{"v":3}'),
        ("review", "r1", "put", "V1", '{"v":1}'),
        ("review", "r1", "put", "V1", '{"v":2}'),
    ]

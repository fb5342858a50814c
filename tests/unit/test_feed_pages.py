"""The pull feed's pages: exactly the changes a phone may see, in order, each page's cost bounded by
its size rather than by how much of the feed follows the cursor."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from server.domain import feeds, migrations
from server.domain.db import connect, write_transaction
from server.domain.feeds import page_json, record_change, replace_put, sweep_replaced
from server.domain.followups import send_household
from server.domain.records.rights import erase_household
from server.domain.register import add_commune, add_household, add_village, remove_household

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
                "village",
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


def test_a_households_newer_put_replaces_the_older_one_it_names_or_a_volunteers_own(db):
    with write_transaction(db):

        def put(entity: str, village: str, payload: Any, replaces: int | None) -> int:
            return replace_put(
                db,
                "household",
                entity,
                payload,
                replaces=replaces,
                commune_id="C1",
                village_id=village,
            )

        def change(kind: str, entity: str, payload: Any, op: str = "put", user: Any = None) -> int:
            return record_change(
                db, kind, entity, payload, commune_id="C1", village_id="V1", user_id=user, op=op
            )

        first = put("h1", "V1", {"v": 1}, None)
        change("household", "h1", {"v": "u1"}, user=1)  # one volunteer's: kept for them
        review = change("review", "r1", {"v": 1}, user=1)
        put("h2", "V1", {"v": 1}, None)
        moved = put("h1", "V2", {"v": 2}, first)  # moved: replaces its put of V1
        change("household", "h1", {"v": "u2"}, user=1)  # replaces that volunteer's older one
        change("review", "r1", {"v": 2}, user=1)  # a review is no whole state: kept
        put("h2", "V1", {"v": 2}, review)  # a seq naming no household put: nothing goes
        change("household", "h2", {}, op="delete")  # a removal replaces nothing
        put("h1", "V2", {"v": 3}, moved)
    # The replaced puts stay until the sweep, the oldest first.
    replaced = [
        ("household", "h1", "put", "V1", '{"v":1}'),
        ("household", "h1", "put", "V2", '{"v":2}'),
    ]
    assert [c for c in replaced if c in feed(db)] == replaced
    with write_transaction(db):
        assert sweep_replaced(db, most=1) == 1
    assert [c for c in replaced if c in feed(db)] == replaced[1:]
    with write_transaction(db):
        assert sweep_replaced(db) == 2  # the one it did not name is found in no row
        assert sweep_replaced(db) == 0
    assert feed(db) == [
        ("review", "r1", "put", "V1", '{"v":1}'),
        ("household", "h2", "put", "V1", '{"v":1}'),
        ("household", "h1", "put", "V1", '{"v":"u2"}'),
        ("review", "r1", "put", "V1", '{"v":2}'),
        ("household", "h2", "put", "V1", '{"v":2}'),
        ("household", "h2", "delete", "V1", "{}"),
        ("household", "h1", "put", "V2", '{"v":3}'),
    ]
    device = {"commune_id": "C1", "village_ids": ["V1", "V2"], "user_id": 1}
    assert [c["data"] for c in pull(db, device, 0, 10)["changes"]] == [
        {"v": 1},
        {"v": 1},
        {"v": "u2"},
        {"v": 2},
        {"v": 2},
        {},
        {"v": 3},
    ]
    # A household's put for its village is only ever made telling the one it replaces.
    with pytest.raises(ValueError, match="replace_put"), write_transaction(db):
        change("household", "h3", {"v": 1})


def test_the_changes_looked_up_by_entity_are_read_through_their_index(db):
    """The statements the code runs by entity id (traced as it runs them), planned by SQLite:
    each searches ``changes_entity`` rather than reading the whole feed."""
    ran: list[str] = []
    db.conn.set_trace_callback(ran.append)
    with write_transaction(db):
        record_change(db, "household", "h1", {}, commune_id="C1", village_id="V1", user_id=7)
        feeds.by_entity(db, "review", "r1")
    db.conn.set_trace_callback(None)
    by_id = [sql for sql in ran if "entity_id = " in sql]
    assert len(by_id) == 2, ran
    for sql in by_id:
        plan = " ".join(r[-1] for r in db.execute(f"EXPLAIN QUERY PLAN {sql}"))
        assert "USING INDEX changes_entity" in plan, (sql, plan)


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


def test_migration_m021_keeps_each_households_latest_put_and_its_seq(db):
    with write_transaction(db):
        add_commune(db, "C1", "Xã Một", "P1", "Tỉnh Một")
        v1, v2 = (add_village(db, "C1", name)["id"] for name in ("Thôn 1", "Thôn 2"))
        h1, h2, h3 = (add_household(db, v1, name)["id"] for name in ("Hộ 1", "Hộ 2", "Hộ 3"))
        # As the database was before m021: no seqs kept, every change in the entity index.
        db.execute("DROP TRIGGER outbox_household_update")
        db.execute(
            "CREATE TRIGGER outbox_household_update AFTER UPDATE ON households BEGIN"
            " INSERT INTO outbox (kind, entity_id, commune_id)"
            " VALUES ('household', NEW.id, NEW.commune_id); END"
        )
        db.execute("ALTER TABLE households DROP COLUMN put")
        db.execute("ALTER TABLE household_followups DROP COLUMN put")
        db.execute("DROP INDEX changes_entity")
        db.execute("CREATE INDEX changes_entity ON changes(entity_id)")
        db.execute("DELETE FROM changes")
        db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm021_household_puts_by_seq'")
        for kind, entity, village, user, payload in [
            ("household", h1, v1, None, '{"v":1}'),
            ("household", h1, v1, 7, '{"v":"u"}'),  # one volunteer's: kept
            ("household", h1, v2, None, '{"v":2}'),  # moved: the latest
            ("review", "r1", v1, 7, '{"v":1}'),
            ("household", h2, v1, None, '{"v":1}'),
            ("household", "gone", v1, None, '{"v":1}'),  # no longer on the register
        ]:
            db.execute(
                "INSERT INTO changes (commune_id, village_id, user_id, kind, entity_id, op,"
                " payload, created_at) VALUES ('C1', ?, ?, ?, ?, 'put', ?, 'then')",
                [village, user, kind, entity, payload],
            )
    sent = db.execute("SELECT max(seq) FROM outbox").fetchone()[0]
    assert migrations.apply(db) == ["m021_household_puts_by_seq"]
    assert feed(db) == [
        ("household", h1, "put", v1, '{"v":"u"}'),
        ("household", h1, "put", v2, '{"v":2}'),
        ("review", "r1", "put", v1, '{"v":1}'),
        ("household", h2, "put", v1, '{"v":1}'),
        ("household", "gone", "put", v1, '{"v":1}'),
    ]
    seqs = dict(db.execute("SELECT entity_id || payload, seq FROM changes").fetchall())
    puts = dict(db.execute("SELECT id, put FROM households").fetchall())
    assert puts == {h1: seqs[h1 + '{"v":2}'], h2: seqs[h2 + '{"v":1}'], h3: None}
    # Keeping the seqs sent nothing upstream; a change of the register still does.
    upstream = "SELECT entity_id FROM outbox WHERE seq > ?"
    assert db.execute(upstream, [sent]).fetchall() == []
    for column, value in [
        ("village_id", v2),
        ("code", "HX23456"),
        ("head_name", "Hộ Một"),
        ("address", "Số 9"),
        ("removed_at", "2026-12-01T00:00:00Z"),
        ("updated_at", "2026-12-01T00:00:00Z"),
    ]:
        sent = db.execute("SELECT max(seq) FROM outbox").fetchone()[0]
        with write_transaction(db):
            db.execute(f"UPDATE households SET {column} = ? WHERE id = ?", [value, h3])
        assert [tuple(r) for r in db.execute(upstream, [sent])] == [(h3,)], column
    with write_transaction(db):
        db.execute("UPDATE households SET removed_at = NULL, village_id = ? WHERE id = ?", [v1, h3])
    # The next put of each replaces the one kept.
    with write_transaction(db):
        for household in (h1, h2, h3):
            send_household(db, household)
        sweep_replaced(db)
    kept = [(kind, entity, village) for kind, entity, _, village, _ in feed(db)]
    assert kept == [
        ("household", h1, v1),  # one volunteer's
        ("review", "r1", v1),
        ("household", "gone", v1),
        ("household", h1, v1),  # in place of its put of the village it was listed in before
        ("household", h2, v1),
        ("household", h3, v1),
    ]


def test_an_erased_households_every_put_in_the_feed_is_scrubbed_even_once_removed(db):
    name = "Phạm Văn Đức"
    with write_transaction(db):
        add_commune(db, "C1", "Xã Một", "P1", "Tỉnh Một")
        village = add_village(db, "C1", "Thôn 1")["id"]
        household = add_household(db, village, name)
        send_household(db, household["id"])  # the register's put replaced, not swept yet
        send_household(db, household["id"], user_id=7)  # caught up for one volunteer
        remove_household(db, {**household, "removed_at": None})  # its puts stay in the feed
    payloads = [r[0] for r in db.execute("SELECT payload FROM changes WHERE kind = 'household'")]
    assert sum(name in p for p in payloads) == 3
    with write_transaction(db):
        erase_household(db, household["id"])
    payloads = [r[0] for r in db.execute("SELECT payload FROM changes WHERE kind = 'household'")]
    assert len(payloads) == 4 and not any(name in p for p in payloads)

"""The pull feed: every change a phone must learn of gets a sequence number in its transaction."""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from server.domain.db import now_iso

# Kinds whose change carries the entity's whole state: only the latest put stays in the feed.
LATEST_ONLY = frozenset({"household"})
# The changes ``changes_entity`` holds (m021): all but a household's put or delete for its
# village. A query by entity id names this very term, so that SQLite uses the partial index.
BY_ENTITY = "(kind <> 'household' OR user_id IS NOT NULL)"


def record_change(
    db: sqlite_utils.Database,
    kind: str,
    entity_id: str,
    payload: dict[str, Any],
    *,
    commune_id: str | None,
    village_id: str | None = None,
    user_id: int | None = None,
    op: str = "put",
    now: str | None = None,
) -> int:
    """Append one change; must run inside the write transaction that made it, so that a
    reader never sees a sequence number whose change is not committed yet. ``now``: the time
    the caller writes as the transaction's (default: the clock's).

    A household's change is its whole state, so a newer one for the same phones replaces the
    older: a phone that has not pulled the older gets the newer all the same, later in the
    feed. Most households have two (put on the register, then their follow-up after the
    visit): the feed stays one row a household, not two (``bench/storage_size.py``). A put for
    one volunteer's phones finds the one it replaces through ``changes_entity``, an index of
    the changes kept for one volunteer only; a put for a whole village is made by
    ``replace_put``, which is told the one it replaces."""
    if kind in LATEST_ONLY and op == "put" and user_id is None:
        raise ValueError(f"a {kind}'s put for its village replaces its older one: replace_put")
    seq = _append(db, kind, entity_id, payload, commune_id, village_id, user_id, op, now)
    if kind in LATEST_ONLY and op == "put":
        db.execute(
            "DELETE FROM changes WHERE entity_id = ? AND kind = ? AND op = 'put' AND seq < ?"
            f" AND user_id = ? AND commune_id IS ? AND village_id IS ? AND {BY_ENTITY}",
            [entity_id, kind, seq, user_id, commune_id, village_id],
        )
    return seq


def replace_put(
    db: sqlite_utils.Database,
    kind: str,
    entity_id: str,
    payload: dict[str, Any],
    *,
    replaces: int | None,
    commune_id: str,
    village_id: str,
    now: str | None = None,
) -> int:
    """Put an entity of a LATEST_ONLY kind in the feed for its village's phones, in place of
    its put ``replaces`` (the seq the caller keeps for it: ``household_followups.put``), in
    whatever village that one was (a merge moves households). Returns the new put's seq, for
    the caller to keep. Finding the older put by its seq, not by the entity's id, spares
    every visit an insert and a deletion in an index of random keys.

    The older put stays in the feed until ``sweep_replaced`` deletes it, when no phone is
    syncing: deleting it here dirtied an old page of the feed and one of its index in the
    visit's transaction, a quarter of the pages a visit writes under the write lock. A phone
    that pulls it meanwhile gets the newer all the same, later in the feed."""
    if kind not in LATEST_ONLY:
        raise ValueError(f"{kind} changes are not replaced")
    seq = _append(db, kind, entity_id, payload, commune_id, village_id, None, "put", now)
    if replaces is not None:
        db.execute("INSERT OR IGNORE INTO feed_replaced (seq) VALUES (?)", [replaces])
    return seq


# The replaced puts one sweep deletes at most: a transaction of a few tens of milliseconds.
SWEEP_MOST = 2000


def replaced_waiting(db: sqlite_utils.Database) -> bool:
    """Whether replaced puts wait in the feed for ``sweep_replaced`` (a read: no lock)."""
    return db.execute("SELECT 1 FROM feed_replaced LIMIT 1").fetchone() is not None


def sweep_replaced(db: sqlite_utils.Database, most: int = SWEEP_MOST) -> int:
    """Delete from the feed the ``most`` oldest puts replaced since (``replace_put``), in seq
    order, so that the pages of the feed they share are each written once; must run inside a
    write transaction. A seq that names no such put (none is expected) deletes nothing.
    Returns how many waiting seqs it took."""
    last = db.execute(
        "SELECT seq FROM feed_replaced ORDER BY seq LIMIT 1 OFFSET ?", [most - 1]
    ).fetchone()
    upto = "" if last is None else f" WHERE seq <= {int(last[0])}"
    kinds = ", ".join(f"'{kind}'" for kind in sorted(LATEST_ONLY))
    db.execute(
        f"DELETE FROM changes WHERE seq IN (SELECT seq FROM feed_replaced{upto})"
        f" AND op = 'put' AND user_id IS NULL AND kind IN ({kinds})"
    )
    return db.execute(f"DELETE FROM feed_replaced{upto}").rowcount


def by_entity(db: sqlite_utils.Database, kind: str, entity_id: str) -> list[tuple[int, str]]:
    """The seq and payload of an entity's changes that ``changes_entity`` holds (for a
    household: those kept for one volunteer; its village's put is ``household_followups.put``)."""
    return db.execute(
        f"SELECT seq, payload FROM changes WHERE kind = ? AND entity_id = ? AND {BY_ENTITY}",
        [kind, entity_id],
    ).fetchall()


def _append(
    db: sqlite_utils.Database,
    kind: str,
    entity_id: str,
    payload: dict[str, Any],
    commune_id: str | None,
    village_id: str | None,
    user_id: int | None,
    op: str,
    now: str | None,
) -> int:
    cursor = db.execute(
        "INSERT INTO changes (commune_id, village_id, user_id, kind, entity_id, op, payload,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            commune_id,
            village_id,
            user_id,
            kind,
            entity_id,
            op,
            json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
            now or now_iso(),
        ],
    )
    return int(cursor.lastrowid or 0)


def page_json(db: sqlite_utils.Database, device: dict[str, Any], since: int, limit: int) -> bytes:
    """The changes after ``since`` this device may see, oldest first, one page, as the UTF-8
    JSON body of the response.

    A page costs what it returns, not what follows the cursor: each half of the UNION walks
    ``changes_scope`` (commune_id, seq) in seq order and stops at the page size, and SQLite merges
    the two ordered halves. Written as one ``commune_id IS NULL OR commune_id = ?`` test, the
    planner instead gathered every later change of the commune and sorted them (a second for the
    first page of a million-change feed)."""
    villages = device["village_ids"]
    marks = ",".join("?" * len(villages)) or "NULL"
    visible = (
        f" AND (village_id IS NULL OR village_id IN ({marks}))"
        " AND (user_id IS NULL OR user_id = ?) ORDER BY seq LIMIT ?"
    )
    # SQLite writes each change as JSON (the stored payload spliced in as it is): not decoded
    # and encoded again in Python. Cast to a blob, it reaches Python as the UTF-8 bytes the
    # response sends: the Vietnamese text of a page is neither decoded into str by the driver
    # nor encoded back by the response (together a third of a page's own cost).
    rows = db.conn.execute(
        "SELECT seq, CAST(json_object('seq', seq, 'kind', kind, 'id', entity_id, 'op', op,"
        " 'data', json(payload)) AS BLOB) FROM ("
        " SELECT * FROM (SELECT seq, kind, entity_id, op, payload FROM changes"
        f"  WHERE commune_id IS NULL AND seq > ?{visible})"
        " UNION ALL"
        " SELECT * FROM (SELECT seq, kind, entity_id, op, payload FROM changes"
        f"  WHERE commune_id = ? AND seq > ?{visible})"
        ") ORDER BY seq LIMIT ?",
        [
            *[since, *villages, device["user_id"], limit + 1],
            *[device["commune_id"], since, *villages, device["user_id"], limit + 1],
            limit + 1,
        ],
    ).fetchall()
    page = rows[:limit]
    next_since = int(page[-1][0]) if page else since
    more = b"true" if len(rows) > limit else b"false"
    changes = b",".join([row[1] for row in page])
    return b'{"changes":[%s],"next_since":%d,"has_more":%s}' % (changes, next_since, more)

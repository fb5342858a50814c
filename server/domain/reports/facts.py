"""Indicator counts kept ready for the reports: one row per record, sums per village and month.

Counting indicators means evaluating expressions over every member of every household, far too
slow to do for a province at each page view. So each record's counts are computed once
(``report_facts``), and what the record adds to the reports is kept summed in ``report_totals``
per scope, commune, village and month of visit: a dashboard adds up a few hundred rows. The
same sums hold the records by review state (scope ``states``), and ``report_volunteers`` each
volunteer's visits per village and day, so that no page reads ``report_facts`` record by record.

What a record adds depends on the other records of its household: a household counts once.
Its latest visit (any outcome) counts as the household *visited*; its latest *surveyed* visit
(completed with consent) gives its indicators and people. In scope ``all`` every record but a
rejected one takes part, in scope ``approved`` only approved ones.

Triggers on ``records`` (migration m002) queue every inserted, changed or deleted record in
``report_dirty``; ``refresh_dirty()`` works the queue off in small write transactions, out of
any page view (``server.domain.reports.background``, and ``gocua reports refresh``), and
notes when the queue was last empty (``freshness``): a report reads the sums as they are and
says how fresh they are. ``refresh_record_facts()`` lets a writer refresh a record inside its
own transaction.

A record's row keeps the counts it was counted with and, in ``roles``, what it adds to the sums
(``ROLE_VISITED``/``ROLE_SURVEYED`` per scope), so that taking it out again subtracts exactly
what it added: also when the indicator files changed since. That is why a change of the files
needs no reset: every record is queued and recounted, and the sums move from the old
definitions to the new ones record by record while the reports go on reading them.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import sqlite_utils

from schemas.form import Form
from schemas.indicators import fingerprint, indicator_set
from server.domain import answers
from server.domain.db import now_iso, write_transaction
from server.domain.forms import get_form

SCOPES = ("all", "approved")
STATES = "states"  # report_totals' scope of the records by review state
FACTS_VERSION = "1"  # raise when the counting rules below change: every record is recounted
BATCH = 500
# Bits of report_facts.roles, per scope in SCOPES order: the household's latest visit, and its
# latest surveyed visit (whose indicators, people and "surveyed" it adds).
ROLE_VISITED, ROLE_SURVEYED = 1, 2
_FACT_COLUMNS = (
    "record_id",
    "commune_id",
    "village_id",
    "household_key",
    "user_id",
    "form_id",
    "state",
    "visit_date",
    "surveyed",
    "persons",
    "counts",
    "roles",
)
Delta = dict[tuple[Any, ...], int]
VOLUNTEER_KEYS = ("visits", "surveyed", "persons", "approved", "has_issues")


def in_scope(scope: str, state: str) -> bool:
    return state == "approved" if scope == "approved" else state != "rejected"


def _stamp() -> str:
    return f"{FACTS_VERSION}:{fingerprint()}"


def refresh_dirty(
    db: sqlite_utils.Database, batch: int = BATCH, before_batch: Callable[[], None] | None = None
) -> int:
    """Recount every queued record, ``batch`` records per write transaction; returns how many.
    ``before_batch`` is called before each batch is read from the queue (the background count
    gives way to phones there).

    When the indicator files (or the counting rules, FACTS_VERSION) changed since the counts
    were made, every record is queued first and recounted under the new ones. The transaction
    that empties the queue notes the time (``freshness``)."""
    stamp = _stamp()
    row = db.execute("SELECT value FROM report_state WHERE key = 'definitions'").fetchone()
    if row is None or row[0] != stamp:
        with write_transaction(db):
            db.execute("INSERT OR IGNORE INTO report_dirty (record_id) SELECT id FROM records")
            db.execute(
                "INSERT OR REPLACE INTO report_state (key, value) VALUES ('definitions', ?)",
                [stamp],
            )
    done = 0
    while True:
        # The records' indicators are worked out before the write lock, from what they are
        # now; under the lock only a record changed meanwhile is worked out again. Phones
        # pushing at dusk while a reviewer's dashboard starts a count wait for the sums' few
        # writes (about 8 ms a hundred records), not for their indicators (0.1 ms a household
        # of four, bench/count_records.py).
        if before_batch is not None:
            before_batch()
        queued = _queued(db, batch)
        if not queued:
            break
        ahead = _worked_out(db, queued)
        with write_transaction(db):
            # Only what was worked out and is still queued: another process may have counted
            # some meanwhile; what was queued since waits for the next round.
            ids = [
                r[0]
                for r in db.execute(
                    f"SELECT record_id FROM report_dirty WHERE record_id IN ({_marks(queued)})",
                    queued,
                )
            ]
            if ids:
                _refresh(db, ids, ahead)
                _delete_in(db, "report_dirty", "record_id", ids)
            if not db.execute("SELECT 1 FROM report_dirty LIMIT 1").fetchone():
                _note_counted(db)
        done += len(ids)
    if not db.execute("SELECT 1 FROM report_state WHERE key = 'counted_at'").fetchone():
        with write_transaction(db):  # a new database: nothing to count, all counted
            _note_counted(db)
    return done


def _queued(db: sqlite_utils.Database, batch: int) -> list[str]:
    """Up to ``batch`` queued records, the first in id order (a server's workers count one
    at a time: ``background``)."""
    return [
        r[0]
        for r in db.execute(
            "SELECT record_id FROM report_dirty ORDER BY record_id LIMIT ?", [batch]
        )
    ]


def _note_counted(db: sqlite_utils.Database) -> None:
    db.execute(
        "INSERT OR REPLACE INTO report_state (key, value) VALUES ('counted_at', ?)", [now_iso()]
    )


PENDING_CAP = 10_000


def freshness(db: sqlite_utils.Database) -> dict[str, Any]:
    """How fresh the kept sums are, read without counting anything: ``pending``, the records
    waiting to be counted (up to PENDING_CAP + 1); ``recount``, True when the indicator files
    changed since the sums were made (every record is to be counted again); ``counted_at``,
    when the queue was last empty (every record received before then is in the sums), or None
    when it never was; ``as_of``, the time the figures are true of: now when nothing waits,
    else ``counted_at``."""
    # One statement, so one moment: read apart, a count committing between them gave the
    # time before it beside the empty queue after it.
    stamp, counted_at, pending = db.execute(
        "SELECT (SELECT value FROM report_state WHERE key = 'definitions'),"
        " (SELECT value FROM report_state WHERE key = 'counted_at'),"
        " (SELECT count(*) FROM (SELECT 1 FROM report_dirty LIMIT ?))",
        [PENDING_CAP + 1],
    ).fetchone()
    recount = stamp is None or stamp != _stamp()
    return {
        "pending": pending,
        "recount": recount,
        "counted_at": counted_at,
        "as_of": counted_at if pending or recount else now_iso(),
    }


def refresh_record_facts(db: sqlite_utils.Database, record_id: str) -> None:
    """Recount one record now, inside the caller's write transaction (e.g. after a push or a
    review decision), so the next report need not."""
    _refresh(db, [record_id])
    db.execute("DELETE FROM report_dirty WHERE record_id = ?", [record_id])


def rebuild(db: sqlite_utils.Database) -> int:
    """Forget every count and recount every record (the reports read empty sums meanwhile)."""
    with write_transaction(db):
        db.execute("DELETE FROM report_totals")
        db.execute("DELETE FROM report_volunteers")
        db.execute("DELETE FROM report_facts")
        db.execute("INSERT OR IGNORE INTO report_dirty (record_id) SELECT id FROM records")
    return refresh_dirty(db)


# A record's row as its facts are worked out from it, and those facts.
Ahead = dict[str, tuple[tuple[Any, ...], dict[str, Any]]]


def _record_rows(db: sqlite_utils.Database, ids: list[str]) -> list[sqlite3.Row]:
    return db.execute(
        "SELECT id, commune_id, village_id, household_id, user_id, form_id, form_version,"
        f" review_state, data, meta, received_at FROM records WHERE id IN ({_marks(ids)})",
        ids,
    ).fetchall()


def _marks(values: list[Any]) -> str:
    return ",".join("?" * len(values))


def _worked_out(db: sqlite_utils.Database, ids: list[str]) -> Ahead:
    """The facts of these records as they are now, worked out without the write lock."""
    forms: dict[tuple[str, str], Form | None] = {}
    return {row["id"]: (tuple(row), _facts(db, row, forms)) for row in _record_rows(db, ids)}


def _refresh(db: sqlite_utils.Database, ids: list[str], ahead: Ahead | None = None) -> None:
    """Recount ``ids`` inside the caller's write transaction; ``ahead``, facts worked out
    before it, used for each record whose row is still the one they were worked out from."""
    old_keys = {
        r[0]
        for r in db.execute(
            f"SELECT household_key FROM report_facts WHERE record_id IN ({_marks(ids)})", ids
        )
    }
    forms: dict[tuple[str, str], Form | None] = {}
    ahead = ahead or {}
    new_facts = []
    for row in _record_rows(db, ids):
        known = ahead.get(row["id"])
        same = known is not None and known[0] == tuple(row)
        new_facts.append(known[1] if same else _facts(db, row, forms))  # type: ignore[index]
    keys = old_keys | {f["household_key"] for f in new_facts}
    delta: Delta = defaultdict(int)
    people: Delta = defaultdict(int)
    changing = set(ids)
    for fact in _household_facts(db, keys):
        _add(delta, fact, _contribution(fact, fact["roles"]), -1)
        if fact["record_id"] in changing:
            _add_record(delta, people, fact, -1)
    for fact in new_facts:
        _add_record(delta, people, fact, +1)
    _delete_in(db, "report_facts", "record_id", ids)
    if new_facts:
        db["report_facts"].insert_all(new_facts)
    by_household: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for fact in _household_facts(db, keys):
        by_household[fact["household_key"]].append(fact)
    updates = []
    for facts in by_household.values():
        for fact, roles in _roles(facts):
            _add(delta, fact, _contribution(fact, roles), +1)
            if roles != fact["roles"]:
                updates.append((roles, fact["record_id"]))
    db.conn.executemany("UPDATE report_facts SET roles = ? WHERE record_id = ?", updates)
    _apply(db, delta)
    _apply_volunteers(db, people)


def _facts(
    db: sqlite_utils.Database, row: sqlite3.Row, forms: dict[tuple[str, str], Form | None]
) -> dict[str, Any]:
    rid, form_id, version = row["id"], row["form_id"], row["form_version"]
    meta = json.loads(row["meta"])
    visit_date = str(meta.get("visit_date") or meta.get("started_at") or row["received_at"])[:10]
    if (form_id, version) not in forms:
        found = get_form(db, form_id, version)
        forms[(form_id, version)] = found[0] if found else None
    form = forms[(form_id, version)]
    indicators = indicator_set(form_id)
    surveyed, persons, counts = False, 0, {}
    if form is not None and indicators is not None:
        facts = indicators.compute(form, answers.load(row["data"]), visit_date)
        surveyed, persons = facts.surveyed, facts.persons
        counts = {k: list(v) for k, v in facts.counts.items() if v != (0, 0)}
    return {
        "record_id": rid,
        "commune_id": row["commune_id"],
        "village_id": row["village_id"],
        "household_key": row["household_id"] or f"record:{rid}",
        "user_id": row["user_id"],
        "form_id": form_id,
        "state": row["review_state"],
        "visit_date": visit_date,
        "surveyed": int(surveyed),
        "persons": persons,
        "counts": json.dumps(counts, separators=(",", ":"), sort_keys=True),
        "roles": 0,
    }


def _household_facts(db: sqlite_utils.Database, keys: Iterable[str]) -> list[dict[str, Any]]:
    keys = list(keys)
    out: list[dict[str, Any]] = []
    for start in range(0, len(keys), BATCH):
        chunk = keys[start : start + BATCH]
        out += [
            dict(r)
            for r in db.execute(
                f"SELECT {', '.join(_FACT_COLUMNS)} FROM report_facts"
                f" WHERE household_key IN ({','.join('?' * len(chunk))})",
                chunk,
            )
        ]
    return out


def _roles(facts: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int]]:
    """What each record of one household is for the totals (``roles`` bits), per scope: the
    household's latest visit, its latest surveyed visit."""
    roles = {f["record_id"]: 0 for f in facts}

    def order(fact: dict[str, Any]) -> tuple[str, str]:
        return fact["visit_date"], fact["record_id"]

    for shift, scope in enumerate(SCOPES):
        eligible = [f for f in facts if in_scope(scope, f["state"])]
        if not eligible:
            continue
        roles[max(eligible, key=order)["record_id"]] |= ROLE_VISITED << (2 * shift)
        surveyed = [f for f in eligible if f["surveyed"]]
        if surveyed:
            roles[max(surveyed, key=order)["record_id"]] |= ROLE_SURVEYED << (2 * shift)
    return [(f, roles[f["record_id"]]) for f in facts]


def _contribution(fact: dict[str, Any], roles: int) -> dict[str, dict[str, int]]:
    """What a record with these ``roles`` adds to the totals, per scope: worked out from its
    own row, so that it is subtracted with the very counts it was added with."""
    out: dict[str, dict[str, int]] = {}
    for shift, scope in enumerate(SCOPES):
        bits = roles >> (2 * shift)
        counters: dict[str, int] = {}
        if bits & ROLE_VISITED:
            counters["visited"] = 1
        if bits & ROLE_SURVEYED:
            counters["surveyed"] = 1
            if fact["persons"]:
                counters["persons"] = fact["persons"]
            for ident, (num, den) in json.loads(fact["counts"]).items():
                if num:
                    counters[f"n:{ident}"] = num
                if den:
                    counters[f"d:{ident}"] = den
        if counters:
            out[scope] = counters
    return out


def _add(delta: Delta, fact: dict[str, Any], contrib: dict[str, Any], sign: int) -> None:
    month = fact["visit_date"][:7]
    for scope, counters in contrib.items():
        for key, value in counters.items():
            delta[(scope, fact["commune_id"], fact["village_id"], month, key)] += sign * value


def _add_record(delta: Delta, people: Delta, fact: dict[str, Any], sign: int) -> None:
    """What one record adds on its own, whatever its household: one to its review state's
    count, and to its volunteer's visits of that day (per scope)."""
    commune, village, day = fact["commune_id"], fact["village_id"], fact["visit_date"]
    delta[(STATES, commune, village, day[:7], fact["state"])] += sign
    user = fact["user_id"] or 0  # 0: no volunteer of this server (a commune server's record)
    values = (
        1,
        fact["surveyed"],
        fact["persons"] * fact["surveyed"],
        int(fact["state"] == "approved"),
        int(fact["state"] == "has_issues"),
    )
    for scope in SCOPES:
        if in_scope(scope, fact["state"]):
            for key, value in zip(VOLUNTEER_KEYS, values, strict=True):
                if value:
                    people[(scope, commune, village, user, day, key)] += sign * value


def _apply(db: sqlite_utils.Database, delta: Delta) -> None:
    changed = [(*k, v) for k, v in delta.items() if v]
    db.conn.executemany(
        "INSERT INTO report_totals (scope, commune_id, village_id, month, key, value)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scope, commune_id, village_id, month, key)"
        " DO UPDATE SET value = value + excluded.value",
        changed,
    )
    db.conn.executemany(
        "DELETE FROM report_totals WHERE scope = ? AND commune_id = ? AND village_id = ?"
        " AND month = ? AND key = ? AND value = 0",
        [c[:5] for c in changed],
    )


def _apply_volunteers(db: sqlite_utils.Database, people: Delta) -> None:
    changed = [(*k, v) for k, v in people.items() if v]
    db.conn.executemany(
        "INSERT INTO report_volunteers (scope, commune_id, village_id, user_id, day, key, value)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (scope, commune_id, village_id, user_id, day,"
        " key) DO UPDATE SET value = value + excluded.value",
        changed,
    )
    db.conn.executemany(
        "DELETE FROM report_volunteers WHERE scope = ? AND commune_id = ? AND village_id = ?"
        " AND user_id = ? AND day = ? AND key = ? AND value = 0",
        [c[:6] for c in changed],
    )


def _delete_in(db: sqlite_utils.Database, table: str, column: str, values: list[str]) -> None:
    for start in range(0, len(values), BATCH):
        chunk = values[start : start + BATCH]
        db.execute(f"DELETE FROM {table} WHERE {column} IN ({','.join('?' * len(chunk))})", chunk)

"""Indicator counts kept ready for the reports: one row per record, sums per village and month.

Counting indicators means evaluating expressions over every member of every household, far too
slow to do for a province at each page view. So each record's counts are computed once
(``report_facts``), and what the record adds to the reports is kept summed in ``report_totals``
per scope, commune, village and month of visit: a dashboard adds up a few hundred rows.

What a record adds depends on the other records of its household: a household counts once.
Its latest visit (any outcome) counts as the household *visited*; its latest *surveyed* visit
(completed with consent) gives its indicators and people. In scope ``all`` every record but a
rejected one takes part, in scope ``approved`` only approved ones.

Triggers on ``records`` (migration m005) queue every inserted, changed or deleted record in
``report_dirty``; ``refresh_dirty()`` works the queue off before a report is read, and
``refresh_record_facts()`` lets a writer refresh a record inside its own transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import sqlite_utils

from schemas.form import Form
from schemas.indicators import fingerprint, indicator_set
from server.domain.db import write_transaction
from server.domain.forms import get_form

SCOPES = ("all", "approved")
FACTS_VERSION = "1"  # raise when the counting rules below change: every record is recounted
BATCH = 500
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
    "contrib",
)
Delta = dict[tuple[str, str, str, str, str], int]


def in_scope(scope: str, state: str) -> bool:
    return state == "approved" if scope == "approved" else state != "rejected"


def refresh_dirty(db: sqlite_utils.Database) -> int:
    """Recount every queued record, a batch per write transaction; returns how many.

    When the indicator files (or the counting rules, FACTS_VERSION) changed since the counts
    were made, every record is queued first: after an upgrade the first report recounts all
    (``gocua reports rebuild`` does it ahead of time)."""
    stamp = f"{FACTS_VERSION}:{fingerprint()}"
    row = db.execute("SELECT value FROM report_state WHERE key = 'definitions'").fetchone()
    if row is None or row[0] != stamp:
        with write_transaction(db):
            _forget_all(db)
            db.execute(
                "INSERT OR REPLACE INTO report_state (key, value) VALUES ('definitions', ?)",
                [stamp],
            )
    done = 0
    while db.execute("SELECT 1 FROM report_dirty LIMIT 1").fetchone():
        with write_transaction(db):
            ids = [r[0] for r in db.execute("SELECT record_id FROM report_dirty LIMIT ?", [BATCH])]
            _refresh(db, ids)
            _delete_in(db, "report_dirty", "record_id", ids)
        done += len(ids)
    return done


def refresh_record_facts(db: sqlite_utils.Database, record_id: str) -> None:
    """Recount one record now, inside the caller's write transaction (e.g. after a push or a
    review decision), so the next report need not."""
    _refresh(db, [record_id])
    db.execute("DELETE FROM report_dirty WHERE record_id = ?", [record_id])


def rebuild(db: sqlite_utils.Database) -> int:
    """Forget every count and recount every record."""
    with write_transaction(db):
        _forget_all(db)
    return refresh_dirty(db)


def _forget_all(db: sqlite_utils.Database) -> None:
    db.execute("DELETE FROM report_totals")
    db.execute("DELETE FROM report_facts")
    db.execute("INSERT OR IGNORE INTO report_dirty (record_id) SELECT id FROM records")


def _refresh(db: sqlite_utils.Database, ids: list[str]) -> None:
    marks = ",".join("?" * len(ids))
    old_keys = {
        r[0]
        for r in db.execute(
            f"SELECT household_key FROM report_facts WHERE record_id IN ({marks})", ids
        )
    }
    rows = db.execute(
        "SELECT id, commune_id, village_id, household_id, user_id, form_id, form_version,"
        f" review_state, data, meta, received_at FROM records WHERE id IN ({marks})",
        ids,
    ).fetchall()
    forms: dict[tuple[str, str], Form | None] = {}
    new_facts = [_facts(db, row, forms) for row in rows]
    keys = old_keys | {f["household_key"] for f in new_facts}
    delta: Delta = defaultdict(int)
    for fact in _household_facts(db, keys):
        _add(delta, fact, json.loads(fact["contrib"]), -1)
    _delete_in(db, "report_facts", "record_id", ids)
    if new_facts:
        db["report_facts"].insert_all(new_facts)
    by_household: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for fact in _household_facts(db, keys):
        by_household[fact["household_key"]].append(fact)
    updates = []
    for facts in by_household.values():
        for fact, contrib in _contributions(facts):
            _add(delta, fact, contrib, +1)
            text = json.dumps(contrib, separators=(",", ":"), sort_keys=True)
            if text != fact["contrib"]:
                updates.append((text, fact["record_id"]))
    db.conn.executemany("UPDATE report_facts SET contrib = ? WHERE record_id = ?", updates)
    _apply(db, delta)


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
        facts = indicators.compute(form, json.loads(row["data"]), visit_date)
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
        "contrib": "{}",
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


def _contributions(facts: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """What each record of one household adds to the totals, per scope."""
    contrib: dict[str, dict[str, dict[str, int]]] = {f["record_id"]: {} for f in facts}

    def order(fact: dict[str, Any]) -> tuple[str, str]:
        return fact["visit_date"], fact["record_id"]

    for scope in SCOPES:
        eligible = [f for f in facts if in_scope(scope, f["state"])]
        if not eligible:
            continue
        contrib[max(eligible, key=order)["record_id"]].setdefault(scope, {})["visited"] = 1
        surveyed = [f for f in eligible if f["surveyed"]]
        if not surveyed:
            continue
        latest = max(surveyed, key=order)
        counters = contrib[latest["record_id"]].setdefault(scope, {})
        counters["surveyed"] = 1
        if latest["persons"]:
            counters["persons"] = latest["persons"]
        for ident, (num, den) in json.loads(latest["counts"]).items():
            if num:
                counters[f"n:{ident}"] = num
            if den:
                counters[f"d:{ident}"] = den
    return [(f, contrib[f["record_id"]]) for f in facts]


def _add(delta: Delta, fact: dict[str, Any], contrib: dict[str, Any], sign: int) -> None:
    month = fact["visit_date"][:7]
    for scope, counters in contrib.items():
        for key, value in counters.items():
            delta[(scope, fact["commune_id"], fact["village_id"], month, key)] += sign * value


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


def _delete_in(db: sqlite_utils.Database, table: str, column: str, values: list[str]) -> None:
    for start in range(0, len(values), BATCH):
        chunk = values[start : start + BATCH]
        db.execute(f"DELETE FROM {table} WHERE {column} IN ({','.join('?' * len(chunk))})", chunk)

"""The submissions list: every filter, keyset pages that neither skip nor repeat a record,
and query plans that page through an index (the 100,000-record promise, without a clock)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from server.domain.db import write_transaction
from server.domain.records.query import Filters, _where
from tests.api.test_review_helpers import staff, text_of
from tests.records import adult, household_data

OUTCOMES = ["completed", "nobody_home", "come_back"]
STATES = ["received", "has_issues", "approved"]


def store(db: Any, n: int) -> list[dict[str, Any]]:
    """n records written straight to the tables, received in bursts that share a second."""
    villages = [r[0] for r in db.execute("SELECT id FROM villages ORDER BY name")]
    user = db.execute("SELECT id FROM users WHERE username = 'tnv.demo'").fetchone()[0]
    rows = []
    with write_transaction(db):
        for i in range(n):
            outcome = OUTCOMES[i // 3 % 3]
            if outcome == "completed":
                help_with = ["vneid"] if i % 2 else ["none"]
                data = household_data(members=[{**adult("A", 1980), "needs_help": help_with}])
            else:
                data = {"outcome": outcome}
            row = {
                "id": str(uuid.uuid4()),
                "rev": str(uuid.uuid4()),
                "commune_id": "99999",
                "village_id": villages[i % 3],
                "household_id": None,
                "form_id": "ho_gia_dinh_cds",
                "form_version": "2026.11.1",
                "data": json.dumps(data),
                "meta": "{}",
                "device_id": None,
                "user_id": user if i % 4 else None,
                "review_state": STATES[i // 9 % 3],
                "received_at": f"2026-11-{10 + i // 40:02d}T08:00:{i // 7 % 60:02d}Z",
                "updated_at": "2026-11-30T00:00:00Z",
            }
            db["records"].insert(row)
            rows.append(
                {**row, "needs_help": outcome == "completed" and i % 2 == 1, "outcome": outcome}
            )
    return rows


def newest_first(rows: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in sorted(rows, key=lambda r: (r["received_at"], r["id"]), reverse=True)]


def walk(client: Any, query: str) -> tuple[list[str], int]:
    """Follow the 'older' links from the first page; returns the ids in order and pages."""
    ids: list[str] = []
    url, pages = f"/?{query}", 0
    while url:
        page = text_of(client.get(url))
        pages += 1
        ids += re.findall(r'<tr data-record="([^"]+)">', page)
        found = re.search(r'<a rel="next" href="([^"]+)">', page)
        url = found.group(1).replace("&amp;", "&") if found else None
    return ids, pages


def test_keyset_pages_cover_every_record_once_in_order(client, app, db):
    rows = store(db, 130)
    staff(client, app)
    ids, pages = walk(client, "")
    assert pages == 3 and ids == newest_first(rows)
    assert "130 phiếu" in text_of(client.get("/"))


def test_each_filter_and_their_combination(client, app, db):
    rows = store(db, 130)
    staff(client, app)
    village = rows[1]["village_id"]
    user = rows[1]["user_id"]
    cases = {
        f"village={village}": [r for r in rows if r["village_id"] == village],
        f"volunteer={user}": [r for r in rows if r["user_id"] == user],
        "state=has_issues": [r for r in rows if r["review_state"] == "has_issues"],
        "outcome=come_back": [r for r in rows if r["outcome"] == "come_back"],
        "needs_help=1": [r for r in rows if r["needs_help"]],
        "date_from=2026-11-11&date_to=2026-11-12": [
            r for r in rows if "2026-11-11" <= r["received_at"][:10] <= "2026-11-12"
        ],
        f"village={village}&needs_help=1&state=received": [
            r
            for r in rows
            if r["village_id"] == village and r["needs_help"] and r["review_state"] == "received"
        ],
    }
    for query, expected in cases.items():
        assert expected, query
        assert walk(client, query)[0] == newest_first(expected), query
    odd = text_of(client.get("/?date_from=20-11-2026&state=nonsense"))
    assert "NNNN-TT-NN" in odd and len(re.findall(r"<tr data-record=", odd)) == 50


def test_the_list_of_a_survivor_village_shows_the_merged_villages_records(client, app, db):
    rows = store(db, 12)
    staff(client, app)
    east, west = rows[0]["village_id"], rows[1]["village_id"]
    client.post(
        "/villages/merge", data={"csrf_token": "test-csrf-token", "source": east, "target": west}
    )
    ids, _ = walk(client, f"village={west}")
    assert ids == newest_first([r for r in rows if r["village_id"] in (east, west)])


def test_every_filter_pages_through_an_index_without_sorting(db):
    store(db, 30)
    village = db.execute("SELECT id FROM villages LIMIT 1").fetchone()[0]
    for args in [
        {},
        {"village": village},
        {"volunteer": "2"},
        {"state": "approved"},
        {"outcome": "completed"},
        {"needs_help": "1"},
        {"date_from": "2026-11-11", "after": "2026-11-12T08:00:00Z~abc"},
    ]:
        where, params = _where(db, "99999", Filters.from_args(args))
        plan = " / ".join(
            r[3]
            for r in db.execute(
                "EXPLAIN QUERY PLAN SELECT r.id FROM records r"
                f" WHERE {where} AND (r.received_at, r.id) < (?, ?)"
                " ORDER BY r.received_at DESC, r.id DESC LIMIT 51",
                [*params, "9", "z"],
            )
        )
        assert "USING" in plan and "INDEX" in plan, (args, plan)
        assert "TEMP B-TREE" not in plan, (args, plan)

"""Push ingest end to end: a real ``gocua serve`` (waitress over loopback), gzip bodies, every
record validated against the default survey, one SQLite transaction per batch of 100.

Baseline, measured in the same run: sqlite-utils ``insert_all`` of the same rows (the records
table's columns) into a bare table, in one transaction -- what storing them costs at least.
Goal: >= 2,000 records/s; with STORED records already in the database, within 20% of empty.

    .venv/bin/python bench/sync_push.py [N] [--stored M]

The M stored records are written straight into the database (bulk INSERTs in one transaction,
every trigger firing) before the server starts: pushing them would take as long as the bench.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import sqlite_utils  # noqa: E402

from server.domain import answers  # noqa: E402
from server.domain.db import connect  # noqa: E402
from sync.client import SyncClient  # noqa: E402
from tests.records import household_data, record  # noqa: E402
from tests.server_process import ServerProcess  # noqa: E402

BATCH = 100


def start_server(data_dir: Path) -> tuple[ServerProcess, SyncClient, list[str]]:
    """A served Gõ Cửa with the demo commune, and an enrolled phone's client and villages."""
    server = ServerProcess(data_dir)
    server.cli("init", "--demo")
    server.start()
    url = server.cli("enroll").strip().splitlines()[-1]
    client = SyncClient(server.base)
    body = client.enroll(url.split("#enroll=")[1])
    return server, client, [v["id"] for v in body["villages"]]


def make_records(villages: list[str], n: int) -> list[dict[str, Any]]:
    data = household_data()  # a household of two, as tests/records.py answers it
    return [record(villages[i % len(villages)], data=data) for i in range(n)]


def bodies(records: list[dict[str, Any]]) -> list[bytes]:
    """The batches as a phone sends them, encoded before the clock starts."""
    return [
        gzip.compress(json.dumps({"items": records[i : i + BATCH]}, ensure_ascii=False).encode(), 5)
        for i in range(0, len(records), BATCH)
    ]


def push_all(base: str, token: str, encoded: list[bytes]) -> float:
    """Seconds to push every batch in order, each applied before the next is sent."""
    session = requests.Session()
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
        "Accept-Encoding": "gzip",
    }
    start = time.perf_counter()
    for body in encoded:
        response = session.post(f"{base}/api/v1/sync/push", data=body, headers=headers, timeout=120)
        response.raise_for_status()
        statuses = {r["status"] for r in response.json()["results"]}
        assert statuses == {"applied"}, statuses
    return time.perf_counter() - start


def raw_insert_rate(records: list[dict[str, Any]], commune_id: str) -> float:
    """Records/s of sqlite-utils insert_all of the same rows, one transaction, bare table."""
    with tempfile.TemporaryDirectory() as folder:
        db = sqlite_utils.Database(Path(folder) / "raw.db")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        rows = [row_of(r, commune_id, "2026-11-20T00:00:00Z") for r in records]
        start = time.perf_counter()
        with db.conn:
            db["records"].insert_all(rows, batch_size=1000)
        seconds = time.perf_counter() - start
        db.close()
    return len(rows) / seconds


def row_of(item: dict[str, Any], commune_id: str, now: str) -> dict[str, Any]:
    return {
        "id": item["id"],
        "rev": item["rev"],
        "commune_id": commune_id,
        "village_id": item["village_id"],
        "household_id": item["household_id"],
        "form_id": item["form_id"],
        "form_version": item["form_version"],
        "data": json.dumps(item["data"], ensure_ascii=False, separators=(",", ":")),
        "meta": json.dumps(item["meta"], ensure_ascii=False, separators=(",", ":")),
        "device_id": None,
        "user_id": None,
        "review_state": "received",
        "received_at": now,
        "updated_at": now,
    }


def prestore(database: Path, villages: list[str], count: int, chunk: int = 50_000) -> float:
    """Write ``count`` records and their revisions straight into the database (triggers
    fire as for any write); returns the seconds it took."""
    db = connect(database)
    commune_id = db.execute(
        "SELECT commune_id FROM villages WHERE id = ?", [villages[0]]
    ).fetchone()[0]
    data = answers.pack(household_data())  # as the records store keeps them
    meta = json.dumps({"started_at": "2026-11-20T01:00:00Z", "visit_date": "2026-11-20"})
    start = time.perf_counter()
    for first in range(0, count, chunk):
        rows = []
        for i in range(first, min(count, first + chunk)):
            rows.append((str(uuid.uuid4()), str(uuid.uuid4()), villages[i % len(villages)]))
        db.conn.execute("BEGIN IMMEDIATE")
        db.conn.executemany(
            "INSERT INTO records (id, rev, commune_id, village_id, household_id, form_id,"
            " form_version, data, meta, review_state, received_at, updated_at)"
            " VALUES (?, ?, ?, ?, NULL, 'ho_gia_dinh_cds', '2026.11.1', ?, ?, 'received',"
            " '2026-11-19T00:00:00Z', '2026-11-19T00:00:00Z')",
            [(rid, rev, commune_id, village, data, meta) for rid, rev, village in rows],
        )
        db.conn.executemany(
            "INSERT INTO revisions (record_id, rev, base_rev, status, data, meta, received_at,"
            " form_id, form_version, village_id) VALUES (?, ?, NULL, 'current', ?, ?,"
            " '2026-11-19T00:00:00Z', 'ho_gia_dinh_cds', '2026.11.1', ?)",
            [(rid, rev, data, meta, village) for rid, rev, village in rows],
        )
        db.conn.execute("COMMIT")
    db.close()
    return time.perf_counter() - start


def run(n: int, stored: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        server, client, villages = start_server(data_dir)
        try:
            if stored:
                server.stop()
                took = prestore(data_dir / "gocua.db", villages, stored)
                print(f"  pre-stored {stored:,} records by bulk INSERT in {took:,.0f} s")
                server.start()
            records = make_records(villages, n)
            encoded = bodies(records)
            seconds = push_all(server.base, client.token or "", encoded)
            with connect(data_dir / "gocua.db") as db:
                held = db.execute("SELECT count(*) FROM records").fetchone()[0]
            assert held == n + stored, (held, n + stored)
        finally:
            server.stop()
    rate = n / seconds
    raw = raw_insert_rate(records, "99999")
    print(f"  pushed {n:,} records in {len(encoded):,} batches of {BATCH} in {seconds:,.1f} s")
    print(f"  push ingest: {rate:,.0f} records/s (goal >= 2,000)")
    print(f"  baseline:    {raw:,.0f} records/s (sqlite-utils insert_all, one transaction)")
    print(f"  ratio:       {rate / raw:.3f} of the baseline")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=100_000)
    parser.add_argument(
        "--stored", type=int, default=0, help="records already in the database (e.g. 1000000)"
    )
    args = parser.parse_args()
    print("empty database:")
    empty = run(args.n, 0)
    if args.stored:
        print(f"with {args.stored:,} records already stored:")
        full = run(args.n, args.stored)
        print(f"stored/empty: {full / empty:.2f} (goal >= 0.80)")


if __name__ == "__main__":
    main()

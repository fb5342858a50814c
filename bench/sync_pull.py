"""The pull feed, end to end against a real ``gocua serve``, as a phone (the Python client, gzip)
reads it, 500 changes a page (the collector's page size).

1. A new phone's full pull of a feed of N register households (default 100,000), from checkpoint 0.
   Baseline, same run: reading the same rows straight from SQLite and decoding their JSON in one
   query, what the feed costs at least.
2. The feed grown to BIG changes (default 1,000,000): one page over HTTP at the start, the middle
   and the end of the feed (median and worst of 20 each). Beside each, the feed's former query
   (one ``commune_id IS NULL OR commune_id = ?`` test, which SQLite planned as a gather and a
   sort of everything after the cursor) timed on the same file, straight from SQLite.

    .venv/bin/python bench/sync_pull.py [N] [BIG]
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.sync_push import start_server  # noqa: E402
from server.domain.db import connect, write_transaction  # noqa: E402
from server.domain.feeds import record_change  # noqa: E402
from server.domain.register import add_household  # noqa: E402
from sync.client import SyncClient  # noqa: E402

PAGE = 500
TRIES = 20

FORMER_QUERY = (
    "SELECT seq, kind, entity_id, op, payload FROM changes WHERE seq > ?"
    " AND (commune_id IS NULL OR commune_id = ?)"
    " AND (village_id IS NULL OR village_id IN ({marks}))"
    " AND (user_id IS NULL OR user_id = ?) ORDER BY seq LIMIT ?"
)


def full_pull(client: SyncClient, data_dir: Path, n: int) -> None:
    pages = pulled = 0

    def count(page: dict[str, Any]) -> None:
        nonlocal pages, pulled
        pages += 1
        pulled += len(page["changes"])

    start = time.perf_counter()
    since = client.pull_all(0, on_page=count, limit=PAGE)
    seconds = time.perf_counter() - start
    with connect(data_dir / "gocua.db") as db:
        start = time.perf_counter()
        rows = db.execute(
            "SELECT seq, kind, entity_id, op, payload FROM changes WHERE seq <= ? ORDER BY seq",
            [since],
        ).fetchall()
        decoded = [json.loads(r["payload"]) for r in rows]
        raw = time.perf_counter() - start
    print(f"  a new phone pulled {pulled:,} changes ({n:,} households) in {pages} pages")
    print(f"    pull:     {pulled / seconds:,.0f} changes/s ({seconds:.2f} s)")
    print(f"    baseline: {len(decoded) / raw:,.0f} changes/s (one SELECT and json.loads, no HTTP)")
    print(f"    ratio:    {(pulled / seconds) / (len(decoded) / raw):.3f} of the baseline")


def grow(data_dir: Path, villages: list[str], commune_id: str, total: int) -> int:
    """More register households' changes until the feed holds ``total``, written as
    add_household writes them, without the register rows (only the feed is measured here)."""
    with connect(data_dir / "gocua.db") as db:
        have = db.execute("SELECT count(*) FROM changes").fetchone()[0]
        with write_transaction(db):
            for i in range(have, total):
                record_change(
                    db,
                    "household",
                    f"HBENCH{i:07d}",
                    {"name": f"Hộ số {i}", "address": f"Số {i}, ngõ {i % 40}", "village_id": "x"},
                    commune_id=commune_id,
                    village_id=villages[i % len(villages)],
                )
        return int(db.execute("SELECT max(seq) FROM changes").fetchone()[0])


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:6.1f} ms, worst {max(values) * 1000:6.1f} ms"


def pages_at(
    client: SyncClient, data_dir: Path, villages: list[str], commune_id: str, last: int
) -> None:
    with connect(data_dir / "gocua.db") as db:
        user_id = db.execute("SELECT user_id FROM devices LIMIT 1").fetchone()[0]
        for label, since in (("start", 0), ("middle", last // 2), ("end", last - PAGE // 2)):
            served = []
            for _ in range(TRIES):
                start = time.perf_counter()
                page = client.pull(since, PAGE)
                served.append(time.perf_counter() - start)
            assert page["changes"], label
            marks = ",".join("?" * len(villages))
            former = []
            for _ in range(3):
                start = time.perf_counter()
                db.execute(
                    FORMER_QUERY.format(marks=marks),
                    [since, commune_id, *villages, user_id, PAGE + 1],
                ).fetchall()
                former.append(time.perf_counter() - start)
            print(f"    {label:6} page over HTTP: {ms(served)}")
            print(f"           former query alone:  {ms(former)}")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    big = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        server, client, villages = start_server(data_dir)
        try:
            with connect(data_dir / "gocua.db") as db, write_transaction(db):
                commune_id = db.execute(
                    "SELECT commune_id FROM villages WHERE id = ?", [villages[0]]
                ).fetchone()[0]
                for i in range(n):
                    add_household(
                        db, villages[i % len(villages)], f"Hộ số {i}", f"Số {i}, ngõ {i % 40}"
                    )
            full_pull(client, data_dir, n)
            last = grow(data_dir, villages, commune_id, big)
            print(f"  one page of {PAGE} on a feed of {last:,} changes:")
            pages_at(client, data_dir, villages, commune_id, last)
        finally:
            server.stop()


if __name__ == "__main__":
    main()

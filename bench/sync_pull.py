"""Pull of N changes end to end: a phone (the Python client, gzip) pages through the feed of a
real ``gocua serve`` from checkpoint 0, 500 changes a page (the collector's page size).

Baseline, measured in the same run: reading the same rows straight from SQLite and decoding
their JSON, in one query -- what the feed costs at least.

    .venv/bin/python bench/sync_pull.py [N]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.sync_push import start_server  # noqa: E402
from server.domain.db import connect, write_transaction  # noqa: E402
from server.domain.register import add_household


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        server, client, villages = start_server(data_dir)
        try:
            with connect(data_dir / "gocua.db") as db, write_transaction(db):
                for i in range(n):
                    add_household(
                        db, villages[i % len(villages)], f"Hộ số {i}", f"Số {i}, ngõ {i % 40}"
                    )
            pages = pulled = 0
            start = time.perf_counter()

            def count(page: dict) -> None:
                nonlocal pages, pulled
                pages += 1
                pulled += len(page["changes"])

            since = client.pull_all(0, on_page=count, limit=500)
            seconds = time.perf_counter() - start
            with connect(data_dir / "gocua.db") as db:
                start = time.perf_counter()
                rows = db.execute(
                    "SELECT seq, kind, entity_id, op, payload FROM changes"
                    " WHERE seq <= ? ORDER BY seq",
                    [since],
                ).fetchall()
                decoded = [json.loads(r["payload"]) for r in rows]
                raw = time.perf_counter() - start
        finally:
            server.stop()
    print(f"  pulled {pulled:,} changes ({n:,} households) in {pages} pages in {seconds:.2f} s")
    print(f"  pull:     {pulled / seconds:,.0f} changes/s")
    print(f"  baseline: {len(decoded) / raw:,.0f} changes/s (one SELECT and json.loads, no HTTP)")
    print(f"  ratio:    {(pulled / seconds) / (len(decoded) / raw):.3f} of the baseline")


if __name__ == "__main__":
    main()

"""Push ingest into a province-sized database against an empty one, in the same run.

Two ``gocua serve`` (this code, one process each as the tests run it): one on a commune with
STORED records already in it (default 1,000,000), one on the same commune with none, both from
``bench/commune.py`` (built once and kept on disk). Before the servers start, each gets the same
PUSH new register households (default 10,000); then one phone pushes a record visiting each, a
household of four of the default survey, in batches of 20 (gzip, as the collector sends them),
each batch acknowledged before the next. Two rounds, the servers in turn (each round new
households and records). Target: the stored server's rate >= 0.9 of the empty one's.

    .venv/bin/python -u bench/stored_ingest.py [--stored M] [--push N] [--quick]
    # --quick: 10,000 stored, 1,000 pushed

The million-record commune is built first when not kept yet (an hour on the loaded 2-core
machine): build it alone beforehand with ``nice -n 19 .venv/bin/python -u bench/commune.py
1000000``; each run then copies it (about 4 GB, on disk before anything is timed). Four runs
so: 0.84 and 0.89 of the empty rate (load average 8 to 13) before the copy was made to reach
the disk first, 0.95 and 0.95 after (load average 3 to 7; see the README).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from bench.commune import add_households, commune, items  # noqa: E402
from bench.sync_push import push_all as push_seconds  # noqa: E402
from server.domain.db import connect  # noqa: E402
from tests.server_process import ServerProcess  # noqa: E402

BATCH = 20
ROUNDS = 2


def load() -> str:
    return f"load average {os.getloadavg()[0]:.2f}"


def prepare(folder: Path, info: dict[str, Any], push: int) -> list[list[bytes]]:
    """Each round's register households added to the database; each round's gzip bodies."""
    db = connect(folder / "gocua.db")
    rounds = []
    for round_ in range(ROUNDS):
        households = add_households(db, info, push, seed=1_000 + round_)
        pending = list(items(households, info["device_id"], seed=2_000 + round_))
        rounds.append(
            [
                gzip.compress(
                    json.dumps({"items": pending[i : i + BATCH]}, ensure_ascii=False).encode(), 5
                )
                for i in range(0, len(pending), BATCH)
            ]
        )
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return rounds


def push_all(base: str, token: str, bodies: list[bytes]) -> float:
    """Records/s of pushing every batch in order, each applied before the next is sent."""
    return len(bodies) * BATCH / push_seconds(base, token, bodies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, help="records already stored (1,000,000)")
    parser.add_argument("--push", type=int, help="records pushed each round (10,000)")
    parser.add_argument("--quick", action="store_true", help="10,000 stored, 1,000 pushed")
    args = parser.parse_args()
    stored = args.stored or (10_000 if args.quick else 1_000_000)
    push = args.push or (1_000 if args.quick else 10_000)
    with tempfile.TemporaryDirectory() as work:
        servers, rounds, tokens = {}, {}, {}
        for label, n in ((f"{stored:,} stored", stored), ("empty", 0)):
            folder = Path(work) / str(n)
            start = time.perf_counter()
            info = commune(folder, n)
            how = "from the cache" if info["cached"] else "built"
            print(f"{label}: commune {info['key']} {how} ({time.perf_counter() - start:.0f} s)")
            rounds[label] = prepare(folder, info, push)
            tokens[label] = info["token"]
            servers[label] = ServerProcess(folder)
        rates: dict[str, list[float]] = {label: [] for label in servers}
        try:
            for server in servers.values():
                server.start()
            print(f"one phone pushing {push:,} records in batches of {BATCH} ({load()}):")
            for round_ in range(ROUNDS):
                for label, server in servers.items():
                    rate = push_all(server.base, tokens[label], rounds[label][round_])
                    rates[label].append(rate)
                    print(f"  round {round_ + 1} {label:18s} {rate:8,.0f} records/s ({load()})")
        finally:
            for server in servers.values():
                server.stop()
        full, empty = (statistics.median(v) for v in rates.values())
        print(f"  ratio (median of each): {full / empty:.2f} of the empty rate (target >= 0.9)")


if __name__ == "__main__":
    main()

"""The pull feed, end to end against a real ``gocua serve``, as a phone (the Python client, gzip)
reads it, 500 changes a page (the collector's page size), this code against a base commit's in
the same run.

Two servers on copies of one database: this checkout's, and the base commit's code (``--base``,
default ``main``; unpacked by ``bench/trees.py``), each one process as the tests run it.

1. A new phone's full pull of a feed of N register households (default 100,000; target
   >= 50,000 changes/s), from checkpoint 0, three rounds, base and this code in turn. Beside
   them, what the feed costs at least: the same rows read straight from SQLite and their JSON
   decoded, one query, no HTTP.
2. The feed grown to BIG changes (default 1,000,000): one page over HTTP at the start, the middle
   and the end of the feed (median and worst of 20 each, the servers in turn; target <= 20 ms).

The load average is printed beside the figures: the machine is shared, so compare the columns.

    .venv/bin/python -u bench/sync_pull.py [N] [BIG] [--base REV] [--quick]
    # --quick: N 10,000, BIG 100,000, 5 pages each
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.sync_push import start_server  # noqa: E402
from bench.trees import OldServerProcess, old_tree, short  # noqa: E402
from server.domain.db import connect, write_transaction  # noqa: E402
from server.domain.feeds import replace_put  # noqa: E402
from server.domain.register import add_household  # noqa: E402
from sync.client import SyncClient  # noqa: E402

PAGE = 500
ROUNDS = 3


def load() -> str:
    return f"load average {os.getloadavg()[0]:.2f}"


def cpu_seconds(server: Any) -> float:
    """The server process's CPU time so far (user and system)."""
    fields = Path(f"/proc/{server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def full_pull(client: SyncClient) -> tuple[int, int, float]:
    """Changes and pages of a new phone's pull from checkpoint 0, and its seconds."""
    pages = pulled = 0

    def count(page: dict[str, Any]) -> None:
        nonlocal pages, pulled
        pages += 1
        pulled += len(page["changes"])

    start = time.perf_counter()
    client.pull_all(0, on_page=count, limit=PAGE)
    return pulled, pages, time.perf_counter() - start


def floor_rate(data_dir: Path) -> float:
    """Changes/s of one SELECT of the whole feed and json.loads of each payload."""
    with connect(data_dir / "gocua.db") as db:
        start = time.perf_counter()
        rows = db.execute("SELECT seq, kind, entity_id, op, payload FROM changes ORDER BY seq")
        decoded = [json.loads(r["payload"]) for r in rows.fetchall()]
        return len(decoded) / (time.perf_counter() - start)


def grow(data_dir: Path, villages: list[str], commune_id: str, total: int) -> int:
    """More register households' changes until the feed holds ``total``, written as
    add_household writes them, without the register rows (only the feed is measured here)."""
    with connect(data_dir / "gocua.db") as db:
        have = db.execute("SELECT count(*) FROM changes").fetchone()[0]
        with write_transaction(db):
            for i in range(have, total):
                replace_put(
                    db,
                    "household",
                    f"HBENCH{i:07d}",
                    {"name": f"Hộ số {i}", "address": f"Số {i}, ngõ {i % 40}", "village_id": "x"},
                    replaces=None,
                    commune_id=commune_id,
                    village_id=villages[i % len(villages)],
                )
        return int(db.execute("SELECT max(seq) FROM changes").fetchone()[0])


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:6.1f} ms, worst {max(values) * 1000:6.1f} ms"


def copy_database(source: Path, target: Path) -> None:
    """SQLite's backup API: a whole database whatever its WAL holds, the server running."""
    target.mkdir(exist_ok=True)
    into, out = sqlite3.connect(source / "gocua.db"), sqlite3.connect(target / "gocua.db")
    try:
        into.backup(out)
    finally:
        into.close()
        out.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?")
    parser.add_argument("big", type=int, nargs="?")
    parser.add_argument("--base", default="main", help="the commit to compare with")
    parser.add_argument("--quick", action="store_true", help="10,000 and 100,000 changes")
    args = parser.parse_args()
    n = args.n or (10_000 if args.quick else 100_000)
    big = args.big or (100_000 if args.quick else 1_000_000)
    tries = 5 if args.quick else 20
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        tree = old_tree(args.base, work / "tree")
        this, client, villages = start_server(work / "this")
        base = None
        try:
            with connect(work / "this" / "gocua.db") as db, write_transaction(db):
                commune_id = db.execute(
                    "SELECT commune_id FROM villages WHERE id = ?", [villages[0]]
                ).fetchone()[0]
                for i in range(n):
                    add_household(
                        db, villages[i % len(villages)], f"Hộ số {i}", f"Số {i}, ngõ {i % 40}"
                    )
            # The same database, the phone's token and all, served by the base's code.
            copy_database(work / "this", work / "base")
            base = OldServerProcess(tree, work / "base").start()
            phones = {
                f"base {short(args.base)}": SyncClient(base.base, token=client.token),
                "this code": client,
            }
            print(
                f"a new phone's full pull of a feed of {n:,} households, {PAGE} a page ({load()})"
            )
            servers = dict(zip(phones, [base, this], strict=True))
            rates: dict[str, list[float]] = {label: [] for label in phones}
            cpu: dict[str, list[float]] = {label: [] for label in phones}
            for round_ in range(ROUNDS):
                for label, phone in phones.items():
                    before = cpu_seconds(servers[label])
                    pulled, pages, seconds = full_pull(phone)
                    # The server's CPU per change does not depend on what else the machine runs.
                    cpu[label].append((cpu_seconds(servers[label]) - before) / pulled * 1e6)
                    rates[label].append(pulled / seconds)
                    print(
                        f"  round {round_ + 1} {label:14s} {pulled / seconds:9,.0f} changes/s"
                        f" ({pulled:,} changes, {pages} pages, {seconds:.2f} s; server CPU"
                        f" {cpu[label][-1]:.1f} µs a change; {load()})"
                    )
            floor = floor_rate(work / "this")
            for label, values in rates.items():
                print(
                    f"  {label:22s} median {statistics.median(values):9,.0f} changes/s,"
                    f" server CPU {statistics.median(cpu[label]):.1f} µs a change"
                )
            print(f"  floor (one SELECT and json.loads, no HTTP): {floor:,.0f} changes/s")
            for data_dir in (work / "this", work / "base"):
                last = grow(data_dir, villages, commune_id, big)
            print(f"one page of {PAGE} on a feed of {last:,} changes over HTTP ({load()}):")
            for where, since in (("start", 0), ("middle", last // 2), ("end", last - PAGE // 2)):
                served: dict[str, list[float]] = {label: [] for label in phones}
                for _ in range(tries):
                    for label, phone in phones.items():
                        start = time.perf_counter()
                        page = phone.pull(since, PAGE)
                        served[label].append(time.perf_counter() - start)
                        assert page["changes"], where
                for label, values in served.items():
                    print(f"  {where:6} {label:14s} {ms(values)}")
            print(f"  ({load()})")
        finally:
            this.stop()
            if base is not None:
                base.stop()


if __name__ == "__main__":
    main()

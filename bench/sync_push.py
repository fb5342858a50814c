"""Push ingest end to end: a real ``gocua serve`` (waitress over loopback), gzip bodies, every
record validated against the default survey, one SQLite transaction per batch of 100.

Baseline, measured in the same run: sqlite-utils ``insert_all`` of the same rows (the records
table's columns) into a bare table, in one transaction -- what storing them costs at least.
Goal: >= 2,000 records/s; with STORED records already in the database, within 20% of empty.

    .venv/bin/python bench/sync_push.py [N] [--stored M]

The M stored records are written straight into the database (bulk INSERTs in one transaction,
every trigger firing) before the server starts: pushing them would take as long as the bench.

One phone at dusk, against a base commit in the same run (``--phone``): batches of 20
households of four naming register households (``bench/dusk.py``'s records), sent as the
collector sends them: one, then as many at once as each answer says the server has room for
(``batches_at_once``), at most three (``--in-flight``, ``--base-in-flight``; a server that says
nothing, as before this version, is sent one at a time), on ``gocua serve`` as it starts by
default, this code's and REV's (``bench/trees.py``) in turn for each round. Beside records/s
it prints the servers' CPU time per record (every process of each server), the figure a shared
machine disturbs least, and the load average:

    .venv/bin/python bench/sync_push.py --phone [--base REV] [--rounds R] [--base-ids random]
        [--in-flight K] [--base-in-flight K] [N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import sqlite_utils  # noqa: E402

from bench.phones import IN_FLIGHT, lanes_arg, room_in  # noqa: E402
from server.domain import answers  # noqa: E402
from server.domain.db import connect  # noqa: E402
from server.settings import load as load_settings  # noqa: E402
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


def push_all(base: str, token: str, encoded: list[bytes], in_flight: int = 1) -> float:
    """Seconds to push every batch in order of sending, as the collector does
    (``pwa/js/sync.js: inLanes``): one at first, then as many at once as the last answer said
    the server had room for (``batches_at_once``; a server that says nothing, one), at most
    ``in_flight``, each on a connection of its own."""
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
        "Accept-Encoding": "gzip",
    }
    local = threading.local()

    def send(body: bytes) -> int:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        response = local.session.post(
            f"{base}/api/v1/sync/push", data=body, headers=headers, timeout=120
        )
        response.raise_for_status()
        answer = response.json()
        statuses = {r["status"] for r in answer["results"]}
        assert statuses == {"applied"}, statuses
        return room_in(answer)

    waiting = list(encoded)
    bound = 1
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=in_flight) as lanes:
        running: set[Future[int]] = set()
        while waiting or running:
            while waiting and len(running) < min(bound, in_flight):
                running.add(lanes.submit(send, waiting.pop(0)))
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for finished in done:
                bound = finished.result()  # raises what the batch met
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


def one_phone(
    n: int,
    base: str,
    rounds: int,
    base_workers: int = 0,
    base_ids: str = "time",
    in_flight: int = IN_FLIGHT,
    base_in_flight: int = IN_FLIGHT,
) -> None:
    """--phone: this code against ``base``, ``rounds`` rounds of ``n`` records each; each
    server with ``GOCUA_WORKERS`` as ``gocua serve`` starts (``base_workers``: the base's, when
    its own default was another; ``base_ids``: the ids of the records the base is sent, made
    as the collector makes them, or at random as it made them before; ``in_flight`` and
    ``base_in_flight``: the batches the phone keeps at each server at once)."""
    from bench import dusk
    from bench.trees import OldServerProcess, old_tree, short

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        configured = {"GOCUA_WORKERS": str(load_settings().workers)}
        old_env = {"GOCUA_WORKERS": str(base_workers)} if base_workers else configured
        old = OldServerProcess(old_tree(base, root / "old"), root / "base", extra_env=old_env)
        servers = [
            dusk.Server(short(base), old, ids=base_ids, in_flight=base_in_flight),
            dusk.Server(
                "this", ServerProcess(root / "this", extra_env=configured), in_flight=in_flight
            ),
        ]
        figures: dict[str, list[tuple[float, float, float]]] = {s.name: [] for s in servers}
        try:
            batches = -(-n // dusk.BATCH)
            for server in servers:  # a household for every record of every round
                dusk.prepare(server, 1, households=(batches * rounds + 1) * dusk.BATCH)
            print(
                f"one phone, {batches} batches of {dusk.BATCH} households of four a round,"
                f" {rounds} rounds; gocua serve with {configured}; the base's ids: {base_ids};"
                f" batches at the server at once: base {base_in_flight}, this {in_flight}"
            )
            for round_ in range(rounds):
                for server in servers:
                    bodies = [
                        dusk.encode(dusk.batch_of(server, dusk.BATCH)) for _ in range(batches)
                    ]
                    load, cpu = os.getloadavg()[0], server.cpu_seconds()
                    seconds = push_all(
                        server.process.base, server.tokens[0], bodies, server.in_flight
                    )
                    cpu = server.cpu_seconds() - cpu
                    records = len(bodies) * dusk.BATCH
                    figures[server.name].append((records / seconds, cpu / records * 1000, load))
                    print(
                        f"  round {round_ + 1} {server.name:9} {records / seconds:7,.0f} records/s"
                        f" | server CPU {cpu / records * 1000:.3f} ms a record | load {load:.2f}"
                    )
                    sys.stdout.flush()
        finally:
            for server in servers:
                server.process.stop()
    before, after = (figures[s.name] for s in servers)
    rate = [statistics.median(f[0] for f in side) for side in (before, after)]
    cpu = [statistics.median(f[1] for f in side) for side in (before, after)]
    print(
        f"median: {servers[0].name} {rate[0]:,.0f} records/s, {cpu[0]:.3f} ms CPU a record;"
        f" this {rate[1]:,.0f} records/s, {cpu[1]:.3f} ms CPU a record"
    )
    print(
        f"this/{servers[0].name}: {rate[1] / rate[0]:.2f}× records/s,"
        f" {cpu[0] / cpu[1]:.2f}× less CPU a record (goal: 3,000 records/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=None)
    parser.add_argument(
        "--stored", type=int, default=0, help="records already in the database (e.g. 1000000)"
    )
    parser.add_argument(
        "--phone", action="store_true", help="one phone's batches of 20, against --base"
    )
    parser.add_argument("--base", default="main", help="--phone: the commit to compare with")
    parser.add_argument("--rounds", type=int, default=3, help="--phone: rounds on each server")
    parser.add_argument(
        "--base-workers", type=int, default=0, help="--phone: the base's GOCUA_WORKERS"
    )
    parser.add_argument(
        "--base-ids",
        choices=("time", "random"),
        default="time",
        help="--phone: the base's records' ids, as the collector makes them or at random",
    )
    parser.add_argument(
        "--in-flight",
        type=lanes_arg,
        default=IN_FLIGHT,
        help="--phone: the most batches the phone keeps at this server at once (the collector:"
        " two, while the server has room)",
    )
    parser.add_argument(
        "--base-in-flight",
        type=lanes_arg,
        default=IN_FLIGHT,
        help="--phone: the most batches the phone keeps at the base at once",
    )
    args = parser.parse_args()
    if args.phone:
        one_phone(
            args.n or 4_000,
            args.base,
            args.rounds,
            args.base_workers,
            args.base_ids,
            args.in_flight,
            args.base_in_flight,
        )
        return
    args.n = args.n or 100_000
    print("empty database:")
    empty = run(args.n, 0)
    if args.stored:
        print(f"with {args.stored:,} records already stored:")
        full = run(args.n, args.stored)
        print(f"stored/empty: {full / empty:.2f} (goal >= 0.80)")


if __name__ == "__main__":
    main()

"""Where a push's CPU goes, per record: one phone's batches of 20 households of four (naming
register households, ``bench/dusk.py``'s records) sent to the application ``gocua serve``
builds, called as waitress calls it (its WSGI callable, one request at a time, gzip bodies),
in this process, so that its CPU time is the request's alone. Printed per record: the whole
request, the web's part (everything outside ``records/push.py: push``: Flask, the body's
gzip and JSON, the schema, the token, admission, the answer; and the process's other
threads, its checkpointer copying the WAL into the database), the check before the write lock
(``check_ahead``), the write (``write_together``: statements, the follow-up, COMMIT), and
with ``--statements`` each SQL statement's CPU time and count; ``--profile`` adds the
cProfile of the requests (by own time). Waitress's own reading and writing is not in it
(``bench/sync_push.py --phone`` measures the served processes whole).

``--phones N``: N phones at once, each a thread of this process pushing its batches one after
the other, as a worker process of ``gocua serve`` serves several phones: their writes then
share transactions (group commit, each batch in a savepoint), and the write is the CPU the
lock's holders spent writing the groups. Printed beside: the batches a transaction held.

``--wal``: also the WAL frames the run wrote, a record and a transaction, and which B-trees
(tables and indexes) they were pages of, counted from the WAL file with the checkpoints held
back meanwhile: what the write lock's holder writes, whatever the machine's speed. A page's
B-tree is the one it belongs to as the run leaves the file: a page emptied and used again
meanwhile (the feed's, as visits delete the register's puts) counts as its last owner's.

``--base REV``: the same figures for another commit's code (``bench/trees.py``; its records
made by its own ``bench/dusk.py`` and ``tests/records.py``, their ids as that version's
collector made them), each ``--rounds`` times, in turn with this code's, every run in a
process of its own; the figures to compare are the medians, beside the load average each run
started at.

    .venv/bin/python bench/push_profile.py [BATCHES] [--statements] [--profile]
    .venv/bin/python bench/push_profile.py 200 --base main --rounds 3
    .venv/bin/python bench/push_profile.py 40 --phones 8 --base main --rounds 3
    .venv/bin/python bench/push_profile.py 100 --wal --base main --rounds 1
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import io
import json
import os
import pstats
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# --tree: another commit's code, first on the path (the base of a comparison).
if "--tree" in sys.argv:
    sys.path.insert(0, sys.argv[sys.argv.index("--tree") + 1])
sys.path.insert(1, str(ROOT))

from bench import dusk  # noqa: E402
from tests.server_process import ServerProcess  # noqa: E402

WARM_UP = 5  # batches before the clock starts: the form's checker, the statement cache


def wsgi_call(app: Any, token: str, body: bytes) -> bytes:
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/api/v1/sync/push",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/json",
        "HTTP_CONTENT_ENCODING": "gzip",
        "HTTP_ACCEPT_ENCODING": "gzip",
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    status: list[str] = []
    answer = b"".join(app(environ, lambda s, h, e=None: status.append(s)))
    if not status[0].startswith("200"):
        raise SystemExit(f"push answered {status[0]}: {answer[:300]!r}")
    return answer


class Meter:
    """Thread CPU time spent inside the functions it wraps, and per SQL statement."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = collections.defaultdict(float)
        self.statements: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0])
        self.writing = False

    def wrap(self, module: Any, name: str, label: str) -> None:
        inner = getattr(module, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.thread_time()
            try:
                return inner(*args, **kwargs)
            finally:
                self.spent[label] += time.thread_time() - start

        setattr(module, name, timed)

    def statement(self, sql: str, seconds: float) -> None:
        entry = self.statements[" ".join(sql.split())[:100]]
        entry[0] += 1
        entry[1] += seconds


def wal_frames(database: Path) -> tuple[int, int, dict[str, int]]:
    """The frames of ``database``'s WAL file, its commits, and the frames by B-tree."""
    wal = Path(f"{database}-wal").read_bytes()
    pages: collections.Counter[int] = collections.Counter()
    commits = 0
    size = struct.unpack(">I", wal[8:12])[0] + 24  # a frame: its header, then the page
    for offset in range(32, len(wal) - size + 1, size):
        page, after_commit = struct.unpack(">II", wal[offset : offset + 8])
        pages[page] += 1
        commits += after_commit > 0
    with closing(sqlite3.connect(database)) as db:
        owner = dict(db.execute("SELECT pageno, name FROM dbstat"))
    by_tree: collections.Counter[str] = collections.Counter()
    for page, count in pages.items():
        by_tree[owner.get(page, "(free)")] += count
    return sum(pages.values()), commits, dict(by_tree.most_common())


def measure(
    batches: int, statements: bool, profile: bool, phones: int = 1, wal: bool = False
) -> dict[str, Any]:
    """This process's code: the figures of ``batches`` batches a phone, per record, in ms."""
    with tempfile.TemporaryDirectory() as folder:
        process = ServerProcess(Path(folder) / "data")
        server = dusk.Server("this", process)
        # The commune, a register with a household for every record, the phones enrolled (HTTP).
        dusk.prepare(server, phones, households=phones * (batches + WARM_UP + 1) * dusk.BATCH)
        process.stop()
        os.environ["GOCUA_DATA_DIR"] = str(process.data_dir)
        import sqlite_utils

        from server import create_app
        from server.domain import db as domain_db
        from server.domain.records import push as records_push

        app = create_app({"PROXY_HOPS": 0})
        meter = Meter()
        meter.wrap(records_push, "push", "domain")
        meter.wrap(records_push._Batch, "check_ahead", "check")
        meter.wrap(records_push, "write_together", "write")
        if statements:
            execute = sqlite_utils.Database.execute

            def timed_execute(self: Any, sql: str, params: Any = None) -> Any:
                start = time.thread_time()
                try:
                    return execute(self, sql, params)
                finally:
                    meter.statement(sql, time.thread_time() - start)

            sqlite_utils.Database.execute = timed_execute  # type: ignore[method-assign]
            transaction = domain_db._transaction

            @contextmanager
            def timed_transaction(db: Any) -> Any:
                start = time.thread_time()
                with transaction(db):
                    meter.statement("BEGIN IMMEDIATE", time.thread_time() - start)
                    yield
                    start = time.thread_time()
                meter.statement("COMMIT", time.thread_time() - start)

            domain_db._transaction = timed_transaction
        groups: list[int] = []  # one entry a write transaction: the lock changing hands
        lead = getattr(domain_db, "_lead", None)  # None: a base from before group commit

        def counted_lead(db: Any, group: Any, own: Any) -> None:
            groups.append(1)
            lead(db, group, own)  # type: ignore[misc]

        if lead is not None:
            domain_db._lead = counted_lead
        # The phones' visits interleaved over a day, as their ids carry them (a base from before
        # that: each phone's in a row).
        day = getattr(dusk, "day_of_visits", None)
        bodies = (
            day(server, phones, batches)
            if day is not None
            else [
                [dusk.encode(dusk.batch_of(server, dusk.BATCH)) for _ in range(batches)]
                for _ in range(phones)
            ]
        )
        for token in server.tokens:
            for _ in range(WARM_UP):
                wsgi_call(app, token, dusk.encode(dusk.batch_of(server, dusk.BATCH)))
        meter.spent.clear()
        meter.statements.clear()
        groups.clear()
        database = process.data_dir / "gocua.db"
        if wal:
            # Counted from the file: no checkpoint may start the WAL over during the run.
            domain_db.CHECKPOINT_PAUSE = 1e9
            with closing(sqlite3.connect(database)) as db:
                busy = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            if busy:
                raise SystemExit("the WAL could not be emptied before the run")
        profiler = cProfile.Profile() if profile else None
        load, start = os.getloadavg()[0], time.process_time()
        if profiler is not None:
            profiler.enable()
        if phones == 1:
            for body in bodies[0]:
                wsgi_call(app, server.tokens[0], body)
        else:
            together = threading.Barrier(phones)

            def phone(index: int) -> None:
                together.wait()
                for body in bodies[index]:
                    wsgi_call(app, server.tokens[index], body)

            threads = [threading.Thread(target=phone, args=(i,)) for i in range(phones)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        if profiler is not None:
            profiler.disable()
        cpu = time.process_time() - start
        records = phones * batches * dusk.BATCH
        per = {k: v / records * 1000 for k, v in meter.spent.items()}
        figures = {
            "records": records,
            "load": load,
            "request": cpu / records * 1000,
            "web": cpu / records * 1000 - per.get("domain", 0.0),
            "check": per.get("check", 0.0),
            "write": per.get("write", 0.0),
            "phones": phones,
            "group": phones * batches / len(groups) if groups else 1.0,
            "statements": {
                sql: (count, seconds / records * 1e6)
                for sql, (count, seconds) in sorted(
                    meter.statements.items(), key=lambda kv: -kv[1][1]
                )
            },
        }
        if wal:
            frames, commits, by_tree = wal_frames(database)
            figures["wal"] = frames / records
            figures["wal_commit"] = frames / max(commits, 1)
            figures["wal_trees"] = {name: count / records for name, count in by_tree.items()}
        if profiler is not None:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(40)
            figures["profile"] = out.getvalue()
        return figures


def line(name: str, f: dict[str, Any]) -> str:
    together = f" ({f['group']:.1f} batches a transaction)" if f.get("phones", 1) > 1 else ""
    wal = f" | WAL {f['wal']:.2f} frames a record" if "wal" in f else ""
    return (
        f"{name:9} {f['request']:.3f} ms CPU a record: web {f['web']:.3f}, check"
        f" {f['check']:.3f}, write {f['write']:.3f}{together}{wal} | load {f['load']:.2f}"
    )


def compare(batches: int, base: str, rounds: int, phones: int = 1, wal: bool = False) -> None:
    from bench.trees import old_tree, short

    runs: dict[str, list[dict[str, Any]]] = {short(base): [], "this": []}
    more = (["--phones", str(phones)] if phones > 1 else []) + (["--wal"] if wal else [])
    with tempfile.TemporaryDirectory() as folder:
        tree = old_tree(base, Path(folder) / "base")
        for round_ in range(rounds):
            for name, extra, at in ((short(base), ["--tree", str(tree)], tree), ("this", [], ROOT)):
                done = subprocess.run(
                    [sys.executable, __file__, str(batches), "--json", *extra, *more],
                    # In its own folder: an older tree's commands (``python -m server.cli``)
                    # run the code of the folder they start in.
                    cwd=at,
                    check=True,
                    capture_output=True,
                    text=True,
                )
                figures = json.loads(done.stdout.strip().splitlines()[-1])
                runs[name].append(figures)
                print(f"round {round_ + 1} {line(name, figures)}", flush=True)
    medians = {
        name: {
            k: statistics.median(f[k] for f in got) for k in ("request", "web", "check", "write")
        }
        for name, got in runs.items()
    }
    for name, m in medians.items():
        print(
            f"median {name:9} {m['request']:.3f} ms a record (web {m['web']:.3f},"
            f" check {m['check']:.3f}, write {m['write']:.3f})"
        )
    if wal:
        frames = {name: statistics.median(f["wal"] for f in got) for name, got in runs.items()}
        (old, new) = frames.values()
        print(
            f"WAL frames a record: {short(base)} {old:.2f}, this {new:.2f} ({old / new:.2f}× fewer)"
        )
        before_trees, these = (got[0]["wal_trees"] for got in runs.values())
        for tree in sorted({*before_trees, *these}, key=lambda t: -these.get(t, 0.0)):
            print(f"  {tree:42} {before_trees.get(tree, 0.0):5.2f} {these.get(tree, 0.0):5.2f}")
    (before, after) = medians.values()
    print(
        f"this against {short(base)}: {before['request'] / after['request']:.2f}× less CPU a"
        f" record, the write {before['write'] / after['write']:.2f}×, the web"
        f" {before['web'] / after['web']:.2f}× (goal: 0.33 ms a record, 3,000 records/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("batches", nargs="?", type=int, default=200)
    parser.add_argument("--statements", action="store_true", help="CPU per SQL statement")
    parser.add_argument("--profile", action="store_true", help="cProfile of the requests")
    parser.add_argument("--base", help="compare with this commit's code, run for run")
    parser.add_argument("--rounds", type=int, default=3, help="--base: runs of each code")
    parser.add_argument("--phones", type=int, default=1, help="phones pushing at once")
    parser.add_argument("--wal", action="store_true", help="WAL frames a record, by B-tree")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tree", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.base:
        compare(args.batches, args.base, args.rounds, args.phones, args.wal)
        return
    figures = measure(args.batches, args.statements, args.profile, args.phones, args.wal)
    if args.json:
        print(json.dumps({k: v for k, v in figures.items() if k != "profile"}))
        return
    at_once = "one at a time" if args.phones == 1 else f"{args.phones} phones at once"
    print(f"{figures['records']:,} records in batches of {dusk.BATCH}, {at_once}")
    print(line("this", figures))
    for sql, (count, micros) in figures["statements"].items():
        print(f"  {micros:7.1f} µs a record  {count:6,}×  {sql}")
    for tree, frames in figures.get("wal_trees", {}).items():
        print(f"  {frames:5.2f} WAL frames a record  {tree}")
    if "profile" in figures:
        print(figures["profile"])


if __name__ == "__main__":
    main()

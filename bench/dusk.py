"""Dusk: many phones push at once while a reviewer works. A real ``gocua serve`` on a temporary
SQLite file, a commune of register households, 1, 10, 50 and 200 enrolled phones each pushing
realistic records of the default survey (a household of four naming a register household) in
batches of 20, and one logged-in reviewer loading the record list, a record page and the
dashboard in a loop (a page every half second at most) from a process of its own.

Two servers run side by side, each on its own database, and every level runs on both in turn
(baseline first, then the server as configured), so the machine's load is shared alike:

- the baseline, by default, is this code served as one process with eight threads and no bound
  on sync work (``GOCUA_WORKERS=1 GOCUA_SYNC_SLOTS=0 --threads 8``); it keeps this code's other
  changes (the writers' queue, answers checked before the write lock, 1,000 connections). With
  ``--baseline-ref REF`` the baseline is that commit's own code (``git archive``, run with this
  checkout's virtual environment): ``--baseline-ref 1d22ad9`` is the server before dusk's work,
  the README's figures; with ``--baseline-config configured`` the baseline is served as the
  other server is (worker processes, sync slots), so two commits compare as each is deployed;
- the server as ``gocua serve`` starts by default (``GOCUA_WORKERS`` and ``GOCUA_SYNC_SLOTS``
  from the environment when set).

The records' ids are made as the collector makes them (``pwa/js/ids.js``: ordered by the time
each visit began), each phone's visits a quarter of an hour apart and the phones' interleaved,
as a commune's days are; ``--baseline-ids random`` sends the baseline ids (and revs) made at
random instead, as the collector made them before (without ``--baseline-ref``, the same
server code on both: what the ids alone change).

Each phone sends its batches as the collector does: one, then as many at once as each answer
says the server has room for (``batches_at_once``: three for a phone alone, two while it has
sync slots free), one after a busy answer; a server that says nothing (before this version) is
sent one at a time, and so is the baseline with ``--baseline-in-flight 1``, whatever it says.
Phones honour ``Retry-After`` as the sync client does (``sync.client.RetryPolicy``): a busy
answer (503) is counted, not an error, and the batch is sent again. Per level it prints
records/s, each push request's p50/p95/p99/max, the time until a batch was acknowledged (retries
and waits included), busy answers, errors, the reviewer's pages p50/p95/max, the servers' CPU
(cores used) and the load average when the level started. After each level it waits until the
server's reports have counted the level's records, and prints how long that took and the
server's CPU a record with the count included.

    .venv/bin/python bench/dusk.py [--quick] [--levels 1,10,50,200] [--batches N]
    .venv/bin/python bench/dusk.py --baseline-config configured --baseline-ids random
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import multiprocessing
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from bench.phones import IN_FLIGHT, lanes_arg, push_together  # noqa: E402
from bench.trees import OldServerProcess, old_tree  # noqa: E402
from server.domain.db import connect  # noqa: E402
from server.settings import load as load_settings  # noqa: E402
from tests.records import adult, child, household_data, phone_id, record  # noqa: E402
from tests.server_process import ServerProcess  # noqa: E402

BATCH = 20
# On the register, over the volunteer's two villages: more than a whole run's records, so that a
# record names a household no other record of the run names, as at a real dusk (a day's visits
# are to households not visited yet that day). A household visited dozens of times a day would
# make each visit's follow-up read all that day's others.
HOUSEHOLDS = 30_000
PACE = 0.5  # seconds between the starts of the reviewer's pages
# A phone begins a visit every quarter of an hour; its records' ids carry those moments.
VISIT_GAP_MS = 15 * 60 * 1000


# A commune's answers differ from house to house, and what packing them costs with them: one
# household sent again and again was packed into 60 bytes by the answers' dictionary (which
# holds households much like it), these into 145 on average, at about 1.4 times the CPU. The
# records are drawn from a pool of households of four made as the commune builder
# makes its own (two adults and two children here, as ``four_members``; names, years and
# answers varied within what the default survey accepts), the same pool for every server.
HOUSEHOLD_POOL = 500
_pool: list[dict[str, Any]] = []


def households_of_four() -> list[dict[str, Any]]:
    """The pool of varied households of four the records' answers are drawn from."""
    if not _pool:
        from bench.commune import household_answers

        rng = random.Random(16)
        _pool.extend(household_answers(rng, adults=2) for _ in range(HOUSEHOLD_POOL))
    return _pool


def four_members() -> dict[str, Any]:
    return household_data(
        members=[
            adult("Nguyễn Thị Hoa", 1980),
            adult("Trần Văn Minh", 1978, relation="spouse", sex="male"),
            child("Trần Văn Nam", 2016),
            child("Trần Thị Lan", 2019),
        ],
        residents=4,
    )


@dataclass
class Server:
    """One served Gõ Cửa with its phones, its admin's password and its register."""

    name: str
    process: ServerProcess
    password: str = ""
    tokens: list[str] = field(default_factory=list)
    households: list[tuple[str, str]] = field(default_factory=list)  # (village, household)
    unvisited: list[tuple[str, str]] = field(default_factory=list)  # this round's, shuffled
    record_id: str = ""
    ids: str = "time"  # the records' ids: "time" as the collector makes them, or "random"
    in_flight: int = IN_FLIGHT  # batches each phone keeps at the server at once

    def cpu_seconds(self) -> float:
        """User and system time of the server and every process it started."""
        assert self.process.proc is not None
        return _tree_cpu(self.process.proc.pid)


def _tree_cpu(root: int) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
        times[pid] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += times.get(pid, 0.0)
        todo.extend(children.get(pid, []))
    return total


# The register and the enrollment codes, written by the server's own code (its checkout's
# register.add_household: an older commit's writes its own schema's rows).
_REGISTER = """
import json, sys
from server.domain.db import connect, write_transaction
from server.domain.devices import create_enrollment_code
from server.domain.register import add_household

database, households, phones = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
made = {"households": [], "codes": []}
with connect(database) as db:
    villages = [
        r[0] for r in db.execute("SELECT village_id FROM user_villages ORDER BY village_id")
    ]
    with write_transaction(db):
        for i in range(households):
            village = villages[i % len(villages)]
            row = add_household(db, village, f"Hộ số {i}", f"Số {i}, ngõ {i % 17}")
            made["households"].append((village, row["id"]))
        db.execute("UPDATE users SET must_change_password = 0 WHERE username = 'admin'")
        user = db.execute("SELECT id FROM users WHERE username = 'tnv.demo'").fetchone()[0]
        made["codes"] = [create_enrollment_code(db, user) for _ in range(phones)]
print(json.dumps(made))
"""


def prepare(server: Server, phones: int, households: int = HOUSEHOLDS) -> None:
    """The demo commune, ``households`` households on the register, an admin who may work,
    then ``phones`` phones enrolled over HTTP."""
    out = server.process.cli("init", "--demo")
    server.password = re.search(r"password: (\S+)", out).group(1)
    database = server.process.data_dir / "gocua.db"
    made = json.loads(
        subprocess.run(
            [sys.executable, "-c", _REGISTER, str(database), str(households), str(phones)],
            cwd=server.process.root,
            env=server.process.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    server.households.extend((village, household) for village, household in made["households"])
    codes = made["codes"]
    server.process.start()
    session = requests.Session()
    for code in codes:
        answer = session.post(f"{server.process.base}/api/v1/enroll", json={"code": code})
        answer.raise_for_status()
        server.tokens.append(answer.json()["token"])
    # One batch first, so the reviewer has a record page to open.
    first = push_together(
        server.process.base, server.tokens[:1], [[encode(batch_of(server, BATCH))]], BATCH
    )
    assert first.records == BATCH and not first.errors, first.errors
    with connect(database) as db:
        server.record_id = db.execute("SELECT id FROM records LIMIT 1").fetchone()[0]


def batch_of(server: Server, n: int, begun: list[int] | None = None) -> list[dict[str, Any]]:
    """``n`` visits to households of the register that no batch since the last round of the
    whole register visited; ``begun``: when each visit began (ms), which its id carries (else
    now)."""
    pool = households_of_four()
    if len(server.unvisited) < n:
        server.unvisited = random.sample(server.households, len(server.households))
    chosen = [server.unvisited.pop() for _ in range(n)]
    if server.ids == "random":
        ids = [str(uuid.uuid4()) for _ in chosen]
        revs = [str(uuid.uuid4()) for _ in chosen]
    else:
        ids = [phone_id(at) for at in begun] if begun is not None else [phone_id() for _ in chosen]
        revs = [phone_id() for _ in chosen]  # made as the visit is finalized
    return [
        record(
            village,
            household_id=household,
            data=copy.deepcopy(random.choice(pool)),
            id=made,
            rev=rev,
        )
        for (village, household), made, rev in zip(chosen, ids, revs, strict=True)
    ]


def day_of_visits(server: Server, phones: int, batches: int) -> list[list[bytes]]:
    """Each phone's batches: its visits a quarter of an hour apart, the phones' interleaved, as
    a commune's days of visits reach the server."""
    start = time.time_ns() // 1_000_000 - 12 * 3600 * 1000
    return [
        [
            encode(
                batch_of(
                    server,
                    BATCH,
                    [
                        start + (b * BATCH + k) * VISIT_GAP_MS + p * VISIT_GAP_MS // phones
                        for k in range(BATCH)
                    ],
                )
            )
            for b in range(batches)
        ]
        for p in range(phones)
    ]


def encode(items: list[dict[str, Any]]) -> bytes:
    return gzip.compress(json.dumps({"items": items}, ensure_ascii=False).encode(), 5)


def logged_in(base: str, password: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    session.post(
        f"{base}/login", data={"username": "admin", "password": password, "csrf_token": token}
    )
    return session


def reviewer(base: str, password: str, record_id: str, stop: Any, out: Any) -> None:
    """A reviewer's loop, in a process of its own: (page, seconds) until told to stop."""
    session = logged_in(base, password)
    pages = [("list", "/"), ("record", f"/records/{record_id}"), ("dashboard", "/reports/")]
    times: list[tuple[str, float, int]] = []
    # A person opens a page at most every PACE seconds: a reviewer looping as fast as the
    # server answers would load the faster server more, and measure that instead.
    due = time.perf_counter()
    while not stop.is_set():
        for name, path in pages:
            stop.wait(max(0.0, due - time.perf_counter()))
            start = due = time.perf_counter()
            due += PACE
            answer = session.get(base + path, timeout=300)
            times.append((name, time.perf_counter() - start, answer.status_code))
    out.put(times)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run_level(server: Server, phones: int, batches: int) -> dict[str, Any]:
    bodies = day_of_visits(server, phones, batches)
    stop = multiprocessing.Event()
    out: Any = multiprocessing.Queue()
    review = multiprocessing.Process(
        target=reviewer, args=(server.process.base, server.password, server.record_id, stop, out)
    )
    load = os.getloadavg()[0]
    review.start()
    cpu0 = server.cpu_seconds()
    tally = push_together(
        server.process.base, server.tokens[:phones], bodies, BATCH, server.in_flight
    )
    wall = tally.wall
    cpu = server.cpu_seconds() - cpu0
    stop.set()
    pages = out.get(timeout=600)
    review.join()
    counted = count_the_rest(server)
    cpu_counted = server.cpu_seconds() - cpu0
    page_times = [t for _, t, _ in pages]
    return {
        "rate": tally.records / wall,
        "records": tally.records,
        "p50": percentile(tally.requests, 50),
        "p95": percentile(tally.requests, 95),
        "p99": percentile(tally.requests, 99),
        "max": max(tally.requests, default=float("nan")),
        "ack95": percentile(tally.acks, 95),
        "busy": tally.busy,
        "errors": len(tally.errors) + sum(1 for _, _, s in pages if s != 200),
        "error_kinds": sorted(set(tally.errors))[:3],
        "pages": len(pages),
        "page50": percentile(page_times, 50),
        "page95": percentile(page_times, 95),
        "pagemax": max(page_times, default=float("nan")),
        "page95_by": {
            name: percentile([t for n, t, _ in pages if n == name], 95)
            for name in ("list", "record", "dashboard")
        },
        "cores": cpu / wall,
        "server_ms": cpu / max(tally.records, 1) * 1000,
        "counted": counted,
        "counted_ms": cpu_counted / max(tally.records, 1) * 1000,
        "phones_cores": tally.cpu / wall,
        "load": load,
    }


def count_the_rest(server: Server) -> float:
    """Seconds from the level's end until the reports have counted its records: a server that
    counts after the phones are done pays for it here, before the next level begins, and its
    CPU is in the level's "the count included". A dashboard view starts the count, as a
    reviewer's would; the queue is read from the database file."""
    start = time.perf_counter()
    session = logged_in(server.process.base, server.password)
    database = server.process.data_dir / "gocua.db"
    asked = 0.0
    while time.perf_counter() - start < 600:
        if time.perf_counter() - asked > 5:
            session.get(f"{server.process.base}/reports/", timeout=300).raise_for_status()
            asked = time.perf_counter()
        with connect(database) as db:
            if not db.execute("SELECT 1 FROM report_dirty LIMIT 1").fetchone():
                return time.perf_counter() - start
        time.sleep(0.1)  # polling the queue: a count takes seconds
    raise RuntimeError("the reports' count did not end within 10 minutes")


def show(name: str, r: dict[str, Any]) -> None:
    by = r["page95_by"]
    print(
        f"  {name:9} {r['rate']:7,.0f} rec/s | push p50 {r['p50'] * 1000:6.0f} ms"
        f" p95 {r['p95'] * 1000:6.0f} p99 {r['p99'] * 1000:6.0f} max {r['max'] * 1000:6.0f}"
        f" | ack p95 {r['ack95']:5.2f} s | busy {r['busy']:4} errors {r['errors']}"
        f" | pages ({r['pages']}) p50 {r['page50'] * 1000:5.0f} ms p95 {r['page95'] * 1000:5.0f}"
        f" max {r['pagemax'] * 1000:6.0f} (list {by['list'] * 1000:.0f}, record"
        f" {by['record'] * 1000:.0f}, dashboard {by['dashboard'] * 1000:.0f})"
        f" | server {r['cores']:.2f} cores, {r['server_ms']:.3f} ms CPU a record"
        f" ({r['counted_ms']:.3f} the count included, counted {r['counted']:.1f} s after)"
        f" | phones {r['phones_cores']:.2f} cores"
    )
    if r["error_kinds"]:
        print(f"            errors such as {r['error_kinds']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,10,50,200", help="phones at once, comma-separated")
    parser.add_argument("--batches", type=int, default=5, help="batches each phone pushes")
    parser.add_argument("--quick", action="store_true", help="2 batches a phone (about a minute)")
    parser.add_argument("--baseline-ref", default="", help="a commit whose server is the baseline")
    parser.add_argument(
        "--baseline-config",
        choices=("single", "configured"),
        default="single",
        help="the baseline served as one process, 8 threads, no sync bound (single), or as"
        " gocua serve starts by default, like the other server (configured: a commit's code"
        " against this code, each as it is deployed)",
    )
    parser.add_argument(
        "--baseline-workers",
        type=int,
        default=0,
        help="configured: the baseline's GOCUA_WORKERS, when its default was another"
        " (default: this server's)",
    )
    parser.add_argument(
        "--baseline-ids",
        choices=("time", "random"),
        default="time",
        help="the ids of the records sent to the baseline: ordered by time, as the collector"
        " makes them, or at random, as it made them before",
    )
    parser.add_argument(
        "--baseline-in-flight",
        type=lanes_arg,
        default=IN_FLIGHT,
        help="the most batches each phone keeps at the baseline at once (default: as the"
        " collector, as many as the server says it has room for)",
    )
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(",")]
    batches = 2 if args.quick else args.batches
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        # The server as it starts by default: GOCUA_* from this environment, else its defaults.
        # tests/server_process.py starts one worker unless told: say gocua serve's own default.
        configured = {
            "GOCUA_WORKERS": str(load_settings().workers),
            **{n: os.environ[n] for n in ("GOCUA_SYNC_SLOTS",) if n in os.environ},
        }
        single = args.baseline_config == "single"
        baseline_env = {"GOCUA_WORKERS": "1", "GOCUA_SYNC_SLOTS": "0"} if single else configured
        if args.baseline_workers and not single:
            baseline_env = {**configured, "GOCUA_WORKERS": str(args.baseline_workers)}
        if args.baseline_ref:
            tree = old_tree(args.baseline_ref, root / "old")
            old = OldServerProcess(tree, root / "baseline", extra_env=baseline_env)
            baseline = Server(f"{args.baseline_ref[:9]}", old)
        else:
            baseline = Server("baseline", ServerProcess(root / "baseline", extra_env=baseline_env))
        if single:
            baseline.process.serve_args = ["--threads", "8"]
        baseline.ids = args.baseline_ids
        baseline.in_flight = args.baseline_in_flight
        current = Server("dusk", ServerProcess(root / "current", extra_env=configured))
        servers = [baseline, current]
        try:
            # A household for every record of the run, the reviewer's first batch included.
            visits = BATCH * (1 + sum((batches * 10 if n == 1 else batches) * n for n in levels))
            for server in servers:
                prepare(server, max(levels), households=max(HOUSEHOLDS, visits))
            print(
                f"{os.cpu_count()} cores; baseline: {baseline.name}"
                f" ({'one process, 8 threads, no sync bound' if single else baseline_env});"
                f" dusk: gocua serve as configured {configured or '(defaults)'};"
                f" batches of {BATCH}, {batches} a phone (1 phone: {batches * 10});"
                f" the baseline's ids: {baseline.ids}; batches a phone keeps at the server at once:"
                f" baseline {baseline.in_flight}, dusk {current.in_flight}"
            )
            for phones in levels:
                each = batches * 10 if phones == 1 else batches
                print(f"{phones} phones, {each} batches each (load average at start):")
                results = {}
                for server in servers:
                    results[server.name] = result = run_level(server, phones, each)
                    show(server.name, result)
                    print(f"            load {result['load']:.2f}")
                b, c = results[baseline.name], results[current.name]
                print(
                    f"  ratio     {c['rate'] / b['rate']:.2f}× rec/s, push p95"
                    f" {c['p95'] / b['p95']:.2f}×, pages p95 {c['page95'] / b['page95']:.2f}×"
                )
                sys.stdout.flush()
        finally:
            for server in servers:
                server.process.stop()


if __name__ == "__main__":
    main()

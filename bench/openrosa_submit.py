"""OpenRosa submissions per second on one server: a real ``gocua serve`` (waitress over
loopback), PHONES Collect clients at once, each sending its share of N filled default surveys
(households of four, each naming by its code a household of the register that no other
submission names, as at a real dusk) as Collect sends them: one ``HEAD`` for the session, then a
multipart POST each. Every submission is read, mapped, checked against its form and stored as a
record through the collector's push, the submissions a worker has waiting for the write lock
at the same moment in one transaction (group commit). The XML is made before the clock
starts. ODK Central's soak test aims at 50 submissions/s; the goal here is ten times that.
Beside the rate: the server's CPU a submission (user + system of its processes, the workers
included, while the phones send), which a machine running other work disturbs far less, and
the phones' (``bench/phones.py``: coroutines in a process of their own, each request's bytes
made before the clock starts, so that they take little of the cores they share with the
server; as ``requests`` threads they took 1.2 ms a submission, a quarter of the server's).

With ``--baseline-ref REF`` the same submissions go, in the same run, to a server running that
commit's code too (``git archive``, run with this checkout's virtual environment), the two
alternating ``--rounds`` times so that the machine's load is shared alike; it prints each
round's figures with the load average and the ratio of the best rounds. ``--workers``: the
servers' ``GOCUA_WORKERS`` (default: as ``gocua serve`` starts, one more than the cores);
``--baseline-workers``: the baseline's, when its own default was another.

    .venv/bin/python bench/openrosa_submit.py [N] [PHONES] [--baseline-ref REF] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench.dusk import households_of_four  # noqa: E402
from bench.phones import collect_together  # noqa: E402
from bench.trees import OldServerProcess, old_tree  # noqa: E402
from server.domain.db import connect, write_transaction  # noqa: E402
from server.domain.devices import add_collect_device  # noqa: E402
from server.domain.forms import install_form  # noqa: E402
from server.domain.register import add_household  # noqa: E402
from server.settings import load as load_settings  # noqa: E402
from tests.collect_client import CollectClient, collect_form_definition  # noqa: E402
from tests.server_process import ServerProcess  # noqa: E402


def prepare(server: ServerProcess, phones: int, households: int = 0) -> tuple[list[str], list[str]]:
    """The demo commune with the Collect form, ``households`` more households on the register
    over its volunteer's villages, ``phones`` Collect phones of the volunteer; their app user
    keys and the codes of the volunteer's households."""
    server.cli("init", "--demo")
    with connect(server.data_dir / "gocua.db") as db, write_transaction(db):
        install_form(db, collect_form_definition())
        user_id = db.execute("SELECT id FROM users WHERE username = 'tnv.demo'").fetchone()[0]
        keys = [add_collect_device(db, user_id)[1] for _ in range(phones)]
        villages = [
            r[0]
            for r in db.execute(
                "SELECT village_id FROM user_villages WHERE user_id = ? ORDER BY village_id",
                [user_id],
            )
        ]
        for i in range(households):
            add_household(db, villages[i % len(villages)], f"Hộ số {i}", f"Số {i}, ngõ {i % 17}")
        codes = [
            row[0]
            for row in db.execute(
                "SELECT h.code FROM households h JOIN user_villages v"
                " ON v.village_id = h.village_id WHERE v.user_id = ? ORDER BY h.code",
                [user_id],
            )
        ]
    return keys, codes


def server_cpu(pid: int) -> float:
    """User and system CPU so far of a process and its children (the forked workers), in
    seconds (Linux)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def run(server: ServerProcess, n: int, phones: int) -> tuple[float, float, float, float]:
    """Submissions/s of n fresh submissions from ``phones`` phones, the server's and the
    phones' CPU a submission in milliseconds, and the load average."""
    keys, codes = prepare(server, phones, households=n)
    server.start()
    try:
        client = CollectClient(f"{server.base}/key/{keys[0]}")
        xform = client.download(client.form_list()[0])
        # Households' answers varied as a commune's are (bench/dusk.py: households_of_four).
        pool = households_of_four()
        bodies = [
            client.fill(xform, {**pool[i % len(pool)], "household_code": codes[i]}).xml()
            for i in range(n)
        ]
        shares = [bodies[i::phones] for i in range(phones)]
        load = os.getloadavg()[0]
        assert server.proc is not None
        cpu = server_cpu(server.proc.pid)
        tally = collect_together(server.base, keys, shares)
        cpu = server_cpu(server.proc.pid) - cpu
        assert not tally.errors, tally.errors[:3]
        sent, seconds, phones_cpu = tally.records, tally.wall, tally.cpu
    finally:
        server.stop()
    with connect(server.data_dir / "gocua.db") as db:
        stored = db.execute("SELECT count(*) FROM records").fetchone()[0]
    assert sent == stored == n, (sent, stored, n)
    return n / seconds, cpu / n * 1000, phones_cpu / n * 1000, load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=5_000)
    parser.add_argument("phones", nargs="?", type=int, default=8)
    parser.add_argument("--baseline-ref", default="", help="a commit whose server is the baseline")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each server, alternating")
    parser.add_argument("--workers", type=int, default=load_settings().workers)
    parser.add_argument(
        "--baseline-workers", type=int, default=0, help="the baseline's (default: --workers)"
    )
    args = parser.parse_args()
    env = {"GOCUA_WORKERS": str(args.workers)}
    baseline_env = {"GOCUA_WORKERS": str(args.baseline_workers or args.workers)}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        tree = old_tree(args.baseline_ref, root / "old") if args.baseline_ref else None
        best: dict[str, float] = {}
        least: dict[str, float] = {}
        print(
            f"{args.n:,} OpenRosa submissions from {args.phones} phones at once,"
            f" GOCUA_WORKERS={args.workers} (the baseline's {baseline_env['GOCUA_WORKERS']}),"
            f" {os.cpu_count()} cores (goal: 500/s):"
        )
        for round_ in range(args.rounds):
            servers: list[tuple[str, ServerProcess]] = []
            if tree is not None:
                old = OldServerProcess(tree, root / f"old{round_}", extra_env=baseline_env)
                servers.append((args.baseline_ref[:9], old))
            servers.append(("this", ServerProcess(root / f"this{round_}", extra_env=env)))
            for name, server in servers:
                rate, cpu, client, load = run(server, args.n, args.phones)
                best[name] = max(best.get(name, 0.0), rate)
                least[name] = min(least.get(name, 1e9), cpu)
                print(
                    f"  {name:>9}: {rate:,.0f} submissions/s, server CPU {cpu:.2f} ms a"
                    f" submission, the phones' {client:.2f} ms (load average {load:.2f})"
                )
                sys.stdout.flush()
        if tree is not None:
            base = args.baseline_ref[:9]
            print(
                f"  best rounds: this {best['this'] / best[base]:.2f}× {base}'s rate,"
                f" {least['this'] / least[base]:.2f}× its CPU a submission"
            )


if __name__ == "__main__":
    main()

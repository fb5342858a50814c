"""Where an OpenRosa submission's CPU goes, in a real server process: the server as
``gocua serve`` builds it (``create_app``, waitress with one thread, so that every request's
application code runs in the one thread cProfile watches), one Collect phone sending N filled
default surveys (households of four, each naming a household of the register by its code) as
``bench/openrosa_submit.py`` sends them.

Printed: the server process's CPU a submission (user + system, waitress's socket work
included), its application thread's CPU a submission (what the profile covers), the load
average, and the profile's heaviest functions (cumulative, then own time). The CPU figures,
unlike a rate, hold up on a loaded machine. ``--shares`` sums the profile by where the time
is spent: OpenRosa's own code, the records' shared write path (``schemas/validate.py``,
``domain/records/``, ``domain/db.py``), SQLite, Flask and werkzeug.

With ``--base REF --cpu-only`` the CPU figures are measured for that commit's code too
(``git archive``, this checkout's virtual environment), alternating ``--rounds`` times in the
same run: on a shared machine only a same-run ratio says anything.

    .venv/bin/python bench/openrosa_profile.py [N] [--top 40] [--save FILE] [--shares]
    .venv/bin/python bench/openrosa_profile.py 2000 --cpu-only --base main --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import requests  # noqa: E402

from tests.server_process import free_port  # noqa: E402

# The groups ``--shares`` sums own time into, first match wins: a path fragment of the
# function's file, and the group's name.
GROUPS = (
    ("/schemas/validate.py", "record check (schemas/validate.py)"),
    ("/schemas/expr", "record check (expressions)"),
    ("/schemas/settle", "record check (settle)"),
    ("/server/domain/records/", "records write path (domain/records/)"),
    ("/server/domain/db.py", "records write path (domain/db.py)"),
    ("/server/domain/openrosa/", "OpenRosa (domain/openrosa/)"),
    ("/server/web/openrosa/", "OpenRosa (web/openrosa/)"),
    ("/server/", "rest of server/"),
    ("/schemas/", "rest of schemas/"),
    ("/flask/", "Flask"),
    ("/werkzeug/", "werkzeug"),
    ("/waitress/", "waitress"),
    ("/defusedxml/", "defusedxml"),
    ("/xml/", "xml (ElementTree)"),
    ("sqlite3", "SQLite (its C calls)"),
    ("/json/", "json"),
)

SERVER = r"""
import cProfile, json, os, sys, threading, time
import waitress
sys.path.insert(0, os.environ["PYTHONPATH"])
from server import create_app

app = create_app({"PROXY_HOPS": 0})
wanted = int(sys.argv[1])
out = sys.argv[2]
profiling = sys.argv[3] == "profile"
profile = cProfile.Profile()
state = {"posts": 0, "cpu": 0.0}

def profiled(environ, start_response):
    post = environ["REQUEST_METHOD"] == "POST"
    if post:
        began = time.thread_time()
        if profiling:
            profile.enable()
    try:
        # The body is one short XML message: read whole inside the profile.
        return list(app(environ, start_response))
    finally:
        if post:
            if profiling:
                profile.disable()
            state["cpu"] += time.thread_time() - began
            state["posts"] += 1
            if state["posts"] == wanted:
                profile.dump_stats(out + ".prof")
                with open(out + ".json", "w") as f:
                    json.dump({"app_cpu": state["cpu"], "posts": wanted}, f)

waitress.serve(profiled, host="127.0.0.1", port=int(os.environ["GOCUA_PORT"]), threads=1,
               ident="gocua", connection_limit=1000, clear_untrusted_proxy_headers=True)
"""


def process_cpu(pid: int) -> float:
    """A process's user and system CPU so far, in seconds (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def group(filename: str) -> str:
    for fragment, name in GROUPS:
        if fragment in filename:
            return name
    return "other (Python, C)"


def shares(stats: pstats.Stats) -> dict[str, float]:
    summed: dict[str, float] = {}
    for (filename, _line, function), row in stats.stats.items():  # type: ignore[attr-defined]
        where = filename if filename != "~" else function
        summed[group(where)] = summed.get(group(where), 0.0) + row[2]
    return dict(sorted(summed.items(), key=lambda item: -item[1]))


def measure(code: Path, data: Path, n: int, mode: str) -> tuple[dict[str, float], Path]:
    """One server of ``code``'s tree on a new database under ``data``, sent ``n``
    submissions: its CPU figures, and where its profile was written."""
    from dusk import households_of_four
    from openrosa_submit import prepare

    from tests.collect_client import CollectClient
    from tests.server_process import ServerProcess

    holder = ServerProcess(data, port=free_port())
    keys, codes = prepare(holder, 1, households=n)
    urls = [f"{holder.base}/key/{key}" for key in keys]
    env = {**holder.env, "GOCUA_SYNC_SLOTS": "0", "PYTHONPATH": str(code)}
    out = data / "profile"
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(n), str(out), mode],
        env=env,
        cwd=code,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{holder.base}/api/v1/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        client = CollectClient(urls[0])
        xform = client.download(client.form_list()[0])
        pool = households_of_four()  # answers varied as a commune's are
        bodies = [
            client.fill(xform, {**pool[i % len(pool)], "household_code": codes[i]}).xml()
            for i in range(n)
        ]
        session = requests.Session()
        headers = {"X-OpenRosa-Version": "1.0"}
        session.head(f"{urls[0]}/submission", headers=headers, timeout=60)
        load = os.getloadavg()[0]
        cpu_before = process_cpu(proc.pid)
        start = time.perf_counter()
        for body in bodies:
            files = {"xml_submission_file": ("submission.xml", body, "text/xml")}
            answer = session.post(f"{urls[0]}/submission", files=files, headers=headers, timeout=60)
            assert answer.status_code == 201, answer.text
        wall = time.perf_counter() - start
        cpu_spent = process_cpu(proc.pid) - cpu_before
        while not out.with_suffix(".json").exists():
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait()
    app_cpu = json.loads(out.with_suffix(".json").read_text())["app_cpu"]
    figures = {
        "app_ms": app_cpu / n * 1000,
        "process_ms": cpu_spent / n * 1000,
        "rate": n / wall,
        "load": load,
    }
    return figures, out.with_suffix(".prof")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=1_000)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--save", default="", help="keep the profile in this file")
    parser.add_argument("--shares", action="store_true", help="own time summed by group")
    parser.add_argument(
        "--cpu-only", action="store_true", help="no profile: CPU a submission without its cost"
    )
    parser.add_argument("--base", default="", help="a commit to measure beside (with --cpu-only)")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    from trees import old_tree, short

    mode = "cpu" if args.cpu_only else "profile"
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        codes = [("this", ROOT)]
        if args.base:
            codes.insert(0, (short(args.base), old_tree(args.base, root / "base")))
        print(
            f"{args.n:,} submissions, one phone, one server thread;"
            f" CPU a submission ({'not ' if args.cpu_only else ''}profiled):"
        )
        best: dict[str, float] = {}
        for round_ in range(args.rounds):
            for name, code in codes:
                figures, profile = measure(code, root / f"{name}{round_}", args.n, mode)
                best[name] = min(best.get(name, 1e9), figures["process_ms"])
                print(
                    f"  {name:>9}: application {figures['app_ms']:.2f} ms,"
                    f" process {figures['process_ms']:.2f} ms (waitress's reading and writing"
                    f" too), {figures['rate']:,.0f}/s from one phone"
                    f" (load average {figures['load']:.2f})"
                )
                sys.stdout.flush()
        if args.base:
            base = short(args.base)
            print(f"  best rounds, process CPU: this {best['this'] / best[base]:.2f}× {base}")
        if args.cpu_only:
            return
        stats = pstats.Stats(str(profile))
        if args.save:
            stats.dump_stats(args.save)
        if args.shares:
            total = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]
            print("  own time by group:")
            for name, seconds in shares(stats).items():
                print(f"    {seconds / total:6.1%}  {name}")
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()

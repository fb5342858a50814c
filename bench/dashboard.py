"""The commune dashboard with N records in one commune, this code against a base commit's.

    .venv/bin/python -u bench/dashboard.py [N ...] [--base REV] [--this-only] [--quick]
    # N: 10000 100000 1000000 by default (--quick: 10000); REV: the commit to compare with
    # (default: main)

For each N and each code (the base commit's, unpacked from git by ``bench/trees.py`` and run in
a process of its own, and this checkout's), the commune comes from ``bench/commune.py``: the
demo commune with N register households over the volunteer's two villages and a record of a
household of four visiting each, written by that code's own push path, every record's
indicator facts counted (built once and kept on disk, keyed by the code's schema: two codes with
the same schema share it). Then, through the Flask app as a reviewer:

- warm: ``/reports/`` five times, the median (target <= 200 ms at 1M);
- after a sync: 3,000 more households and their records stored, then the first view (this code
  shows the figures it has and says so; a code that counts on view counts the 3,000 first),
  and for this code how long its background count takes until the page is fresh;
- after an indicator change (the kept stamp made stale): the first view (a code that recounts
  on view recounts every record first; at 1M it is not run, its time is the counting rate
  times N).

The load average is printed beside each size's figures: the machine is shared.

At 1M the commune is built first when not kept yet: build it alone beforehand, at low priority
(``nice -n 19 .venv/bin/python -u bench/commune.py 1000000``, an hour on the loaded 2-core
machine, about 4 GB), then every run copies it (half a minute). A base with the same schema and
write path shares it. Measured so (``dashboard.py 1000000 --this-only``, load average 12 to 13,
then 6 to 7): warm 36 and 5 ms, first view after 3,000 more records 67 and 57 ms (their count
then ran 4-5 s in the background), warm after them 11 ms, first view after an indicator change
22 and 17 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SYNC = 3_000


def measure(folder: Path, info: dict[str, Any]) -> dict[str, Any]:
    """The reviewer's views of the commune in ``folder`` (the code on sys.path)."""
    from bench.commune import PASSWORD, REVIEWER, more_records
    from server import create_app
    from server.domain.db import connect

    n = info["n"]
    db = connect(folder / "gocua.db")

    app = create_app(
        {
            "DATA_DIR": str(folder),
            "DATABASE": str(folder / "gocua.db"),
            "SECRET_KEY": "bench-only-key-" + "0" * 32,
        }
    )
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    login = {"username": REVIEWER, "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=login).status_code == 302

    def view() -> tuple[float, str]:
        start = time.perf_counter()
        response = client.get("/reports/")
        seconds = time.perf_counter() - start
        assert response.status_code == 200, response.status_code
        return seconds, response.get_data(as_text=True)

    view()
    warm = statistics.median(view()[0] for _ in range(5))
    more_records(db, info, SYNC, seed=n + 1)
    after_sync, page = view()
    out: dict[str, Any] = {"warm_s": warm, "after_sync_s": after_sync}
    if "data-pending" in page:  # this code: the count runs in the background
        start = time.perf_counter()
        while 'data-pending="0"' not in page:
            from server.domain.reports import background

            background.wait(db, timeout=600)
            page = view()[1]
        out["fresh_after_s"] = time.perf_counter() - start
    warm_again = statistics.median(view()[0] for _ in range(5))
    out["warm_after_s"] = warm_again
    if "data-pending" in page or n <= 100_000:
        with db.conn:
            db.execute("UPDATE report_state SET value = 'old' WHERE key = 'definitions'")
        out["after_change_s"] = view()[0]
    db.close()
    return out


def run_measure(code_root: Path, folder: Path, info: dict[str, Any]) -> dict[str, Any]:
    """``measure`` in a process of its own with ``code_root``'s server first on the path."""
    env = {**os.environ, "PYTHONPATH": f"{code_root}{os.pathsep}{ROOT}"}
    out = subprocess.run(
        [sys.executable, __file__, "--measure", str(folder), "--code", str(code_root)]
        + ["--info", json.dumps(info)],
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        cwd=code_root,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:9,.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", nargs="*", type=int)
    parser.add_argument("--base", default="main")
    parser.add_argument("--this-only", action="store_true", help="no base: this code's column")
    parser.add_argument("--quick", action="store_true", help="10,000 records only")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--info", help=argparse.SUPPRESS)
    parser.add_argument("--code", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, args.code or str(ROOT))
    if args.measure:
        print(json.dumps(measure(Path(args.measure), json.loads(args.info))))
        return
    from bench.commune import commune
    from bench.trees import old_tree, short

    sizes = args.sizes or ([10_000] if args.quick else [10_000, 100_000, 1_000_000])
    with tempfile.TemporaryDirectory() as work:
        codes = [("this", ROOT)]
        if not args.this_only:
            codes.insert(0, (f"base {short(args.base)}", old_tree(args.base, Path(work) / "base")))
        for n in sizes:
            print(f"{n:,} records in one commune (load average {os.getloadavg()[0]:.2f}):")
            results = {}
            for label, code_root in codes:
                folder = Path(work) / f"{label.split()[0]}-{n}"
                start = time.perf_counter()
                info = commune(folder, n, code=code_root)
                copied = time.perf_counter() - start
                print(
                    f"  {label}: commune {info['key']}"
                    f" {'from the cache' if info['cached'] else 'built'} ({copied:.0f} s;"
                    f" built in {info['register_s'] + info['store_s'] + info['count_s']:.0f} s)"
                )
                results[label.split()[0]] = run_measure(code_root, folder, info)
                subprocess.run(["rm", "-rf", str(folder)], check=True)
            this = results["this"]
            base = results.get("base", {})
            print(f"  {'':36s} {'base':>12s} {'this code':>12s}")
            for name, key in (
                ("warm view (median of 5)", "warm_s"),
                (f"first view after {SYNC:,} more records", "after_sync_s"),
                ("warm view after them", "warm_after_s"),
                ("first view after an indicator change", "after_change_s"),
            ):
                print(f"  {name:36s} {ms(base.get(key)):>12s} {ms(this.get(key)):>12s}")
            if "fresh_after_s" in this:
                print(
                    f"  this code's background count of the {SYNC:,}: {this['fresh_after_s']:.1f} s"
                )
            print(f"  load average now {os.getloadavg()[0]:.2f}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()

"""The commune dashboard with N records in one commune, this code against a base commit's.

    .venv/bin/python -u bench/dashboard.py [N ...] [--base REV]
    # N: 10000 100000 1000000 by default; REV: the commit to compare with (default: main)

For each N and each code (the base commit's, unpacked from git into a temporary folder and run
in a process of its own, and this checkout's), a fresh database gets one commune of 20
villages with a volunteer each, N register households and N records straight into the tables
(bulk INSERTs, every trigger firing, as bench/sync_pull.py builds its feed), their answers
drawn from 500 generated households (bench/storage_size.py's; 6 in 100 nobody home). Every
record is then counted by that code's own ``refresh_dirty`` (each distinct household's
indicators computed once: the bench is about reading the sums, not making them). Then,
through the Flask app as a reviewer:

- warm: ``/reports/`` five times, the median (target <= 200 ms at 1M);
- after a sync: 3,000 more records stored, then the first view (this code shows the figures it
  has and says so; the base counts the 3,000 first), and for this code how long its
  background count takes until the page is fresh;
- after an indicator change (the kept stamp made stale): the first view (the base recounts
  every record first; at 1M it is not run, its time is the counting rate times N).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password-123"
SYNC = 3_000
CHUNK = 50_000


def build(folder: Path, n: int) -> dict[str, Any]:
    from storage_size import household_answers  # imports nothing of the server

    import schemas.indicators as indicator_files
    from server.domain import migrations
    from server.domain.accounts import add_user
    from server.domain.db import connect, write_transaction
    from server.domain.reports.facts import refresh_dirty
    from server.domain.seed import load_default_form

    try:
        from server.domain.answers import pack
    except ImportError:  # the base: answers stored as JSON text

        def pack(text: str) -> Any:
            return text

    compute = indicator_files.IndicatorSet.compute
    seen: dict[tuple[str, str], Any] = {}

    def cached(self: Any, form: Any, data: Any, visit_date: str) -> Any:
        key = (json.dumps(data, sort_keys=True), visit_date)
        if key not in seen:
            seen[key] = compute(self, form, data, visit_date)
        return seen[key]

    indicator_files.IndicatorSet.compute = cached
    rng = random.Random(16)
    pool = [
        pack(
            json.dumps(
                household_answers(rng) if rng.random() < 0.94 else {"outcome": "nobody_home"},
                ensure_ascii=False,
                separators=(",", ":"),
            )
        )
        for _ in range(500)
    ]
    db = connect(folder / "gocua.db")
    migrations.apply(db)
    load_default_form(db)
    with write_transaction(db):
        db.execute(
            "INSERT INTO communes (id, name, province_code, province_name, created_at)"
            " VALUES ('99999', 'Xã Minh Họa', '99', 'Tỉnh Minh Họa', 'now')"
        )  # taken: `gocua` then seeds no demo data
        db.execute(
            "INSERT INTO communes (id, name, province_code, province_name, created_at)"
            " VALUES ('98000', 'Xã Thử', '98', 'Tỉnh Thử Nghiệm', 'now')"
        )
        villages = []
        for v in range(20):
            village = f"98000-v{v:02d}"
            db.execute(
                "INSERT INTO villages (id, commune_id, name, active, created_at)"
                " VALUES (?, '98000', ?, 1, 'now')",
                [village, f"Thôn {v + 1:02d}"],
            )
            user = db.execute(
                "INSERT INTO users (commune_id, username, display_name, role, created_at)"
                " VALUES ('98000', ?, ?, 'volunteer', 'now')",
                [f"tnv-{village}", f"Tổ viên {village}"],
            ).lastrowid
            villages.append((village, user))
        add_user(db, "bench.reviewer", "Bench", "reviewer", "98000", password=PASSWORD)
    start = time.perf_counter()
    insert(db, villages, pool, rng, n, "2026-10")
    stored = time.perf_counter() - start
    start = time.perf_counter()
    refresh_dirty(db)
    counted = time.perf_counter() - start
    indicator_files.IndicatorSet.compute = compute  # the views below count for real
    figures: dict[str, Any] = {"stored_s": stored, "counted_s": counted}
    figures.update(measure(folder, db, villages, pool, rng, n))
    db.close()
    return figures


def insert(
    db: Any,
    villages: list[tuple[str, int]],
    pool: list[Any],
    rng: random.Random,
    n: int,
    month: str,
) -> None:
    """N register households and a record visiting each, in chunks of one transaction."""
    for first in range(0, n, CHUNK):
        houses, records = [], []
        for _ in range(first, min(n, first + CHUNK)):
            village, user = rng.choice(villages)
            hid, day = str(uuid.uuid4()), f"{month}-{rng.randint(1, 28):02d}"
            houses.append((hid, village, f"B{uuid.uuid4().hex[:12]}"))
            state = rng.choices(["approved", "received", "has_issues", "rejected"], [6, 3, 1, 0.2])
            records.append(
                (
                    str(uuid.uuid4()),
                    str(uuid.uuid4()),
                    village,
                    hid,
                    rng.choice(pool),
                    json.dumps({"visit_date": day}),
                    user,
                    state[0],
                    f"{day}T10:00:00Z",
                )
            )
        db.conn.execute("BEGIN IMMEDIATE")
        db.conn.executemany(
            "INSERT INTO households (id, commune_id, village_id, code, head_name, address,"
            " created_at, updated_at) VALUES (?, '98000', ?, ?, '', '', 'now', 'now')",
            houses,
        )
        db.conn.executemany(
            "INSERT INTO records (id, rev, commune_id, village_id, household_id, form_id,"
            " form_version, data, meta, user_id, review_state, received_at, updated_at)"
            " VALUES (?, ?, '98000', ?, ?, 'ho_gia_dinh_cds', '2026.11.1', ?, ?, ?, ?, ?, ?)",
            [(*r, r[-1]) for r in records],
        )
        db.conn.execute("COMMIT")


def measure(
    folder: Path, db: Any, villages: list[tuple[str, int]], pool: list[Any], rng: Any, n: int
) -> dict[str, Any]:
    from server import create_app

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
    login = {"username": "bench.reviewer", "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=login).status_code == 302

    def view() -> tuple[float, str]:
        start = time.perf_counter()
        response = client.get("/reports/")
        seconds = time.perf_counter() - start
        assert response.status_code == 200, response.status_code
        return seconds, response.get_data(as_text=True)

    view()
    warm = statistics.median(view()[0] for _ in range(5))
    insert(db, villages, pool, rng, SYNC, "2026-11")
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
    return out


def run_build(code_root: Path, folder: Path, n: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": f"{code_root}{os.pathsep}{ROOT}"}
    out = subprocess.run(
        [sys.executable, __file__, "--build", str(folder), str(n), "--code", str(code_root)],
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:9,.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--base", default="main")
    parser.add_argument("--this-only", action="store_true", help="no base: this code's column")
    parser.add_argument("--build")
    parser.add_argument("--code")
    args = parser.parse_args()
    if args.build:
        sys.path.insert(0, args.code)
        print(json.dumps(build(Path(args.build), args.sizes[0])))
        return
    with tempfile.TemporaryDirectory() as work:
        base_root = Path(work) / "base"
        base_root.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.base], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(base_root)], input=archive, check=True)
        for n in args.sizes:
            print(f"{n:,} records in one commune (load average {os.getloadavg()[0]:.2f}):")
            results = {}
            codes = [("this", ROOT)] if args.this_only else [("base", base_root), ("this", ROOT)]
            for label, code_root in codes:
                folder = Path(work) / f"{label}-{n}"
                folder.mkdir()
                results[label] = run_build(code_root, folder, n)
                subprocess.run(["rm", "-rf", str(folder)], check=True)
            this = results["this"]
            base = results.get("base", {"stored_s": 0, "counted_s": 0})
            print(
                f"  built: stored {this['stored_s']:.0f} s, counted {this['counted_s']:.0f} s"
                f" (base {base['stored_s']:.0f} s / {base['counted_s']:.0f} s)"
            )
            print(f"  {'':36s} {'base':>12s} {'this code':>12s}")
            for name, key in (
                ("warm view (median of 5)", "warm_s"),
                (f"first view after {SYNC:,} more records", "after_sync_s"),
                ("warm view after them", "warm_after_s"),
                ("first view after an indicator change", "after_change_s"),
            ):
                print(f"  {name:36s} {ms(base.get(key)):>12s} {ms(this.get(key)):>12s}")
            if "after_change_s" not in base and base["counted_s"]:
                print(f"  (base after a change not run: about {base['counted_s']:,.0f} s)")
            print(f"  this code's background count of the {SYNC:,}: {this['fresh_after_s']:.1f} s")
            print(f"  load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

"""Bytes on disk per household record, this code against a base commit's, in the same run.

    .venv/bin/python -u bench/storage_size.py [N ...] [--base REV]
    # N: 10000 100000 by default; REV: the commit to compare with (default: main)

For each N and each code (the base commit's, unpacked from git into a temporary folder, and
this checkout's), a fresh database gets the default survey, the demo commune and N register
households, then N realistic records (the default survey, 4 members, each naming a register
household) pushed in batches of 20 through the real push code in-process (``push.push``: the
records, their revisions, follow-ups, outbox, every index and trigger), then every record's
indicator facts counted. The figure is ``page_count * page_size / N`` after a WAL
checkpoint: everything the file holds, the register included, per record. The largest tables
and indexes follow (SQLite's dbstat). Target: <= 4 KB per record, history kept.

The base commit's database is then migrated to this code's schema in place and VACUUMed, to
show what an upgraded installation comes to (and that the migration keeps every answer).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BATCH = 20
SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Lò", "Quàng"]
GIVEN = ["Văn An", "Thị Bình", "Văn Cường", "Thị Dung", "Minh Đức", "Thu Hà", "Quốc Huy"]


def name(rng: random.Random) -> str:
    return f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}"


def household_answers(rng: random.Random) -> dict[str, Any]:
    """A completed, consented visit to a household of four: three adults and a child, their
    answers varied within what the default survey accepts."""
    from tests.records import adult, child, household_data

    members = []
    for i, relation in enumerate(["head", "spouse", rng.choice(["parent", "child"])]):
        person = adult(name(rng), rng.randint(1950, 2000), relation, rng.choice(["male", "female"]))
        for key in ("skill_apps_wifi", "skill_information", "skill_messaging", "skill_safety"):
            person[key] = rng.choice(["alone", "with_help", "cannot"])
        person["dvctt"] = rng.choice(["alone", "with_help", "no"])
        person["health_book"] = rng.choice(["opens", "cannot_open", "no", "unknown"])
        person["bought_online"] = rng.choice(["yes", "no"])
        person["bdhvs"] = rng.choice(["certified", "completed", "in_progress", "not_yet"])
        if i:
            person["needs_help"] = ["none"]
        members.append(person)
    members.append(child(name(rng), rng.randint(2013, 2024)))
    head = members[0]["member_name"]
    return household_data(
        members,
        respondent_name=head,
        head_name=head,
        address=f"Số {rng.randint(1, 200)}, ngõ {rng.randint(1, 30)}",
        internet=rng.choice(["fibre", "mobile_only"]),
    )


def build(folder: Path, n: int) -> dict[str, Any]:
    """The database a commune's server holds after N pushed records (the code on sys.path)."""
    from server.domain import migrations
    from server.domain.db import connect, now_iso, write_transaction
    from server.domain.devices import device_for_token, enroll, new_code
    from server.domain.records.push import push
    from server.domain.reports.facts import refresh_dirty
    from server.domain.seed import load_default_form, seed_demo
    from tests.records import record

    rng = random.Random(16)
    db = connect(folder / "gocua.db")
    migrations.apply(db)
    load_default_form(db)
    seed_demo(db)
    with write_transaction(db):
        user_id, commune_id = db.execute(
            "SELECT id, commune_id FROM users WHERE username = 'tnv.demo'"
        ).fetchone()
        code = new_code(db, user_id)
    villages = [
        r[0]
        for r in db.execute("SELECT village_id FROM user_villages WHERE user_id = ?", [user_id])
    ]
    households = []
    with write_transaction(db):
        now = now_iso()
        for i in range(n):
            hid, village = str(uuid.uuid4()), villages[i % len(villages)]
            db.execute(
                "INSERT INTO households (id, commune_id, village_id, code, head_name, address,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [hid, commune_id, village, f"S{i:08d}", name(rng), f"Số {i}", now, now],
            )
            households.append((hid, village))
    caller = {**device_for_token(db, enroll(db, code)["token"]), "kind": "device"}
    start = time.perf_counter()
    for first in range(0, n, BATCH):
        items = []
        for hid, village in households[first : first + BATCH]:
            item = record(village, hid, data=household_answers(rng))
            item["meta"]["device_id"] = caller["id"]
            items.append(item)
        results = push(db, caller, items)["results"]
        assert {r["status"] for r in results} == {"applied"}, results
    pushed = time.perf_counter() - start
    refresh_dirty(db)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    figures = measure(db, n)
    db.close()
    return {**figures, "push_s": pushed}


def measure(db: Any, n: int) -> dict[str, Any]:
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    free = db.execute("PRAGMA freelist_count").fetchone()[0]
    parts = [
        (r[0], r[1])
        for r in db.execute(
            "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 12"
        )
    ]
    return {
        "per_record": pages * page_size / n,
        "free_per_record": free * page_size / n,
        "parts": [(name, size / n) for name, size in parts],
    }


def run_build(code_root: Path, folder: Path, n: int) -> dict[str, Any]:
    """``build`` in a process of its own with ``code_root``'s server on its path."""
    env = {**os.environ, "PYTHONPATH": f"{code_root}{os.pathsep}{ROOT}"}
    out = subprocess.run(
        [sys.executable, __file__, "--build", str(folder), str(n), "--code", str(code_root)],
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def migrate(folder: Path, n: int) -> dict[str, Any]:
    """The base's database upgraded in place by this code, then VACUUMed."""
    from server.domain import answers, migrations
    from server.domain.db import connect

    db = connect(folder / "gocua.db")
    before = {(r[0], r[1]): r[2] for r in db.execute("SELECT record_id, rev, data FROM revisions")}
    start = time.perf_counter()
    migrations.apply(db)
    seconds = time.perf_counter() - start
    after = {
        (r[0], r[1]): answers.text(r[2])
        for r in db.execute("SELECT record_id, rev, data FROM revisions")
    }
    assert after == before, "a revision's answers changed in the migration"
    db.execute("VACUUM")
    figures = measure(db, n)
    db.close()
    return {**figures, "migrate_s": seconds}


def show(label: str, figures: dict[str, Any]) -> None:
    print(
        f"  {label:34s} {figures['per_record']:8,.0f} bytes/record"
        f"  (free pages {figures['free_per_record']:,.0f})"
    )
    print("      " + ", ".join(f"{name} {size:,.0f}" for name, size in figures["parts"]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000, 100_000])
    parser.add_argument("--base", default="main")
    parser.add_argument("--build")
    parser.add_argument("--code")
    args = parser.parse_args()
    if args.build:
        sys.path.insert(0, args.code)
        print(json.dumps(build(Path(args.build), args.sizes[0])))
        return
    sys.path.insert(0, str(ROOT))
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    with tempfile.TemporaryDirectory() as work:
        base_root = Path(work) / "base"
        base_root.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.base], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(base_root)], input=archive, check=True)
        for n in args.sizes:
            print(f"{n:,} records of 4 members, each naming a register household:")
            for label, code_root in ((f"base ({args.base})", base_root), ("this code", ROOT)):
                folder = Path(work) / f"{label.split()[0]}-{n}"
                folder.mkdir()
                figures = run_build(code_root, folder, n)
                show(f"{label}, pushed in {figures['push_s']:.0f} s", figures)
                if code_root is base_root:
                    upgraded = folder
            figures = migrate(upgraded, n)
            show(f"base upgraded ({figures['migrate_s']:.1f} s), VACUUM", figures)
            shutil.rmtree(upgraded)
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")


if __name__ == "__main__":
    main()

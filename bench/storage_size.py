"""Bytes on disk per household record, this code against a base commit's, in the same run.

    .venv/bin/python -u bench/storage_size.py [N ...] [--base REV] [--quick]
    # N: 10000 100000 by default (--quick: 10000); REV: the commit to compare with (default: main)

For each N and each code (the base commit's, unpacked from git by ``bench/trees.py``, and this
checkout's), the commune comes from ``bench/commune.py``: the default survey, the demo commune,
N register households and N realistic records (the default survey, 4 members, each naming a
register household) written by that code's own push path (the records, their revisions,
follow-ups, outbox, every index and trigger), every record's indicator facts counted; built
once and kept on disk, keyed by the code's schema. The figure is ``page_count * page_size / N``
after a WAL checkpoint: everything the file holds, the register included, per record. The
largest tables and indexes follow (SQLite's dbstat). Target: <= 4 KB per record, history kept.

The base commit's database is then migrated to this code's schema in place and VACUUMed, to
show what an upgraded installation comes to (and that the migration keeps every answer).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


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


def migrate(folder: Path, n: int) -> dict[str, Any]:
    """The base's database upgraded in place by this code, then VACUUMed."""
    from server.domain import answers, migrations
    from server.domain.db import connect

    db = connect(folder / "gocua.db")
    before = {
        (r[0], r[1]): answers.text(r[2])
        for r in db.execute("SELECT record_id, rev, data FROM revisions")
    }
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
    from bench.commune import commune
    from bench.trees import old_tree, short
    from server.domain.db import connect

    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", nargs="*", type=int)
    parser.add_argument("--base", default="main")
    parser.add_argument("--quick", action="store_true", help="10,000 records only")
    args = parser.parse_args()
    sizes = args.sizes or ([10_000] if args.quick else [10_000, 100_000])
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    with tempfile.TemporaryDirectory() as work:
        base_root = old_tree(args.base, Path(work) / "base")
        for n in sizes:
            print(f"{n:,} records of 4 members, each naming a register household:")
            for label, code_root in (
                (f"base ({short(args.base)})", base_root),
                ("this code", ROOT),
            ):
                folder = Path(work) / f"{label.split()[0]}-{n}"
                info = commune(folder, n, code=code_root)
                db = connect(folder / "gocua.db")
                figures = measure(db, n)
                db.close()
                how = "from the cache" if info["cached"] else "built"
                show(f"{label}, {how} ({info['key']})", figures)
                if code_root is base_root:
                    upgraded = folder
                else:
                    shutil.rmtree(folder)
            figures = migrate(upgraded, n)
            show(f"base upgraded ({figures['migrate_s']:.1f} s), VACUUM", figures)
            shutil.rmtree(upgraded)
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")


if __name__ == "__main__":
    main()

"""How long a village merge holds the write lock, and how long a push behind it waits.

A merge of a village of H households into one of H gives the survivor to the merged village's
volunteers (V of them). Measured: the merge's write transaction, its feed entries, and the
longest wait of a writer that meanwhile takes the lock every 20 ms on its own connection (a
phone's push batch, reduced to its lock), with SQLite's 30 s busy timeout as the server's.

Baseline, measured in the same run: the same merge writing the survivor's households once per
new volunteer (as merges did before: households x volunteers in one transaction).
Goal: the merge's time does not grow with V; no writer meets 'database is locked'.

    .venv/bin/python bench/village_merge.py [H]
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.domain import migrations, register  # noqa: E402
from server.domain.accounts import add_user  # noqa: E402
from server.domain.db import connect, now_iso, write_transaction  # noqa: E402
from server.domain.feeds import record_change  # noqa: E402
from server.domain.followups import send_household  # noqa: E402


def make_commune(path: Path, households: int, volunteers: int) -> tuple[str, str, str]:
    """A commune of two villages of ``households`` each; ``volunteers`` on the first only."""
    db = connect(path)
    migrations.apply(db)
    now = now_iso()
    with write_transaction(db):
        commune = register.add_commune(db, "99999", "Xã Đo", "99", "Tỉnh Đo")["id"]
        source = register.add_village(db, commune, "Thôn Đông")["id"]
        target = register.add_village(db, commune, "Thôn Bắc")["id"]
        for village in (source, target):
            db["households"].insert_all(
                [
                    {
                        "id": str(uuid.uuid4()),
                        "commune_id": commune,
                        "village_id": village,
                        "code": uuid.uuid4().hex[:10],
                        "head_name": f"Hộ {i}",
                        "address": "",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(households)
                ]
            )
        for i in range(volunteers):
            add_user(db, f"tnv{i}", f"TNV {i}", "volunteer", commune, village_ids=[source])
    db.close()
    return commune, source, target


def old_merge(db: Any, commune: str, source: str, target: str) -> None:
    """The merge as it was before (its code, in short): the survivor's households written
    again for each volunteer given it."""
    village, now = register._village(db, commune, target), now_iso()
    db.execute(
        "UPDATE villages SET active = 0, merged_into = ?, merged_at = ? WHERE id = ?",
        [target, now, source],
    )
    moved = register.household_ids(db, source)
    db.execute(
        "UPDATE households SET village_id = ?, updated_at = ? WHERE village_id = ?",
        [target, now, source],
    )
    for household_id in moved:
        db.execute(
            "INSERT INTO household_moves (household_id, from_village, to_village, at)"
            " VALUES (?, ?, ?, ?)",
            [household_id, source, target, now],
        )
        send_household(db, household_id)
    for user_id in register._give_target(db, source, target):
        record_change(
            db,
            "village",
            target,
            {"id": target, "name": village["name"], "active": 1},
            commune_id=commune,
            village_id=target,
            user_id=user_id,
        )
        for household_id in register.household_ids(db, target):
            send_household(db, household_id, user_id=user_id)
    record_change(
        db,
        "village",
        source,
        {"id": source, "merged_into": target},
        commune_id=commune,
        village_id=source,
        op="delete",
    )


class Pusher(threading.Thread):
    """Takes the write lock every 20 ms; records its longest wait and any lock error."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path, self.longest, self.locked, self.done = path, 0.0, 0, threading.Event()

    def run(self) -> None:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.execute("CREATE TABLE IF NOT EXISTS bench_pushes (at REAL)")
        while not self.done.is_set():
            start = time.perf_counter()
            try:
                conn.execute("BEGIN IMMEDIATE")
                self.longest = max(self.longest, time.perf_counter() - start)
                conn.execute("INSERT INTO bench_pushes VALUES (?)", [start])
                conn.execute("COMMIT")
            except sqlite3.OperationalError:
                self.locked += 1
            time.sleep(0.02)
        conn.close()


def run(households: int, volunteers: int, merge: Any) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "gocua.db"
        commune, source, target = make_commune(path, households, volunteers)
        db = connect(path)
        before = db.execute("SELECT max(seq) FROM changes").fetchone()[0]
        pusher = Pusher(path)
        pusher.start()
        time.sleep(0.1)
        start = time.perf_counter()
        with write_transaction(db):
            merge(db, commune, source, target)
        seconds = time.perf_counter() - start
        time.sleep(0.1)
        pusher.done.set()
        pusher.join()
        entries = db.execute("SELECT max(seq) FROM changes").fetchone()[0] - before
        db.close()
    return {"seconds": seconds, "entries": entries, "wait": pusher.longest, "locked": pusher.locked}


def main() -> None:
    households = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    print(f"merge of a village of {households:,} households into one of {households:,}")
    print(
        f"{'':24} {'volunteers':>10} {'transaction':>12} {'feed entries':>13}"
        f" {'longest push wait':>18} {'locked':>7}"
    )
    rows = [("now", v, register.merge_villages) for v in (1, 10, 30)]
    rows += [("baseline (as before)", v, old_merge) for v in (1, 10)]
    for name, volunteers, merge in rows:
        r = run(households, volunteers, merge)
        print(
            f"{name:<24} {volunteers:>10} {r['seconds']:>10.2f} s {r['entries']:>13,}"
            f" {r['wait']:>16.2f} s {r['locked']:>7}"
        )


if __name__ == "__main__":
    main()

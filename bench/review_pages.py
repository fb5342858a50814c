"""How long the staff's pages take with 100,000 records stored (one process, Flask's client).

Pages: the submissions list (first page, a page 90,000 records deep, two filtered lists) and a
record page. The baseline, measured in the same run, is the login page: a template rendered
with no query (what any page costs at least). Records are bulk-inserted straight into the
tables (with one revision each), so the triggers that fill the list's filter columns run.

    .venv/bin/python bench/review_pages.py [N_RECORDS] [REPEATS]
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server import create_app  # noqa: E402
from server.domain.db import connect, write_transaction  # noqa: E402
from server.domain.seed import load_default_form, seed_demo  # noqa: E402
from tests.records import adult, child, household_data  # noqa: E402


def bulk_insert(db: Any, n: int) -> None:
    villages = [r[0] for r in db.execute("SELECT id FROM villages ORDER BY name")]
    households = [r[0] for r in db.execute("SELECT id FROM households")]
    user = db.execute("SELECT id FROM users WHERE username = 'tnv.demo'").fetchone()[0]
    helped = json.dumps(
        household_data(members=[adult("Nguyễn Thị Hoa", 1980), child("Nguyễn Văn Nam", 2016)]),
        ensure_ascii=False,
    )
    content = json.loads(helped)
    content["members"][0]["needs_help"] = ["none"]
    settled = json.dumps(content, ensure_ascii=False)
    away = json.dumps({"outcome": "nobody_home", "start": "2026-11-20T08:00:00+07:00"})
    states = ["received", "received", "approved", "has_issues", "edited"]
    records, revisions = [], []
    for i in range(n):
        data = (helped, settled, settled, away)[i % 4]
        rid, rev = str(uuid.uuid4()), str(uuid.uuid4())
        day, second = divmod(i, 1000)
        received = (
            f"2026-{9 + day // 30:02d}-{1 + day % 30:02d}T{second // 60 % 24:02d}:"
            f"{second % 60:02d}:{i % 60:02d}Z"
        )
        meta = json.dumps({"visit_date": received[:10], "started_at": received})
        records.append(
            (
                rid,
                rev,
                "99999",
                villages[i % len(villages)],
                households[i % len(households)] if i % 7 == 0 else None,
                "ho_gia_dinh_cds",
                "2026.11.1",
                data,
                meta,
                user,
                states[i % 5],
                received,
                received,
            )
        )
        revisions.append((rid, rev, "current", data, meta, user, received))
    with write_transaction(db):
        db.conn.executemany(
            "INSERT INTO records (id, rev, commune_id, village_id, household_id, form_id,"
            " form_version, data, meta, user_id, review_state, received_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            records,
        )
        db.conn.executemany(
            "INSERT INTO revisions (record_id, rev, status, data, meta, user_id, received_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            revisions,
        )
    db.execute("ANALYZE")


def timed(client: Any, url: str, repeats: int) -> tuple[float, float]:
    """Median and slowest time of a page, in milliseconds (after one warm-up request)."""
    assert client.get(url).status_code == 200, url
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, url
    return statistics.median(times), max(times)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "DATA_DIR": tmp,
                "DATABASE": f"{tmp}/gocua.db",
                "SECRET_KEY": "bench-only-key-" + "0" * 32,
            }
        )
        with connect(app.config["DATABASE"]) as db:
            load_default_form(db)
            admin = seed_demo(db)
            # The printed password must be changed at the first login; the pages come after.
            with write_transaction(db):
                db.execute("UPDATE users SET must_change_password = 0 WHERE username = 'admin'")
            start = time.perf_counter()
            bulk_insert(db, n)
            print(f"stored {n:,} records in {time.perf_counter() - start:.1f} s")
            deep = db.execute(
                "SELECT received_at || '~' || id FROM records"
                " ORDER BY received_at DESC, id DESC LIMIT 1 OFFSET ?",
                [n * 9 // 10],
            ).fetchone()[0]
            village = db.execute("SELECT id FROM villages ORDER BY name LIMIT 1").fetchone()[0]
            record_id = db.execute(
                "SELECT id FROM records WHERE household_id IS NOT NULL LIMIT 1 OFFSET ?", [n // 20]
            ).fetchone()[0]
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        assert admin is not None
        client.post(
            "/login", data={"username": "admin", "password": admin["password"], "csrf_token": token}
        )
        baseline, _ = timed(client, "/login", repeats)
        pages = [
            ("list, first page", "/"),
            (f"list, {n * 9 // 10:,} records deep", f"/?after={deep}"),
            ("list, one village + needs help", f"/?village={village}&needs_help=1"),
            (
                "list, has issues, a week",
                "/?state=has_issues&date_from=2026-10-01&date_to=2026-10-07",
            ),
            ("list, corrected, to re-review", "/?state=corrected"),
            ("record page", f"/records/{record_id}"),
        ]
        print(f"{'page':40} {'median ms':>10} {'max ms':>8} {'x baseline':>11}")
        print(f"{'baseline: login page':40} {baseline:10.1f}")
        for name, url in pages:
            median, worst = timed(client, url, repeats)
            print(f"{name:40} {median:10.1f} {worst:8.1f} {median / baseline:11.1f}")


if __name__ == "__main__":
    main()

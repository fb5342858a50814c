"""How the admin's pages and the login limits hold up when the audit log has grown.

Stores N audit entries (default 200,000) spread over 20 communes' staff, with failed logins
among them, and 500 phones. Times the audit log (first page and 100 pages deep, for a commune
admin and for a province admin), the phones page, and the failed-login count a login makes
(``login_wait``), against the login page as baseline, measured in the same run.

    .venv/bin/python bench/admin_audit.py [N_ENTRIES] [REPEATS]
"""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from werkzeug.security import generate_password_hash  # noqa: E402

from server import create_app  # noqa: E402
from server.domain.accounts import (
    add_user,
    login_wait,  # noqa: E402
)
from server.domain.db import connect, write_transaction  # noqa: E402
from server.domain.register import add_commune
from server.domain.seed import load_default_form, seed_demo  # noqa: E402

PASSWORD = "mat-khau-bench"
ACTIONS = [
    "view_record",
    "view_record",
    "view_record",
    "login",
    "review",
    "login_failed",
    "view_person",
    "enrollment_code",
    "export_records",
    "edit_record",
]


def fill(db: Any, n: int) -> None:
    fast = generate_password_hash(PASSWORD, method="scrypt:1024:8:1")
    with write_transaction(db):
        for c in range(20):
            code = f"{10000 + c}"
            add_commune(db, code, f"Xã Thử {c}", "99", "Tỉnh Minh Họa")
            for role in ("admin", "reviewer"):
                add_user(db, f"{role}.{c}", f"{role} {c}", role, code)
        add_user(db, "tinh", "Tỉnh", "admin", None, province_code="99")
        db.execute(
            "UPDATE users SET password_hash = ? WHERE username IN ('tinh', 'admin.3')", [fast]
        )
        users = db.execute("SELECT id, username FROM users WHERE role != 'volunteer'").fetchall()
        volunteer = add_user(db, "tnv.3", "Tình nguyện viên 3", "volunteer", "10003")["id"]
        db.conn.executemany(
            "INSERT INTO devices (id, user_id, token_hash, created_at, last_seen_at)"
            " VALUES (?, ?, ?, '2026-11-01T00:00:00Z', '2026-11-20T00:00:00Z')",
            [(str(uuid.uuid4()), volunteer, uuid.uuid4().hex) for _ in range(500)],
        )
        rows = []
        for i in range(n):
            user_id, username = users[i % len(users)]
            action = ACTIONS[i % len(ACTIONS)]
            at = f"2026-{6 + i * 3 // n:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z"
            rows.append(
                (
                    at,
                    None if action == "login_failed" else user_id,
                    username,
                    action,
                    str(uuid.uuid4()),
                    "",
                    f"10.0.{i % 250}.{i % 200}",
                )
            )
        # The log only grows, in time order, as it would in use.
        rows.sort()
        db.conn.executemany(
            "INSERT INTO audit_log (at, user_id, username, action, target,"
            " detail, ip) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    db.execute("ANALYZE")


def timed(call: Any, repeats: int) -> tuple[float, float]:
    """Median and slowest time, in milliseconds (after one warm-up call)."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


def page(client: Any, url: str, rows: bool = True) -> Any:
    def call() -> None:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        assert not rows or "<tr data-" in response.get_data(as_text=True), url

    return call


def logged_in(app: Any, username: str) -> Any:
    client = app.test_client()
    text = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)
    response = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, response.status_code
    return client


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
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
            seed_demo(db)
            start = time.perf_counter()
            fill(db, n)
            print(f"stored {n:,} audit entries in {time.perf_counter() - start:.1f} s")
        admin, province = logged_in(app, "admin.3"), logged_in(app, "tinh")
        shown = admin.get("/admin/audit?page=100").get_data(as_text=True).count("<tr data-action")
        assert shown == 50, shown  # commune 3 holds 200 pages of the log: page 100 is full
        baseline, _ = timed(page(app.test_client(), "/login", rows=False), repeats)
        rows = [
            ("audit log, commune admin, first page", page(admin, "/admin/audit")),
            ("audit log, commune admin, page 100", page(admin, "/admin/audit?page=100")),
            ("audit log, province admin, first page", page(province, "/admin/audit")),
            ("phones page, 500 phones", page(admin, "/admin/devices")),
        ]
        print(f"{'what':42} {'median ms':>10} {'max ms':>8} {'x baseline':>11}")
        print(f"{'baseline: login page':42} {baseline:10.1f}")
        for name, call in rows:
            median, worst = timed(call, repeats)
            print(f"{name:42} {median:10.1f} {worst:8.1f} {median / baseline:11.1f}")
        with app.test_request_context("/login"), connect(app.config["DATABASE"]) as db:
            median, worst = timed(lambda: login_wait(db, "admin.3", "10.0.3.3"), repeats)
        name = "failed-login count a login makes"
        print(f"{name:42} {median:10.1f} {worst:8.1f} {median / baseline:11.1f}")


if __name__ == "__main__":
    main()

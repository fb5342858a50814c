"""The staff map with N records that each hold a GPS point (default 10,000), on a real
`gocua serve`: the points endpoint (every page of 5,000 records, as the page reads it), and
the map page in Chromium from navigation to every point drawn and clustered (no tiles).

The baseline, measured in the same run, is the login page (a template, no query).

    .venv/bin/python -u bench/map_points.py [N_RECORDS] [REPEATS]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402

from schemas.form import Form  # noqa: E402
from server.domain import answers  # noqa: E402
from server.domain.db import connect, write_transaction  # noqa: E402
from tests.records import household_data  # noqa: E402
from tests.server_process import ServerProcess  # noqa: E402

PASSWORD = "mat-khau-cua-ban-do-bench"


def bulk_insert(db: Any, n: int) -> None:
    """N records of the default survey, each with a point in one of the commune's villages
    (spread over a province, as a sweep's would be)."""
    form = Form.load()
    villages = [r[0] for r in db.execute("SELECT id FROM villages ORDER BY name")]
    user = db.execute("SELECT id FROM users WHERE username = 'tnv.demo'").fetchone()[0]
    rng = random.Random(7)
    rows, revisions = [], []
    for i in range(n):
        lat, lon = 21.0 + rng.random() * 0.5, 105.5 + rng.random() * 0.6
        data = answers.pack(
            household_data(gps=f"{lat:.6f} {lon:.6f} 12 {rng.randint(3, 20)}", head_name=f"Hộ {i}")
        )
        rid, rev = str(uuid.uuid4()), str(uuid.uuid4())
        received = f"2026-11-{1 + i // 1000 % 28:02d}T{i // 60 % 24:02d}:{i % 60:02d}:00Z"
        meta = json.dumps({"visit_date": received[:10], "started_at": received})
        village = villages[i % len(villages)]
        rows.append(
            (rid, rev, "99999", village, form.form_id, form.version, data, meta, user, received)
        )
        revisions.append((rid, rev, "current", data, meta, user, received))
    with write_transaction(db):
        db.conn.executemany(
            "INSERT INTO records (id, rev, commune_id, village_id, form_id, form_version, data,"
            " meta, user_id, review_state, received_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'received', ?10, ?10)",
            rows,
        )
        db.conn.executemany(
            "INSERT INTO revisions (record_id, rev, status, data, meta, user_id, received_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            revisions,
        )


def login(base: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/login", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = session.post(
        f"{base}/login",
        data={"username": "bando.bench", "password": PASSWORD, "csrf_token": token},
        timeout=30,
        allow_redirects=False,
    )
    assert answer.status_code == 302, answer.text[:300]
    return session


def every_point(session: requests.Session, base: str) -> tuple[int, int]:
    """(points, bytes) of every page, as the map page reads them."""
    points, size, after = 0, 0, None
    while True:
        params = {"limit": "5000", **({"after": after} if after else {})}
        answer = session.get(f"{base}/reports/map/points", params=params, timeout=120)
        answer.raise_for_status()
        size += len(answer.content)
        body = answer.json()
        points += sum(len(r["points"]) for r in body["records"])
        after = body["next"]
        if not after:
            return points, size


def timed(repeats: int, run: Any) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return times, result


def in_chromium(base: str, cookies: dict[str, str], n: int, repeats: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_cookies([{"name": k, "value": v, "url": base} for k, v in cookies.items()])
        page = context.new_page()
        page.set_default_timeout(300_000)
        for _ in range(repeats):
            start = time.perf_counter()
            page.goto(f"{base}/reports/map")
            page.locator("#map[data-drawn]").wait_for(state="attached")
            page.locator(".leaflet-marker-icon").first.wait_for()
            times.append(time.perf_counter() - start)
            drawn = page.evaluate(
                "[...document.querySelectorAll('.cluster-count')].reduce((s, e) => s +"
                " Number(e.textContent), 0) + document.querySelectorAll('.map-point').length"
            )
            assert drawn == n, f"{drawn} points drawn of {n}"
        browser.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("n", type=int, nargs="?", default=10_000, help="points (records)")
    parser.add_argument("repeats", type=int, nargs="?", default=5, help="timed rounds")
    args = parser.parse_args()
    n, repeats = args.n, args.repeats
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "server").start()
        try:
            server.cli(
                "user",
                "add",
                "bando.bench",
                "--name",
                "Bench",
                "--role",
                "reviewer",
                "--commune",
                "99999",
            )
            with connect(server.data_dir / "gocua.db") as db:
                from server.domain.accounts import set_password

                with write_transaction(db):
                    user = db.execute(
                        "SELECT id FROM users WHERE username = 'bando.bench'"
                    ).fetchone()[0]
                    set_password(db, user, PASSWORD)
                    db.execute("UPDATE users SET must_change_password = 0 WHERE id = ?", [user])
                start = time.perf_counter()
                bulk_insert(db, n)
                print(f"stored {n:,} records with a point in {time.perf_counter() - start:.1f} s")
            session = login(server.base)
            login_times, _ = timed(repeats, lambda: session.get(f"{server.base}/login").text)
            point_times, (points, size) = timed(repeats, lambda: every_point(session, server.base))
            assert points == n, f"{points} points of {n}"
            draw_times = in_chromium(server.base, session.cookies.get_dict(), n, repeats)
        finally:
            server.stop()
    login_ms = statistics.median(login_times) * 1000
    print(f"{'what':<58} {'median':>9} {'min':>9}")
    rows = [
        ("login page (baseline)", login_times),
        (f"/reports/map/points, every page ({n:,} points, {size / 1e6:.1f} MB)", point_times),
        (f"map page in Chromium: navigation to {n:,} points clustered", draw_times),
    ]
    for label, times in rows:
        print(f"{label:<58} {statistics.median(times):>8.3f}s {min(times):>8.3f}s")
    print(
        f"points endpoint: {statistics.median(point_times) * 1000 / login_ms:.0f}× the login page;"
        f" {n / statistics.median(point_times):,.0f} points/s"
    )


if __name__ == "__main__":
    main()

"""How fast the reports answer on a province-sized database, and how much memory an export takes.

    .venv/bin/python -u bench/indicators.py [SCALE] [reports|exports]
    # SCALE 1 (the default) is the full province; 0.01 runs in seconds

1. Generates a province (SCALE x 600,000 households in 100 communes of 20 villages, about
   SCALE x 2,000,000 people in the surveyed households) by bulk inserts into a temporary
   SQLite file, then counts the indicators of every record with the real code (the facts the
   reports keep), and says how long each took.
2. Times the commune dashboard (target <= 1 s) and the province overview (target <= 1 s) as
   pages through the Flask app. Baseline, measured in the same run: counting one commune's
   indicators straight from its records, which is what the kept counts spare every page view.
3. Exports two single-commune databases (SCALE x 25,000 and SCALE x 100,000 households) through
   a real `gocua serve` process, XLSX and CSV, and reports the server's peak memory (VmHWM)
   for each: it must not grow with the number of households.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from schemas.form import Form  # noqa: E402
from schemas.indicators import indicator_set  # noqa: E402
from server import create_app
from server.domain import answers, migrations  # noqa: E402
from server.domain.accounts import add_user
from server.domain.db import connect, write_transaction  # noqa: E402
from server.domain.reports.facts import refresh_dirty  # noqa: E402
from server.domain.seed import load_default_form  # noqa: E402
from tests.server_process import ServerProcess  # noqa: E402

PASSWORD = "bench-password-123"
SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Lò", "Quàng"]
GIVEN = [
    "Văn An",
    "Thị Bình",
    "Văn Cường",
    "Thị Dung",
    "Minh Đức",
    "Thu Hà",
    "Quốc Huy",
    "Thị Lan",
    "Văn Nam",
    "Thị Oanh",
    "Hữu Phúc",
    "Thanh Tâm",
    "Ngọc Yến",
]
AGES = [3, 8, 12, 14, 15, 16, 17, 19, 24, 30, 35, 41, 47, 52, 58, 63, 69, 75, 82]


def member(rng: random.Random, head: bool) -> dict[str, Any]:
    age = rng.choice(AGES[4:] if head else AGES)
    out: dict[str, Any] = {
        "member_name": f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}",
        "relation": "head" if head else rng.choice(["spouse", "child", "grandchild", "parent"]),
        "sex": rng.choice(["male", "female"]),
        "birth_year": 2026 - age,
        "age": age,
        "answered_by": rng.choices(["self", "proxy", "absent"], [6, 3, 1])[0],
    }
    if out["answered_by"] == "absent" or age < 14:
        return out
    out["vneid_level"] = rng.choices(["level2", "level1", "none", "unknown"], [5, 2, 2, 1])[0]
    if out["vneid_level"] in ("level1", "level2"):
        out["vneid_login"] = rng.choice(["yes", "no"])
    if age < 15:
        return out
    accounts = rng.choice([["bank_app"], ["bank_no_app"], ["ewallet", "bank_app"], ["none"]])
    out.update(
        phone_access=rng.choice(["own_smartphone", "shared_smartphone", "basic_only"]),
        used_internet=rng.choice(["yes", "no"]),
        account_type=accounts,
        dvctt=rng.choice(["alone", "with_help", "no"]),
        health_book=rng.choice(["opens", "cannot_open", "no", "unknown"]),
        bought_online=rng.choice(["yes", "no"]),
        social_apps=["zalo"],
        bdhvs=rng.choice(["certified", "completed", "in_progress", "not_yet"]),
        needs_help=["none"],
        barriers=["none"],
        **{
            k: rng.choice(["alone", "with_help", "cannot"])
            for k in ("skill_apps_wifi", "skill_information", "skill_messaging", "skill_safety")
        },
    )
    if accounts != ["none"]:
        out["cashless_30d"] = rng.choice(["yes", "no"])
    if age >= 18:
        out["digital_signature"] = rng.choice(["yes", "no", "unknown"])
    return out


def household(rng: random.Random, size: int, surveyed: bool) -> dict[str, Any]:
    base = {
        "start": "2026-11-20T08:00:00+07:00",
        "age_vneid": 14,
        "age_account": 15,
        "age_adult": 18,
        "consent_notice_version": "2026-1",
    }
    if not surveyed:
        return {**base, "outcome": rng.choice(["nobody_home", "refused", "empty_house"])}
    members = [member(rng, i == 0) for i in range(size)]
    internet = rng.choices(["fibre", "mobile_only", "none"], [6, 3, 1])[0]
    data = {
        **base,
        "outcome": "completed",
        "consent": "yes",
        "respondent_name": members[0]["member_name"],
        "head_name": members[0]["member_name"],
        "address": f"Số {rng.randint(1, 200)}, ngõ {rng.randint(1, 30)}",
        "phone": f"09{rng.randint(10_000_000, 99_999_999)}",
        "residents": size,
        "devices": ["smartphone"],
        "internet": internet,
        "zalo_group": "yes",
        "sells_online": "no",
        "members": members,
        "support_given": "no",
    }
    if internet == "none":
        data["no_internet_reason"] = ["cost"]
    return data


def generate(
    path: Path,
    communes: int,
    villages_per_commune: int,
    households_per_village: int,
    persons: int,
    seed: int = 1,
) -> dict[str, int]:
    """Bulk-insert a province into a fresh database file; returns what it made."""
    db = connect(path)
    migrations.apply(db)
    load_default_form(db)
    form = Form.load()
    rng = random.Random(seed)
    households = communes * villages_per_commune * households_per_village
    surveyed_share = 0.94
    mean_size = persons / (households * surveyed_share)
    made = {"households": 0, "records": 0, "persons": 0}
    db.execute("PRAGMA synchronous=OFF")
    db.conn.execute("BEGIN")
    # The demo commune's code taken: `gocua serve` then seeds no demo data into the bench.
    db.conn.execute(
        "INSERT INTO communes (id, name, province_code, province_name, created_at)"
        " VALUES ('99999', 'Xã Minh Họa', '99', 'Tỉnh Minh Họa', 'now')"
    )
    for c in range(communes):
        commune_id = f"98{c:03d}"
        db.conn.execute(
            "INSERT INTO communes (id, name, province_code, province_name,"
            " created_at) VALUES (?, ?, '98', 'Tỉnh Thử Nghiệm', 'now')",
            [commune_id, f"Xã Thử {c + 1:03d}"],
        )
        for v in range(villages_per_commune):
            village_id = f"{commune_id}-v{v:02d}"
            db.conn.execute(
                "INSERT INTO villages (id, commune_id, name, active, created_at)"
                " VALUES (?, ?, ?, 1, 'now')",
                [village_id, commune_id, f"Thôn {v + 1:02d}"],
            )
            user_id = db.conn.execute(
                "INSERT INTO users (commune_id, username, display_name, role, created_at)"
                " VALUES (?, ?, ?, 'volunteer', 'now')",
                [commune_id, f"tnv-{village_id}", f"Tổ viên {village_id}"],
            ).lastrowid
            house_rows, record_rows = [], []
            for h in range(households_per_village):
                hid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                house_rows.append(
                    (
                        hid,
                        commune_id,
                        village_id,
                        f"B{made['households']:08d}",
                        "",
                        "",
                        "now",
                        "now",
                    )
                )
                made["households"] += 1
                visits = 2 if h % 20 == 0 else 1  # one household in twenty was visited twice
                for visit in range(visits):
                    surveyed = rng.random() < surveyed_share
                    size = max(1, min(10, round(rng.gauss(mean_size, 1.4))))
                    data = household(rng, size, surveyed)
                    made["persons"] += len(data.get("members", ()))
                    day = f"2026-{9 + visit + rng.randint(0, 2):02d}-{rng.randint(1, 28):02d}"
                    state = rng.choices(
                        ["approved", "received", "has_issues", "rejected"], [6, 3, 1, 0.2]
                    )[0]
                    record_rows.append(
                        (
                            str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                            "r1",
                            commune_id,
                            village_id,
                            hid,
                            form.form_id,
                            form.version,
                            answers.pack(data),
                            json.dumps({"visit_date": day}),
                            user_id,
                            state,
                            f"{day}T10:00:00Z",
                        )
                    )
                    made["records"] += 1
            db.conn.executemany(
                "INSERT INTO households (id, commune_id, village_id, code,"
                " head_name, address, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                house_rows,
            )
            db.conn.executemany(
                "INSERT INTO records (id, rev, commune_id, village_id, household_id, form_id,"
                " form_version, data, meta, device_id, user_id, review_state, received_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?)",
                [(*r, r[-1]) for r in record_rows],
            )
    db.conn.execute("COMMIT")
    db.execute("PRAGMA synchronous=NORMAL")
    db.close()
    return made


def timed(fn: Any, repeat: int = 5) -> tuple[float, float]:
    """(first call, median of the next ``repeat``) in seconds."""
    start = time.perf_counter()
    fn()
    first = time.perf_counter() - start
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return first, statistics.median(runs)


def login(client: Any, username: str) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, response.status_code


def bench_reports(scale: float, work: Path) -> None:
    communes = max(1, round(100 * scale))
    per_village = max(1, round(600_000 * scale / (communes * 20)))
    path = work / "province" / "gocua.db"
    start = time.perf_counter()
    made = generate(path, communes, 20, per_village, round(2_000_000 * scale))
    generated = time.perf_counter() - start
    print(
        f"province: {communes} communes x 20 villages x {per_village} households"
        f" = {made['households']:,} households, {made['records']:,} records,"
        f" {made['persons']:,} people in surveyed households"
    )
    print(f"  generation (bulk inserts):      {generated:8.1f} s")
    db = connect(path)
    start = time.perf_counter()
    counted = refresh_dirty(db)
    facts = time.perf_counter() - start
    print(
        f"  indicator facts for {counted:,} records: {facts:8.1f} s"
        f" ({counted / facts:,.0f} records/s, the real code)"
    )
    with write_transaction(db):
        add_user(db, "bench.reviewer", "Bench", "reviewer", "98000", password=PASSWORD)
        add_user(
            db, "bench.province", "Bench", "admin", None, password=PASSWORD, province_code="98"
        )
    one_commune = db.execute(
        "SELECT count(*) AS records,"
        " sum(json_array_length(answers(data), '$.members')) AS people"
        " FROM records WHERE commune_id = '98000'"
    ).fetchone()

    def naive() -> None:
        # The baseline: count one commune's indicators straight from its records.
        form, indicators = Form.load(), indicator_set("ho_gia_dinh_cds")
        for data, meta in db.execute("SELECT data, meta FROM records WHERE commune_id = '98000'"):
            indicators.compute(form, answers.load(data), json.loads(meta)["visit_date"])

    app = create_app(
        {
            "DATA_DIR": str(path.parent),
            "DATABASE": str(path),
            "SECRET_KEY": "bench-only-key-" + "0" * 32,
        }
    )
    commune_client, province_client = app.test_client(), app.test_client()
    login(commune_client, "bench.reviewer")
    login(province_client, "bench.province")

    def page(client: Any, url: str) -> None:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)

    start = time.perf_counter()
    naive()
    base = time.perf_counter() - start
    dash = timed(lambda: page(commune_client, "/reports/"))
    dash_village = timed(lambda: page(commune_client, "/reports/?village=98000-v00&approved=1"))
    api = timed(lambda: page(commune_client, "/reports/api/indicators"))
    overview = timed(lambda: page(province_client, "/reports/province"))
    rid = db.execute("SELECT id FROM records WHERE commune_id = '98000' LIMIT 1").fetchone()[0]

    def after_a_review() -> None:
        with write_transaction(db):
            db.execute("UPDATE records SET review_state = 'approved' WHERE id = ?", [rid])
        page(commune_client, "/reports/")

    changed = timed(after_a_review)
    print(f"one commune: {one_commune['records']:,} records, {one_commune['people']:,} people")
    print(
        f"  baseline: counting the commune from its records {base:6.3f} s,"
        f" the province {facts:6.1f} s (above)"
    )
    for name, (first, median), baseline in (
        ("commune dashboard (page)", dash, base),
        ("village dashboard, approved only", dash_village, base),
        ("commune indicators (JSON API)", api, base),
        ("dashboard right after a review", changed, base),
        ("province overview (page)", overview, facts),
    ):
        print(
            f"  {name:34s} first {first:6.3f} s, median {median:6.3f} s"
            f"  (target <= 1 s; {baseline / median:,.0f}x faster than the baseline)"
        )
    db.close()


def peak_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))


def bench_export(households: int, work: Path) -> None:
    """Each export in a fresh server process, so that its peak memory is its own."""
    data_dir = work / f"export-{households}"
    villages = 20
    made = generate(
        data_dir / "gocua.db",
        1,
        villages,
        max(1, households // villages),
        round(households * 3.33),
        seed=households,
    )
    db = connect(data_dir / "gocua.db")
    with write_transaction(db):
        add_user(db, "bench.admin", "Bench", "admin", "98000", password=PASSWORD)
    db.close()
    print(
        f"export of {made['households']:,} households ({made['records']:,} records,"
        f" {made['persons']:,} people), each through a fresh `gocua serve`:"
    )
    for url in (
        "/reports/export/members.csv?commune=98000",
        "/reports/export.xlsx?commune=98000",
        "/reports/export.xlsx?commune=98000&pseudo=1&labels=1",
    ):
        server = ServerProcess(data_dir).start()
        try:
            session = requests.Session()
            page = session.get(f"{server.base}/login").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
            session.post(
                f"{server.base}/login",
                data={"username": "bench.admin", "password": PASSWORD, "csrf_token": token},
            )
            assert server.proc is not None
            before = peak_kb(server.proc.pid)
            start = time.perf_counter()
            size = 0
            with session.get(server.base + url, stream=True, timeout=3600) as response:
                assert response.status_code == 200, response.status_code
                for chunk in response.iter_content(1 << 16):
                    size += len(chunk)
            seconds = time.perf_counter() - start
            after = peak_kb(server.proc.pid)
        finally:
            server.stop()
        print(
            f"  {url.split('?')[0]:26s} {url.partition('&')[2] or 'codes':20s}"
            f" {seconds:6.1f} s, {size / 1e6:6.1f} MB; server peak memory"
            f" {before / 1024:4.0f} MB before, {after / 1024:4.0f} MB after"
        )


def main() -> None:
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    parts = sys.argv[2:] or ["reports", "exports"]  # e.g. `... 1 exports` for one part
    with tempfile.TemporaryDirectory(prefix="gocua-bench-") as tmp:
        work = Path(tmp)
        if "reports" in parts:
            bench_reports(scale, work)
        if "exports" in parts:
            for households in (round(25_000 * scale), round(100_000 * scale)):
                bench_export(max(households, 200), work)
                shutil.rmtree(work / f"export-{max(households, 200)}")


if __name__ == "__main__":
    main()

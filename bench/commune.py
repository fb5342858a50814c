"""A province-scale commune for the benches, built fast and kept on disk between runs.

Pushing a million records through the API takes hours; the benches that need a commune that
size (``dashboard.py``, ``storage_size.py``, ``stored_ingest.py``) take it from here instead:

- the default survey and the demo commune (``seed_demo``: two of its three villages are the
  volunteer's), a reviewer ``bench.reviewer`` and one enrolled phone of ``tnv.demo``;
- N register households over the volunteer's villages: the statements ``add_household`` runs
  for each (its row, the register count and outbox rows its triggers keep, its change in the
  pull feed), ``executemany`` in transactions of 50,000;
- N records, one a household, each a completed visit to a household of four (three adults and
  a child, answers varied within what the survey accepts), written by the records store's own
  push path (``sync.protocol.load_record``, then ``store.store_pushed``: records, revisions,
  follow-ups, every trigger and index) in transactions of 20,000. Only the answers' check is
  left out: it changes nothing stored, and a record that would fail it is never generated;
- optionally every record's indicator facts counted (``refresh_dirty``, 20,000 records a
  transaction; each distinct set of answers computed once: the benches read sums, they do not
  time making them).

``tests/unit/test_bench_commune.py`` finds every table the same as ``add_household`` one at a
time makes and as the same items pushed through the HTTP API in batches of 20 store. While
building, the file has no journal on disk, no fsync and a 1 GiB page cache (``BUILD_PRAGMAS``);
it ends in WAL mode as the server keeps it.

How long a build takes (the machine's 2 cores shared, the build at ``nice -n 19``): 100,000
records 3 s of households, 138 s of records, 50 s of facts (load average 5.5; one household
and one transaction of 2,000 records at a time took 592, 853 and 169 s); a million 108 s, 3,026 s
and 764 s, 65 minutes in all, with other work keeping the load average at 12 to 18 (the build
got about a quarter of a core: some 17 minutes of CPU time, so about 20 minutes on a core of
its own, an estimate).

The database is built once per (code, N, counted) and kept under ``BENCH_CACHE`` (default
``~/.cache/gocua-bench``), keyed by the code's schema (the SQL of a freshly migrated database)
and the sources of what writes a pushed record, so a commit that changes either builds anew.
A bench gets its own copy (a million records: about 4 GB). ``tree``: another commit's code
(``bench/trees.py``), built in a process of its own with that code first on the path.

    nice -n 19 .venv/bin/python -u bench/commune.py N [--uncounted]   # build (or find) it
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
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
BUILDER_VERSION = "3"
REVIEWER = "bench.reviewer"
PASSWORD = "bench-password-123"
# Records a write transaction while building (the server writes a batch of 20 a transaction:
# what is stored is the same, a million commits are not) and households.
CHUNK = 20_000
REGISTER_CHUNK = 50_000
CODE_LETTERS = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Lò", "Quàng"]
GIVEN = ["Văn An", "Thị Bình", "Văn Cường", "Thị Dung", "Minh Đức", "Thu Hà", "Quốc Huy"]
# What writes a pushed record: a change to any of these builds the commune anew (and a change
# to what this file builds, BUILDER_VERSION).
WRITE_PATH = [
    "server/domain/answers.py",
    "server/domain/feeds.py",
    "server/domain/answers_dictionary_1.json",
    "server/domain/records/store.py",
    "server/domain/followups.py",
    "server/domain/register.py",
    "server/domain/reports/facts.py",
    "sync/protocol.py",
    "schemas/forms/ho_gia_dinh_cds.json",
]


# A build writes one file nobody else reads, from scratch: no journal on disk, no fsync, and a
# page cache (1 GiB) that holds the indexes a million random keys land in, which the default
# 2 MB made a read from disk each. A build cut off leaves no done.json and is built again.
# None of these is kept in the file: what is built is what the server would have written.
BUILD_PRAGMAS = (
    "journal_mode=MEMORY",
    "synchronous=OFF",
    "cache_size=-1048576",
    "temp_store=MEMORY",
)


def building(path: Path) -> Any:
    """The database at ``path`` opened as the server opens it, then set for a build."""
    from server.domain.db import connect

    db = connect(path)
    for pragma in BUILD_PRAGMAS:
        db.execute(f"PRAGMA {pragma}")
    return db


def built(db: Any) -> None:
    """Close a build's database, in WAL mode as the server keeps it (the file remembers)."""
    db.execute("PRAGMA journal_mode=WAL")
    db.close()


def cache_folder() -> Path:
    return Path(os.environ.get("BENCH_CACHE") or Path.home() / ".cache" / "gocua-bench")


def name(rng: random.Random) -> str:
    return f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)}"


def household_answers(rng: random.Random, adults: int = 3) -> dict[str, Any]:
    """A completed, consented visit to a household of four: three adults and a child (or
    ``adults`` adults, the others children), their answers varied within what the default
    survey accepts."""
    from tests.records import adult, child, household_data

    members = []
    relations = ["head", "spouse", rng.choice(["parent", "child"])]
    for i, relation in enumerate(relations[:adults]):
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
    for _ in range(4 - len(members)):
        members.append(child(name(rng), rng.randint(2013, 2024)))
    head = members[0]["member_name"]
    return household_data(
        members,
        respondent_name=head,
        head_name=head,
        address=f"Số {rng.randint(1, 200)}, ngõ {rng.randint(1, 30)}",
        internet=rng.choice(["fibre", "mobile_only"]),
    )


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


# The moment the first record's id was made; each next one a minute later: the records arrive in
# the order their phones made them, as a commune's days of visits are pushed.
FIRST_ID_MS = 1_790_000_000_000


def items(
    households: list[tuple[str, str]], device_id: str, seed: int = 16, pool: int = 500
) -> Any:
    """One pushed item per register household ``(id, village)``, as a phone sends them: the
    same items for the same households and seed. Answers come from ``pool`` generated
    households (a commune's answers repeat; generating a million would take longer than
    storing them), visit dates over October and November."""
    from schemas.form import Form
    from tests.records import phone_id, record

    rng = random.Random(seed)
    answers = [household_answers(rng) for _ in range(pool)]
    form = Form.load()
    for index, (hid, village) in enumerate(households):
        day = f"2026-{rng.choice(['10', '11'])}-{rng.randint(1, 28):02d}"
        made = FIRST_ID_MS + index * 60_000
        item = record(
            village,
            hid,
            data=answers[rng.randrange(pool)],
            form=form,
            id=phone_id(made, rng.getrandbits(80)),
            rev=phone_id(made, rng.getrandbits(80)),
        )
        item["meta"] = {
            "started_at": f"{day}T01:00:00Z",
            "visit_date": day,
            "device_id": device_id,
        }
        yield item


def register(db: Any, villages: list[str], count: int, seed: int) -> list[tuple[str, str]]:
    """``count`` register households over ``villages`` in turn: ``(id, village)``.

    The statements ``register.add_household`` makes for each (its row, the register count and
    outbox its triggers keep, its change in the pull feed), run in transactions of REGISTER_CHUNK
    with ``executemany``: one at a time, through sqlite_utils' introspection, a million took
    most of an hour. ``tests/unit/test_bench_commune.py`` finds every table the same as
    ``add_household``'s. A new household has no older change for the feed to drop
    (``feeds.LATEST_ONLY``), so that DELETE is left out. Ids and codes come from ``seed``: the
    same build each time."""
    from server.domain.db import now_iso, write_transaction
    from server.domain.followups import household_payload

    rng = random.Random(seed)
    communes = dict(db.execute("SELECT id, commune_id FROM villages").fetchall())
    codes = {r[0] for r in db.execute("SELECT code FROM households")}
    households = []
    for first in range(0, count, REGISTER_CHUNK):
        rows = []
        now = now_iso()
        for i in range(first, min(count, first + REGISTER_CHUNK)):
            village = villages[i % len(villages)]
            code = _household_code(rng, codes)
            rows.append(
                {
                    "id": _uuid(rng),
                    "commune_id": communes[village],
                    "village_id": village,
                    "code": code,
                    "head_name": name(rng),
                    "address": f"Số {i % 500}, ngõ {i % 40}",
                    "created_at": now,
                    "updated_at": now,
                }
            )
        with write_transaction(db):
            # followups.register_put's INSERT, in the same order as the households, then the
            # households with their put's seq (households.put), as register.add_household.
            before = db.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0]
            db.conn.executemany(
                "INSERT INTO changes (commune_id, village_id, user_id, kind, entity_id, op,"
                " payload, created_at) VALUES (?, ?, NULL, 'household', ?, 'put', ?, ?)",
                [
                    (
                        row["commune_id"],
                        row["village_id"],
                        row["id"],
                        json.dumps(
                            household_payload(row), ensure_ascii=False, separators=(",", ":")
                        ),
                        now,
                    )
                    for row in rows
                ],
            )
            puts = dict(
                db.execute("SELECT entity_id, seq FROM changes WHERE seq > ?", [before]).fetchall()
            )
            # (A base commit's schema from before m021 keeps no seq.)
            kept = "put" in {c[1] for c in db.execute("PRAGMA table_info(households)")}
            db.conn.executemany(
                "INSERT INTO households (id, commune_id, village_id, code, head_name, address,"
                " created_at, updated_at" + (", put" if kept else "") + ") VALUES (:id,"
                " :commune_id, :village_id, :code, :head_name, :address, :created_at,"
                " :updated_at" + (", :put" if kept else "") + ")",
                [{**row, "put": puts[row["id"]]} for row in rows],
            )
        households += [(row["id"], row["village_id"]) for row in rows]
    return households


def _household_code(rng: random.Random, taken: set[str]) -> str:
    # As register._household_code makes them: printable on a QR label, unique.
    while True:
        code = "H" + "".join(rng.choice(CODE_LETTERS) for _ in range(6))
        if code not in taken:
            taken.add(code)
            return code


def setup(db: Any, n: int, seed: int = 16) -> dict[str, Any]:
    """The survey, the demo commune, N register households, a reviewer and an enrolled phone
    (everything but the records); what the benches need to know of them."""
    from server.domain import migrations
    from server.domain.accounts import add_user
    from server.domain.db import write_transaction
    from server.domain.devices import enroll, new_code
    from server.domain.seed import DEMO_VOLUNTEER, load_default_form, seed_demo

    migrations.apply(db)
    load_default_form(db)
    seed_demo(db)
    user_id, commune_id = db.execute(
        "SELECT id, commune_id FROM users WHERE username = ?", [DEMO_VOLUNTEER]
    ).fetchone()
    villages = [
        r[0]
        for r in db.execute(
            "SELECT village_id FROM user_villages WHERE user_id = ? ORDER BY village_id",
            [user_id],
        )
    ]
    with write_transaction(db):
        add_user(db, REVIEWER, "Bench", "reviewer", commune_id, password=PASSWORD)
        code = new_code(db, user_id)
    phone = enroll(db, code)
    return {
        "commune_id": commune_id,
        "user_id": user_id,
        "villages": villages,
        "device_id": phone["device_id"],
        "token": phone["token"],
        "households": register(db, villages, n, seed),
    }


def store_records(db: Any, info: dict[str, Any], seed: int = 16) -> None:
    """A record for each register household, written by the records store's push path, then
    the register's puts they replaced deleted from the feed, as a quiet server does."""
    from server.domain.db import now_iso, write_transaction
    from server.domain.devices import device_for_token
    from server.domain.records import store
    from sync.protocol import load_record

    caller = {**device_for_token(db, info["token"], touch=False), "kind": "device"}
    pending = items(info["households"], info["device_id"], seed)
    done = False
    while not done:
        with write_transaction(db):
            now = now_iso()
            for _ in range(CHUNK):
                item = next(pending, None)
                if item is None:
                    done = True
                    break
                store.store_pushed(db, caller, load_record(item), None, True, now)
            # As a push notes the phone's last sync.
            db.execute("UPDATE devices SET last_seen_at = ? WHERE id = ?", [now, caller["id"]])
    sweep_replaced_puts(db)


def add_households(db: Any, info: dict[str, Any], count: int, seed: int) -> list[tuple[str, str]]:
    """``count`` more register households over the volunteer's villages: ``(id, village)``."""
    return register(db, info["villages"], count, seed)


def more_records(db: Any, info: dict[str, Any], count: int, seed: int) -> None:
    """``count`` more register households, each with its record: a sync's worth of news."""
    households = add_households(db, info, count, seed)
    store_records(db, {**info, "households": households}, seed)


def sweep_replaced_puts(db: Any) -> None:
    """The register's puts the visits replaced, deleted from the feed as a server does once no
    phone is syncing (``feeds.sweep_replaced``; a commit from before it deleted each as the
    visit replaced it)."""
    from server.domain import feeds
    from server.domain.db import write_transaction

    sweep = getattr(feeds, "sweep_replaced", None)
    if sweep is None:
        return
    with write_transaction(db):
        while sweep(db, CHUNK):
            pass


def count_facts(db: Any) -> None:
    """Every record's indicator facts, each distinct set of answers computed once."""
    import schemas.indicators as indicator_files
    from server.domain.reports.facts import refresh_dirty

    compute = indicator_files.IndicatorSet.compute
    seen: dict[tuple[str, str], Any] = {}

    def cached(self: Any, form: Any, data: Any, visit_date: str) -> Any:
        key = (json.dumps(data, sort_keys=True), visit_date)
        if key not in seen:
            seen[key] = compute(self, form, data, visit_date)
        return seen[key]

    indicator_files.IndicatorSet.compute = cached
    try:
        refresh_dirty(db, batch=CHUNK)
    finally:
        indicator_files.IndicatorSet.compute = compute


def schema_key(code: Path) -> str:
    """What makes two builds the same: the schema this code migrates to and its write path."""
    from server.domain import migrations
    from server.domain.db import connect

    digest = hashlib.sha256(BUILDER_VERSION.encode())
    with tempfile.TemporaryDirectory() as folder:
        db = connect(Path(folder) / "schema.db")
        migrations.apply(db)
        for row in db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name"):
            digest.update(repr(tuple(row)).encode())
        db.close()
    for path in WRITE_PATH:
        file = code / path
        digest.update(path.encode() + (file.read_bytes() if file.exists() else b"-"))
    return digest.hexdigest()[:16]


def build(folder: Path, n: int, counted: bool) -> dict[str, Any]:
    """Build the commune in ``folder`` with the code first on sys.path; its figures."""
    db = building(folder / "gocua.db")
    start = time.perf_counter()
    info = setup(db, n)
    registered = time.perf_counter() - start
    start = time.perf_counter()
    store_records(db, info)
    stored = time.perf_counter() - start
    start = time.perf_counter()
    if counted:
        count_facts(db)
    facts = time.perf_counter() - start
    built(db)
    del info["households"]
    return {
        **info,
        "n": n,
        "counted": counted,
        "register_s": registered,
        "store_s": stored,
        "count_s": facts,
    }


def _in_process(code: Path, *args: str) -> str:
    """This script in a process of its own with ``code``'s server first on the path."""
    env = {**os.environ, "PYTHONPATH": f"{code}{os.pathsep}{ROOT}"}
    return subprocess.run(
        [sys.executable, __file__, *args, "--code", str(code)],
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        cwd=code,
    ).stdout.strip()


def commune(into: Path, n: int, *, code: Path = ROOT, counted: bool = True) -> dict[str, Any]:
    """A copy of the cached commune of N records (built first when missing) as
    ``into/gocua.db``; what ``build`` said of it (token, villages, build times, ``cached``)."""
    key = _in_process(code, "--key").splitlines()[-1]
    place = cache_folder() / f"{key}-{n}{'' if counted else '-uncounted'}"
    cache_folder().mkdir(parents=True, exist_ok=True)
    with (cache_folder() / f"{place.name}.lock").open("w") as lock:
        # Two benches at once wait for one build instead of both building the same folder.
        fcntl.flock(lock, fcntl.LOCK_EX)
        cached = (place / "done.json").exists()
        if not cached:
            shutil.rmtree(place, ignore_errors=True)
            place.mkdir(parents=True)
            args = [str(n), "--build", str(place), *([] if counted else ["--uncounted"])]
            figures = _in_process(code, *args).splitlines()[-1]
            (place / "done.json").write_text(figures)
    info = json.loads((place / "done.json").read_text())
    into.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(place / "gocua.db", into / "gocua.db")
    # On disk before anything is timed: a million records' copy (4 GB) otherwise goes on being
    # written back under the first measurements, and the server's own fsyncs wait behind it.
    with (into / "gocua.db").open("rb+") as copy:
        os.fsync(copy.fileno())
    return {**info, "cached": cached, "key": key}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=1000)
    parser.add_argument("--uncounted", action="store_true", help="no indicator facts counted")
    parser.add_argument("--build", help=argparse.SUPPRESS)
    parser.add_argument("--key", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--code", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.code:
        sys.path.insert(0, args.code)
    if args.key:
        print(schema_key(Path(args.code or ROOT)))
        return
    if args.build:
        print(json.dumps(build(Path(args.build), args.n, not args.uncounted)))
        return
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        info = commune(Path(folder), args.n, counted=not args.uncounted)
        print(
            f"{args.n:,} records (key {info['key']}, {'cached' if info['cached'] else 'built'},"
            f" copied in {time.perf_counter() - start:.0f} s): register {info['register_s']:.0f} s,"
            f" records {info['store_s']:.0f} s, facts {info['count_s']:.0f} s;"
            f" load average {os.getloadavg()[0]:.2f}"
        )
        print(f"  kept in {cache_folder()}")


if __name__ == "__main__":
    main()

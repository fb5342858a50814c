"""The benches' fast commune (bench/commune.py) stores exactly what the register and the sync
API store for the same households and pushed records: otherwise its figures would be about some
other database. Its chunks are made small here, so that the tests cross their edges."""

from __future__ import annotations

import json
import re
import sqlite3
import sys
from pathlib import Path
from typing import Any

from server import create_app
from server.domain.db import connect, write_transaction
from server.domain.register import add_household
from tests.conftest import config

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import commune  # noqa: E402

BATCH = 20
# Times differ between the two ways (each writes its own "now"), and nothing else may.
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def copy(source: Path, target: Path) -> None:
    target.mkdir()
    into, out = sqlite3.connect(source), sqlite3.connect(target / "gocua.db")
    try:
        into.backup(out)
    finally:
        into.close()
        out.close()


def contents(path: Path, names: dict[str, str] | None = None) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows (times masked, and each text of ``names`` wherever it appears
    replaced by its name), in a stable order."""
    names = names or {}
    pattern = re.compile("|".join(map(re.escape, names)) or "(?!)")

    def masked(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if STAMP.match(value):
            return "T"
        return pattern.sub(lambda m: names[m.group(0)], value)

    db = sqlite3.connect(path)
    try:
        tables = [
            r[0]
            for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite_stat%' ORDER BY name"
            )
        ]
        return {
            table: sorted(
                (
                    tuple(masked(v) for v in row)
                    for row in db.execute(f'SELECT * FROM "{table}"')  # noqa: S608 -- names above
                ),
                key=repr,
            )
            for table in tables
        }
    finally:
        db.close()


def set_up_twice(tmp_path: Path, households: int, *folders: str) -> dict[str, Any]:
    """The bench commune's set-up (``households`` in its register), copied into each folder."""
    base = tmp_path / "base"
    base.mkdir()
    db = connect(base / "gocua.db")
    info = commune.setup(db, households)
    db.close()
    for folder in folders:
        copy(base / "gocua.db", tmp_path / folder)
    return info


def test_the_bench_commune_registers_households_as_the_register_does(tmp_path, monkeypatch):
    monkeypatch.setattr(commune, "REGISTER_CHUNK", 7)
    info = set_up_twice(tmp_path, 0, "bulk", "one")

    db = commune.building(tmp_path / "bulk" / "gocua.db")
    (seeded,) = db.execute("SELECT max(rowid) FROM households").fetchone()
    made = commune.register(db, info["villages"], 30, seed=3)
    made += commune.register(db, info["villages"], 5, seed=4)
    listed = db.execute(
        "SELECT id, code, village_id, head_name, address FROM households WHERE rowid > ?"
        " ORDER BY rowid",
        [seeded],
    ).fetchall()
    commune.built(db)
    assert [(r[0], r[2]) for r in listed] == made
    assert len({r[1] for r in listed}) == 35

    # The register's own way, one household at a time (the admin's import adds each so).
    db = connect(tmp_path / "one" / "gocua.db")
    with write_transaction(db):
        ones = [add_household(db, r[2], r[3], r[4]) for r in listed]
    db.close()

    # Ids and codes are random either way: each pair is named by its place in the register.
    bulk_names, one_names = {}, {}
    for i, (row, one) in enumerate(zip(listed, ones, strict=True)):
        bulk_names |= {row[0]: f"household-{i}", row[1]: f"code-{i}"}
        one_names |= {one["id"]: f"household-{i}", one["code"]: f"code-{i}"}
    bulk = contents(tmp_path / "bulk" / "gocua.db", bulk_names)
    one = contents(tmp_path / "one" / "gocua.db", one_names)
    assert len(bulk["households"]) == seeded + 35
    assert len(bulk["changes"]) > 35
    assert bulk.keys() == one.keys()
    for table in bulk:
        assert bulk[table] == one[table], table
    db = sqlite3.connect(tmp_path / "bulk" / "gocua.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_the_bench_commune_stores_what_a_push_through_the_api_stores(tmp_path, monkeypatch):
    monkeypatch.setattr(commune, "CHUNK", 20)
    info = set_up_twice(tmp_path, 45, "bulk", "api")

    db = commune.building(tmp_path / "bulk" / "gocua.db")
    commune.store_records(db, info)
    commune.built(db)

    client = create_app(config(tmp_path / "api")).test_client()
    headers = {"Authorization": f"Bearer {info['token']}"}
    pushed = list(commune.items(info["households"], info["device_id"]))
    for first in range(0, len(pushed), BATCH):
        # Encoded as a phone encodes it (the test client's json= would sort the keys).
        body = json.dumps({"items": pushed[first : first + BATCH]}, ensure_ascii=False)
        response = client.post(
            "/api/v1/sync/push",
            data=body.encode(),
            content_type="application/json",
            headers=headers,
        )
        assert response.status_code == 200
        assert {r["status"] for r in response.get_json()["results"]} == {"applied"}

    bulk = contents(tmp_path / "bulk" / "gocua.db")
    api = contents(tmp_path / "api" / "gocua.db")
    assert len(bulk["records"]) == len(bulk["revisions"]) == 45
    db = connect(tmp_path / "bulk" / "gocua.db")
    sizes = {
        r[0]
        for r in db.execute("SELECT json_array_length(answers(data), '$.members') FROM records")
    }
    db.close()
    assert sizes == {4}, "each record is a household of four"
    assert bulk.keys() == api.keys()
    for table in bulk:
        assert bulk[table] == api[table], table

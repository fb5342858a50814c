"""The benches' fast commune (bench/commune.py) stores exactly what the sync API stores for the
same pushed records: otherwise its figures would be about some other database."""

from __future__ import annotations

import json
import re
import sqlite3
import sys
from pathlib import Path
from typing import Any

from server import create_app
from server.domain.db import connect
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


def contents(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows (times masked), in a stable order."""
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
                    tuple("T" if isinstance(v, str) and STAMP.match(v) else v for v in row)
                    for row in db.execute(f'SELECT * FROM "{table}"')  # noqa: S608 -- names above
                ),
                key=repr,
            )
            for table in tables
        }
    finally:
        db.close()


def test_the_bench_commune_stores_what_a_push_through_the_api_stores(tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    db = connect(base / "gocua.db")
    info = commune.setup(db, 45)
    db.close()
    copy(base / "gocua.db", tmp_path / "bulk")
    copy(base / "gocua.db", tmp_path / "api")

    db = connect(tmp_path / "bulk" / "gocua.db")
    commune.store_records(db, info)
    db.close()

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

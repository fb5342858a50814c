"""Upstream replication of N records: a commune database (records written straight in by bulk
INSERT, every trigger firing, so the outbox holds them) sent to a real province ``gocua serve``
with ``replicate()`` -- the code behind ``gocua sync push`` -- in batches of 100, each record
validated again on the province. Then a second run, which must send nothing.

Baseline, measured in the same run: sqlite-utils ``insert_all`` of the same rows into a bare
table in one transaction.

    .venv/bin/python bench/sync_upstream.py [N]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.sync_push import prestore, raw_insert_rate  # noqa: E402
from server.domain.db import connect  # noqa: E402
from server.domain.replication import replicate  # noqa: E402
from sync.client import SyncClient  # noqa: E402
from tests.server_process import ServerProcess  # noqa: E402


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as folder:
        commune = ServerProcess(Path(folder) / "commune")
        commune.cli("init", "--demo")
        database = commune.data_dir / "gocua.db"
        with connect(database) as db:
            villages = [r[0] for r in db.execute("SELECT id FROM villages ORDER BY id")]
        took = prestore(database, villages, n)
        print(f"  commune: {n:,} records written by bulk INSERT in {took:,.0f} s")
        province = ServerProcess(Path(folder) / "province").start()
        try:
            token = province.cli("sync", "token", "99999").strip().splitlines()[-1]
            client = SyncClient(province.base, token)
            with connect(database) as db:
                start = time.perf_counter()
                report = replicate(db, client, province.base, commune.data_dir)
                seconds = time.perf_counter() - start
                start = time.perf_counter()
                again = replicate(db, client, province.base, commune.data_dir)
                second = time.perf_counter() - start
                rows = db.execute(
                    "SELECT id, rev, village_id, household_id, form_id,"
                    " form_version, data, meta FROM records"
                ).fetchall()
            with connect(province.data_dir / "gocua.db") as up:
                held = up.execute(
                    "SELECT count(*) FROM records WHERE commune_id = '99999'"
                    " AND form_id = 'ho_gia_dinh_cds'"
                ).fetchone()[0]
        finally:
            province.stop()
    assert report.counts["applied"] >= n and held >= n, (report.counts, held)
    assert again.items == 0
    items = [dict(r) for r in rows]
    for item in items:
        item["data"], item["meta"] = json.loads(item["data"]), json.loads(item["meta"])
    raw = raw_insert_rate(items, "99999")
    rate = report.items / seconds
    print(
        f"  replicated {report.items:,} revisions in {report.batches:,} batches"
        f" in {seconds:,.1f} s; a second run sent nothing in {second:.2f} s"
    )
    print(f"  replication: {rate:,.0f} records/s")
    print(f"  baseline:    {raw:,.0f} records/s (sqlite-utils insert_all, one transaction)")
    print(f"  ratio:       {rate / raw:.3f} of the baseline")


if __name__ == "__main__":
    main()

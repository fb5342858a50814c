"""``kill -9`` of the server process while a phone pushes, twenty times: no batch is ever half
written, and after the last restart the server holds exactly what the phone made."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from server.domain.db import connect
from sync.client import HttpError, RetriesExhausted, RetryPolicy, SyncClient, digest, split_batches
from tests.server_process import ServerProcess
from tests.sync.phone import small_record

# Left out of `make test-fast`: kills and restarts a real `gocua serve` twenty times (about 40 s).
pytestmark = pytest.mark.slow

KILLS = 20
RECORDS, EDITS = 10_000, 1_000


class Pusher(threading.Thread):
    """Sends fixed batches in order, each until the server acknowledges it, whatever happens."""

    def __init__(self, client: SyncClient, batches: list[list[dict[str, Any]]]) -> None:
        super().__init__(daemon=True)
        self.client, self.batches = client, batches
        self.done = 0  # batches acknowledged
        self.failures = 0
        self.problem: str | None = None

    def run(self) -> None:
        for batch in self.batches:
            while True:
                try:
                    results = self.client.push_batch(batch)["results"]
                    break
                except (RetriesExhausted, HttpError) as error:
                    if isinstance(error, HttpError) and error.status < 500:
                        self.problem = str(error)
                        return
                    self.failures += 1
                    time.sleep(0.02)  # the server is restarting: no need to spin
            bad = [r for r in results if r["status"] not in ("applied", "duplicate")]
            if bad or len(results) != len(batch):
                self.problem = f"unexpected results: {bad[:3]}"
                return
            self.done += 1


def _wait_for(condition: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _check_whole_batches(database: Path, batches: list[list[dict[str, Any]]]) -> int:
    """Every batch is either wholly stored or not at all; returns how many are stored."""
    with connect(database) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        held = {tuple(r) for r in db.execute("SELECT record_id, rev FROM revisions")}
        # The record rows and the upstream outbox commit with their revisions, or not at all.
        orphans = db.execute(
            "SELECT count(*) FROM records r WHERE NOT EXISTS (SELECT 1 FROM revisions v"
            " WHERE v.record_id = r.id AND v.rev = r.rev AND v.status = 'current')"
        ).fetchone()
        outboxed = db.execute("SELECT count(*) FROM outbox WHERE kind = 'revision'").fetchone()
    assert orphans[0] == 0 and outboxed[0] == len(held)
    stored = 0
    for batch in batches:
        present = sum((item["id"], item["rev"]) in held for item in batch)
        assert present in (0, len(batch)), f"a batch half written: {present}/{len(batch)}"
        stored += present == len(batch)
    return stored


def test_kill_9_during_pushes_twenty_times(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "server").start()
    url = server.cli("enroll").strip().splitlines()[-1]
    client = SyncClient(
        server.base, timeout=(1, 10), retry=RetryPolicy(attempts=3, base=0.005, cap=0.05)
    )
    client.enroll(url.split("#enroll=")[1])
    villages = [c["id"] for c in client.pull(0, 1000)["changes"] if c["kind"] == "village"]
    items = [small_record(villages[n % len(villages)]) for n in range(RECORDS)]
    for first in items[:EDITS]:
        items.append(
            {
                **first,
                "rev": small_record(first["village_id"])["rev"],
                "base_rev": first["rev"],
                "data": {**first["data"], "outcome": "refused"},
            }
        )
    batches = list(split_batches(items))
    database = server.data_dir / "gocua.db"
    chance = random.Random(9)
    pusher = Pusher(client, batches)
    pusher.start()
    try:
        for _ in range(KILLS):
            before = pusher.done
            _wait_for(lambda b=before: pusher.done > b or pusher.problem)  # pushes are flowing
            time.sleep(chance.uniform(0, 0.04))
            server.kill()
            stored = _check_whole_batches(database, batches)
            assert stored >= pusher.done  # nothing acknowledged is missing
            server.start()
        assert pusher.done < len(batches), "the kills must land while pushes still flow"
        pusher.join(timeout=120)
        assert pusher.problem is None and pusher.done == len(batches)
        assert pusher.failures >= KILLS
        assert _check_whole_batches(database, batches) == len(batches)
        with connect(database) as db:
            held = [tuple(r) for r in db.execute("SELECT record_id, rev FROM revisions")]
        made = {(i["id"], i["rev"]) for i in items}
        assert len(held) == len(made) and set(held) == made
        assert client.status()["digest"] == digest(made)
    finally:
        server.stop()

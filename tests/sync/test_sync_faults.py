"""10,000 revisions pushed through a proxy that drops, repeats, cuts, holds back and refuses
requests, to a real ``gocua serve`` process: after the faults stop and one more sync, the server
holds exactly what the phone made -- none lost, none twice."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from server.domain.db import connect
from sync.client import RetriesExhausted, RetryPolicy, SyncClient, digest
from tests.server_process import ServerProcess
from tests.sync.fault_proxy import FAULTS, FaultProxy
from tests.sync.phone import Phone
from tests.sync.photo_form import photo

# Left out of `make test-fast`: 10,000 revisions through a fault proxy to a real server (~20 s).
pytestmark = pytest.mark.slow

RECORDS, EDITS = 9_000, 1_000
PHOTOS = 40


def enroll(server: ServerProcess) -> SyncClient:
    url = server.cli("enroll").strip().splitlines()[-1]
    client = SyncClient(server.base)
    client.enroll(url.split("#enroll=")[1])
    return client


def test_ten_thousand_revisions_through_faults_arrive_exactly_once(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "server").start()
    try:
        direct = enroll(server)
        villages = [c["id"] for c in direct.pull(0, 1000)["changes"] if c["kind"] == "village"]
        with FaultProxy(server.port, seed=4, rate=0.35) as proxy:
            # Tiny backoff: the faults are the proxy's, not a real network's.
            client = SyncClient(
                proxy.base,
                direct.token,
                timeout=(2, 30),
                retry=RetryPolicy(attempts=6, base=0.002, cap=0.02),
            )
            photos = [photo(str(n)) for n in range(PHOTOS)]
            for content, sha in photos:
                _until_sent(lambda c=content, h=sha: client.put_blob(c, h))
            phone = Phone(client)
            for n in range(RECORDS):
                phone.new(villages[n % len(villages)])
            edited = [item["id"] for item in phone.queue[:: RECORDS // EDITS]]
            _sync_until_stuck(phone)
            for record_id in edited:
                phone.edit(record_id, outcome="refused")
            _sync_until_stuck(phone)
            assert all(proxy.counts[fault] > 0 for fault in FAULTS), proxy.counts

            proxy.heal()  # faults stop; requests still held back arrive now, late
            phone.push()  # one more sync
        # Held requests reached the server after newer ones: batches out of order.
        assert proxy.counts["late_delivery"] >= proxy.counts["hold"] > 0
        assert not phone.queue and not phone.refused
        assert len(phone.created) == RECORDS + EDITS == len(phone.acked)

        with connect(server.data_dir / "gocua.db") as db:
            held = [tuple(r) for r in db.execute("SELECT record_id, rev FROM revisions")]
            current = dict(db.execute("SELECT id, rev FROM records").fetchall())
            conflicts = db.execute(
                "SELECT count(*) FROM revisions WHERE status = 'conflict'"
            ).fetchone()[0]
        assert len(held) == len(set(held)) and set(held) == phone.created
        assert current == {rid: item["rev"] for rid, item in phone.latest.items()}
        assert conflicts == 0
        assert direct.status()["digest"] == digest(phone.created)
        assert "Traceback" not in server.log.read_text()
        # Cut uploads left nothing: every stored photo is whole, no temporary file remains.
        stored = [p for p in (server.data_dir / "blobs").rglob("*") if p.is_file()]
        assert sorted(hashlib.sha256(p.read_bytes()).hexdigest() for p in stored) == sorted(
            sha for _, sha in photos
        )
    finally:
        server.stop()


def _until_sent(send: Callable[[], object]) -> None:
    for _ in range(200):
        try:
            send()
            return
        except RetriesExhausted:
            continue
    raise AssertionError("never sent")


def _sync_until_stuck(phone: Phone) -> None:
    """Sync as the collector does: retry what failed on the next round, until the queue empties
    (each round is one press of Sync; its batches are retried within the client's policy)."""
    for _ in range(200):
        try:
            phone.push()
            return
        except RetriesExhausted:
            continue
    raise AssertionError("the queue never emptied")

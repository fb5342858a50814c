"""A saturated server says so at once: with one sync slot (``GOCUA_SYNC_SLOTS=1``) and the
database's write lock held elsewhere (a long write, a backup), the push that got the slot waits
for the lock and the others are answered ``503`` with ``Retry-After`` and words for people,
while a reviewer's page still answers. The phones wait what they were told, send the same
batches again, and every record arrives exactly once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from server.domain.db import connect
from sync.client import HttpError, SyncClient
from tests.api.admin_helpers import PASSWORD, staff
from tests.api.test_behind_nginx import login
from tests.records import record
from tests.server_process import ServerProcess

# Left out of `make test-fast`: a real `gocua serve` process.
pytestmark = pytest.mark.slow

PHONES = 5


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ServerProcess, str, list[str]]]:
    data_dir = tmp_path / "server"
    server = ServerProcess(data_dir, extra_env={"GOCUA_SYNC_SLOTS": "1"})
    data_dir.mkdir(parents=True)
    server.cli("init", "--demo")
    with connect(data_dir / "gocua.db") as db:
        staff(db, "canbo", "reviewer")
    server.start()
    phone = SyncClient(server.base)
    body = phone.enroll(server.cli("enroll").strip().splitlines()[-1].split("#enroll=")[1])
    villages = [v["id"] for v in body["villages"]]
    try:
        yield server, phone.token or "", villages
    finally:
        server.stop()


def test_a_saturated_server_answers_503_with_retry_after_and_loses_or_doubles_nothing(
    tmp_path: Path, served: tuple[ServerProcess, str, list[str]]
) -> None:
    server, token, villages = served
    reviewer = requests.Session()
    assert login(reviewer, server.base, "canbo", PASSWORD) == 302
    batches = [[record(villages[i % len(villages)]) for _ in range(3)] for i in range(PHONES)]
    released = threading.Event()
    lock = threading.Lock()
    told: list[tuple[float, float]] = []  # (Retry-After, the wait the client chose)
    busy_answers: list[HttpError] = []
    answers: dict[int, list[dict[str, Any]]] = {}
    progress = threading.Condition()

    class Phone(SyncClient):
        last: HttpError | None = None

        def _once(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super()._once(*args, **kwargs)
            except HttpError as error:
                self.last = error
                with progress:
                    busy_answers.append(error)
                    progress.notify_all()
                raise

    def phone(index: int) -> None:
        def sleep(seconds: float) -> None:
            assert client.last is not None
            with lock:
                told.append((client.last.retry_after, seconds))
            # Held back until the lock is free, then the wait it chose (at most a second).
            released.wait(timeout=60)
            threading.Event().wait(min(seconds, 1.0))

        client = Phone(server.base, token, sleep=sleep)
        results = client.push_batch(batches[index])["results"]
        with progress:
            answers[index] = results
            progress.notify_all()

    holder = connect(tmp_path / "server" / "gocua.db")
    holder.conn.execute("BEGIN IMMEDIATE")
    try:
        threads = [threading.Thread(target=phone, args=(i,), daemon=True) for i in range(PHONES)]
        for thread in threads:
            thread.start()
        # One push holds the only slot (waiting for the write lock), one may wait 2 s for it:
        # every other phone is turned away.
        with progress:
            assert progress.wait_for(lambda: len(busy_answers) >= PHONES - 1, timeout=30)
        for error in busy_answers:
            assert error.status == 503 and error.code == "server_busy"
            assert 1 <= error.retry_after <= 10
            vi, en = error.body["message"]["vi"], error.body["message"]["en"]
            assert "an toàn" in vi and "safe" in en and str(int(error.retry_after)) in en
        # The staff's pages are not behind the sync work.
        page = reviewer.get(f"{server.base}/", timeout=10)
        assert page.status_code == 200 and page.url == f"{server.base}/"
        assert not answers, "nothing is acknowledged while the database is locked"
    finally:
        holder.conn.execute("ROLLBACK")
        holder.close()
        released.set()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(answers) == list(range(PHONES))
    # Each phone waited at least what the server said before sending the batch again.
    assert told and all(chosen >= asked > 0 for asked, chosen in told)
    for index, results in answers.items():
        assert [(r["id"], r["rev"], r["status"]) for r in results] == [
            (item["id"], item["rev"], "applied") for item in batches[index]
        ]
    with connect(tmp_path / "server" / "gocua.db") as db:
        sent = sorted(item["id"] for batch in batches for item in batch)
        stored = [r[0] for r in db.execute("SELECT id FROM records ORDER BY id").fetchall()]
        revisions = db.execute("SELECT count(*) FROM revisions").fetchone()[0]
    assert stored == sent and revisions == len(sent)

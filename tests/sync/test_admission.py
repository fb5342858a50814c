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

from server.domain.db import connect, write_transaction
from server.domain.devices import add_collect_device
from server.domain.forms import install_form
from server.domain.seed import DEMO_VOLUNTEER
from sync.client import HttpError, SyncClient
from tests.api.admin_helpers import PASSWORD, staff
from tests.api.test_behind_nginx import login
from tests.collect_client import Answer, CollectClient, collect_form_definition
from tests.records import household_data, record
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
    told: list[tuple[float, float]] = []  # (the wait asked, the wait the client chose)
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
                told.append((client.last.body["retry_after_ms"] / 1000, seconds))
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
            # The body says the wait to the millisecond; the header rounds it up to seconds.
            precise = error.body["retry_after_ms"]
            assert 0 < precise <= error.retry_after * 1000 < precise + 1000 or (
                error.retry_after == 1 and precise <= 1000
            )
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
    # Each phone waited at least what the server said (to the millisecond) before sending the
    # batch again.
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


def test_collect_submissions_pass_the_same_gate_and_are_told_so_in_an_openrosa_message(
    tmp_path: Path, served: tuple[ServerProcess, str, list[str]]
) -> None:
    """ODK Collect's submissions are bulk sync too: beyond the bound, a 503 with Retry-After
    and an OpenRosa message Collect shows (Vietnamese, then English); the HEAD before a
    submission is never turned away. Sent again once the server is free, every form becomes
    one record."""
    server = served[0]
    database = tmp_path / "server" / "gocua.db"
    with connect(database) as db, write_transaction(db):
        install_form(db, collect_form_definition())
        user_id = db.execute(
            "SELECT id FROM users WHERE username = ?", [DEMO_VOLUNTEER]
        ).fetchone()[0]
        urls = [f"{server.base}/key/{add_collect_device(db, user_id)[1]}" for _ in range(PHONES)]
        codes = [
            r[0]
            for r in db.execute(
                "SELECT h.code FROM households h JOIN user_villages v"
                " ON v.village_id = h.village_id WHERE v.user_id = ? ORDER BY h.code",
                [user_id],
            )
        ]
    phones = [CollectClient(url) for url in urls]
    # Each phone got the form first, as Collect does (and noted its "last sync" then).
    xform = [phone.download(phone.form_list()[0]) for phone in phones][0]
    filled = [
        phones[0].fill(xform, {**household_data(), "household_code": codes[i % len(codes)]})
        for i in range(PHONES)
    ]
    first: dict[int, list[Answer]] = {}
    progress = threading.Condition()

    def send(index: int) -> None:
        answered = phones[index].submit(filled[index])
        with progress:
            first[index] = answered
            progress.notify_all()

    holder = connect(database)
    holder.conn.execute("BEGIN IMMEDIATE")
    try:
        threads = [threading.Thread(target=send, args=(i,), daemon=True) for i in range(PHONES)]
        for thread in threads:
            thread.start()
        # One submission holds the only slot, waiting for the write lock: the others are
        # turned away once they have waited their turn.
        with progress:
            assert progress.wait_for(lambda: len(first) >= PHONES - 1, timeout=60)
        busy = [answers[-1] for answers in first.values()]
        assert all(a.status == 503 for a in busy), [(a.status, a.message) for a in busy]
        for answer in busy:
            seconds = int(answer.headers["Retry-After"])
            assert 1 <= seconds <= 30
            vi, en = answer.message.split(" / ", 1)
            assert "an toàn" in vi and f"{seconds} giây" in vi
            assert "safe" in en and f"{seconds} seconds" in en
        # Collect's HEAD carries nothing: it is answered even now.
        head = requests.head(f"{urls[0]}/submission", timeout=10)
        assert head.status_code == 204
        assert not stored_records(database), "nothing is stored while the database is locked"
    finally:
        holder.conn.execute("ROLLBACK")
        holder.close()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(first) == list(range(PHONES))
    # Each form the server turned away is sent again, as the volunteer (or Collect's automatic
    # sending) does; the one that waited for the lock was received.
    for index, answered in first.items():
        if answered[-1].status == 503:
            answered = phones[index].submit(filled[index])
        assert [a.status for a in answered] == [201], [(a.status, a.message) for a in answered]
    with connect(database) as db:
        submissions = db.execute("SELECT count(*) FROM openrosa_submissions").fetchone()[0]
    assert len(stored_records(database)) == submissions == PHONES


def stored_records(database: Path) -> list[str]:
    with connect(database) as db:
        return [r[0] for r in db.execute("SELECT id FROM records").fetchall()]

"""Collect submissions arriving at the same moment share the write transaction (group commit,
``server/domain/db.py: write_together``): each is stored exactly once, in a savepoint of its
own, and none is answered before the COMMIT that makes its record durable -- read here through
a connection of its own the moment the answer comes. Against a real server over HTTP, phones
sending from threads at once, a resend of each racing its first send."""

from __future__ import annotations

import hashlib
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from schemas.messages import message
from server.domain.blobs import blob_path
from server.domain.db import write_transaction
from tests.collect_client import CollectClient, Filled
from tests.sync.live import LiveServer
from tests.sync.photo_form import photo
from tests.sync.test_openrosa import answers, collect_phone, household
from tests.sync.test_openrosa import server as server  # the served Collect form: a fixture
from tests.writers import wait_for_queued_writers

# The live server's waitress threads: this many submissions are in the server at once.
AT_ONCE = 4
PHONES, EACH = 6, 5


def _durable(server: LiveServer, filled: Filled) -> tuple[str, str] | None:
    """What a new connection reads of the submission right now: its state and its record's
    revision (None: nothing committed)."""
    with sqlite3.connect(server.database) as conn:
        row = conn.execute(
            "SELECT s.state, r.rev FROM openrosa_submissions s"
            " LEFT JOIN records r ON r.id = s.record_id WHERE s.instance_id = ?",
            [filled.instance_id],
        ).fetchone()
    return None if row is None else (row[0], row[1])


def _send_and_read(server: LiveServer, url: str, filled: Filled) -> tuple[int, str, Any]:
    """One Collect POST, and the database read through another connection the moment the
    answer came."""
    (answer,) = CollectClient(url).submit(filled)
    return answer.status, answer.message, _durable(server, filled)


def _said(key: str) -> str:
    words = message(f"openrosa.{key}")
    return f"{words['vi']} / {words['en']}"


def _filled(server: LiveServer, url: str, count: int) -> list[Filled]:
    client = CollectClient(url)
    xform = client.download(client.form_list()[0])
    code = household(server)["code"]
    return [client.fill(xform, answers(code, head_name=f"Hộ {n}")) for n in range(count)]


def test_submissions_waiting_together_share_one_commit_and_none_is_answered_before_it(
    server: LiveServer,
) -> None:
    _, url = collect_phone(server)
    sent = _filled(server, url, AT_ONCE)
    holder = server.db()
    try:
        with ThreadPoolExecutor(AT_ONCE) as pool:
            with write_transaction(holder):
                # The write lock is held elsewhere: every submission's write queues behind it,
                # in one group, its answers and checks done before.
                answered = [pool.submit(_send_and_read, server, url, f) for f in sent]
                wait_for_queued_writers(server.database, AT_ONCE)
                assert not any(future.done() for future in answered)
            results = [future.result(timeout=60) for future in answered]
    finally:
        holder.close()
    for filled, (status, said, read) in zip(sent, results, strict=True):
        assert status == 201, said
        # The answer came after the COMMIT: another connection reads the record at once.
        assert read == ("stored", filled.instance_id.removeprefix("uuid:")), read
    # One transaction wrote them all, each once.
    with server.db() as db:
        assert db.execute("SELECT count(*) FROM records").fetchone()[0] == AT_ONCE
        assert db.execute("SELECT count(*) FROM revisions").fetchone()[0] == AT_ONCE


def test_phones_sending_at_once_each_record_is_stored_once_and_durable_when_answered(
    server: LiveServer,
) -> None:
    urls = [collect_phone(server)[1] for _ in range(PHONES)]
    work: list[tuple[str, Filled]] = []
    for url in urls:
        filled = _filled(server, url, EACH)
        # Each form sent twice at once (a lost answer and Collect's automatic resend): the
        # second is a duplicate, never a second record.
        work += [(url, f) for f in filled] + [(url, f) for f in filled]
    with ThreadPoolExecutor(PHONES * 2) as pool:
        results = list(pool.map(lambda job: _send_and_read(server, *job), work))
    per_form: dict[str, list[tuple[int, str]]] = {}
    for (_, filled), (status, said, read) in zip(work, results, strict=True):
        assert status == 201, said
        assert read == ("stored", filled.instance_id.removeprefix("uuid:")), read
        per_form.setdefault(filled.instance_id, []).append((status, said))
    for instance_id, told in per_form.items():
        # One of the two sends stored it; the other was told it was already there.
        assert sorted(told) == [(201, _said("duplicate")), (201, _said("received"))], (
            instance_id,
            told,
        )
    with server.db() as db:
        rows = db.execute("SELECT id, rev FROM records ORDER BY id").fetchall()
        revisions = db.execute("SELECT count(*) FROM revisions").fetchone()[0]
        stored = db.execute(
            "SELECT count(*) FROM openrosa_submissions WHERE state = 'stored'"
        ).fetchone()[0]
    assert [r["id"] for r in rows] == sorted({f.instance_id.removeprefix("uuid:") for _, f in work})
    assert revisions == stored == PHONES * EACH


def test_a_file_taken_from_the_store_while_its_submission_waits_is_sent_again(
    server: LiveServer,
) -> None:
    _, url = collect_phone(server)
    client = CollectClient(url)
    xform = client.download(client.form_list()[0])
    image, _ = photo("house")
    data = answers(household(server)["code"], house_photo="1.jpg")
    filled = client.fill(xform, data, {"1.jpg": image})
    stored = blob_path(server.data_dir, hashlib.sha256(image).hexdigest())
    holder = server.db()
    try:
        with ThreadPoolExecutor(1) as pool, write_transaction(holder):
            answered = pool.submit(_send_and_read, server, url, filled)
            wait_for_queued_writers(server.database, 1)
            assert stored.is_file()  # written before the lock
            # What a person's erasure does to a file no commune holds, under the same lock.
            stored.unlink()
        status, said, read = answered.result(timeout=60)
    finally:
        holder.close()
    assert (status, said, read) == (503, _said("file_gone"), None)  # nothing kept
    # Collect sends the form again, its photo with it: stored whole.
    (again,) = client.submit(filled)
    assert (again.status, again.message) == (201, _said("received"))
    assert stored.is_file()

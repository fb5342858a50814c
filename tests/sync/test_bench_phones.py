"""The benches' phones (bench/phones.py: coroutines speaking bare HTTP/1.1, so that the load
costs the machine next to nothing), pushing as the collector does or submitting as ODK Collect
does, send what they are given and count what the server answered: a bench whose phones
misread answers would report a rate for records never stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import dusk
from bench.phones import _wait, collect_together, push_together
from server.domain.db import connect, write_transaction
from server.domain.devices import add_collect_device
from server.domain.forms import install_form
from tests.collect_client import CollectClient, collect_form_definition
from tests.records import household_data
from tests.server_process import ServerProcess

# Left out of `make test-fast`: a real `gocua serve` process.
pytestmark = pytest.mark.slow


def test_every_phone_s_batches_are_stored_once_and_counted(tmp_path: Path) -> None:
    server = dusk.Server(
        "dusk", ServerProcess(tmp_path / "server", extra_env={"GOCUA_WORKERS": "2"})
    )
    try:
        # Pushes one batch of its own, for the reviewer's record page.
        dusk.prepare(server, 6, households=(6 * 3 + 1) * dusk.BATCH)
        bodies = [
            [dusk.encode(dusk.batch_of(server, dusk.BATCH)) for _ in range(3)] for _ in range(6)
        ]
        tally = push_together(server.process.base, server.tokens, bodies, dusk.BATCH)
        with connect(server.process.data_dir / "gocua.db") as db:
            stored = db.execute(
                "SELECT count(*), count(DISTINCT id), count(DISTINCT household_id) FROM records"
            ).fetchone()
            answers = db.execute("SELECT count(DISTINCT data) FROM records").fetchone()[0]
    finally:
        server.process.stop()
    assert tally.errors == []
    assert tally.records == 6 * 3 * dusk.BATCH
    assert len(tally.acks) == 6 * 3
    assert len(tally.requests) == 6 * 3 + tally.busy
    # Each record once, and each naming a household no other record names, as at a dusk.
    assert tuple(stored) == (dusk.BATCH + tally.records,) * 3
    # Households' answers differ, as a commune's do (packing them costs what a commune's cost).
    assert answers > tally.records // 2
    assert tally.wall > 0 and tally.cpu > 0


def test_a_refused_batch_is_an_error_not_a_record(tmp_path: Path) -> None:
    server = dusk.Server("dusk", ServerProcess(tmp_path / "server"))
    try:
        dusk.prepare(server, 1, households=dusk.BATCH + 2)
        items = dusk.batch_of(server, 2)
        items[1]["data"] = {**items[1]["data"], "members": "not a roster"}  # its own dict
        tally = push_together(server.process.base, server.tokens, [[dusk.encode(items)]], 2)
    finally:
        server.process.stop()
    assert tally.records == 0
    assert len(tally.errors) == 1 and "applied" in tally.errors[0] and "rejected" in tally.errors[0]


def test_collect_phones_submissions_are_each_a_record(tmp_path: Path) -> None:
    process = ServerProcess(tmp_path / "server")
    process.cli("init", "--demo")
    with connect(process.data_dir / "gocua.db") as db, write_transaction(db):
        install_form(db, collect_form_definition())
        user = db.execute("SELECT id FROM users WHERE username = 'tnv.demo'").fetchone()[0]
        keys = [add_collect_device(db, user)[1] for _ in range(3)]
        codes = [
            r[0]
            for r in db.execute(
                "SELECT h.code FROM households h JOIN user_villages v ON v.village_id ="
                " h.village_id WHERE v.user_id = ? ORDER BY h.code",
                [user],
            )
        ]
    process.start()
    try:
        client = CollectClient(f"{process.base}/key/{keys[0]}")
        xform = client.download(client.form_list()[0])
        forms = [
            [
                client.fill(xform, {**household_data(), "household_code": codes[0]}).xml()
                for _ in range(4)
            ]
            for _ in keys
        ]
        forms[2][3] = b"<not-a-form"
        tally = collect_together(process.base, keys, forms)
    finally:
        process.stop()
    with connect(process.data_dir / "gocua.db") as db:
        stored = db.execute("SELECT count(*) FROM records").fetchone()[0]
    assert tally.records == stored == 11
    assert len(tally.requests) == 3 + 12 + tally.busy  # a HEAD each, then the forms
    assert len(tally.errors) == 1 and tally.errors[0].startswith("400 ")


def test_a_busy_answer_s_wait_is_read_as_the_sync_client_reads_it() -> None:
    assert _wait({"retry-after": "3"}, b'{"retry_after_ms": 350}') == 0.35  # the body first
    assert _wait({"retry-after": "3"}, b'{"retry_after_ms": 5}') == 0.1  # a tenth at least
    assert _wait({"retry-after": "3"}, b"<OpenRosaResponse/>") == 3.0
    assert _wait({"retry-after": "0.2"}, b"") == 1.0  # a whole second at least
    # No wait the phone can read: the backoff decides.
    assert _wait({"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"}, b"") == 0.0
    assert _wait({}, b'{"retry_after_ms": "soon"}') == 0.0

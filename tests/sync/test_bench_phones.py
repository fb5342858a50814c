"""The dusk bench's phones (bench/phones.py: coroutines speaking bare HTTP/1.1, so that the load
costs the machine next to nothing) push what they are given and count what the server answered:
a bench whose phones misread answers would report a rate for records never stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import dusk
from bench.phones import push_together
from server.domain.db import connect
from tests.server_process import ServerProcess

# Left out of `make test-fast`: a real `gocua serve` process.
pytestmark = pytest.mark.slow


def test_every_phone_s_batches_are_stored_once_and_counted(tmp_path: Path) -> None:
    server = dusk.Server(
        "dusk", ServerProcess(tmp_path / "server", extra_env={"GOCUA_WORKERS": "2"})
    )
    try:
        dusk.prepare(server, 6)  # pushes one batch of its own, for the reviewer's record page
        bodies = [
            [dusk.encode(dusk.batch_of(server, dusk.BATCH)) for _ in range(3)] for _ in range(6)
        ]
        tally = push_together(server.process.base, server.tokens, bodies, dusk.BATCH)
        with connect(server.process.data_dir / "gocua.db") as db:
            stored = db.execute("SELECT count(*), count(DISTINCT id) FROM records").fetchone()
    finally:
        server.process.stop()
    assert tally.errors == []
    assert tally.records == 6 * 3 * dusk.BATCH
    assert len(tally.acks) == 6 * 3
    assert len(tally.requests) == 6 * 3 + tally.busy
    assert tuple(stored) == (dusk.BATCH + tally.records, dusk.BATCH + tally.records)
    assert tally.wall > 0 and tally.cpu > 0


def test_a_refused_batch_is_an_error_not_a_record(tmp_path: Path) -> None:
    server = dusk.Server("dusk", ServerProcess(tmp_path / "server"))
    try:
        dusk.prepare(server, 1)
        items = dusk.batch_of(server, 2)
        items[1]["data"] = {**items[1]["data"], "members": "not a roster"}  # its own dict
        tally = push_together(server.process.base, server.tokens, [[dusk.encode(items)]], 2)
    finally:
        server.process.stop()
    assert tally.records == 0
    assert len(tally.errors) == 1 and "applied" in tally.errors[0] and "rejected" in tally.errors[0]

"""Sync connections move to a less busy worker (server/web/admission.py): a worker that has
answered a sync request closes the connection when it holds more sync work than the least busy
worker by more than the margin, and after every busy answer, so that the phone's next
connection may land on any worker; otherwise the connection is kept alive. A real waitress
serving the app on a loopback port, over raw HTTP/1.1, so that the closing is what a phone's
socket sees; the workers' shared counts are the array ``gocua serve`` makes before its fork."""

from __future__ import annotations

import gzip
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from server.web import admission
from sync.client import HttpError, SyncClient
from tests.records import record
from tests.sync.live import LiveServer


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[LiveServer, str, list[str]]]:
    server = LiveServer(tmp_path / "server").start()
    phone = SyncClient(server.base)
    body = phone.enroll(server.enrollment_code())
    try:
        yield server, phone.token or "", [v["id"] for v in body["villages"]]
    finally:
        server.stop()


def _worker(server: LiveServer, me: int, of: int) -> tuple[Any, Any]:
    """The served app as worker ``me`` of ``of`` (``gocua serve``'s shared counts, the others'
    set by the test): its sync gate, and every worker's count of sync requests in hand."""
    loads = admission.shared_loads(of)
    admission.join_workers(server.app, loads, me)
    return server.app.extensions["gocua_admission"], loads


@contextmanager
def _holding(gate: Any, count: int) -> Iterator[list[float]]:
    """``count`` of the worker's sync slots taken, as other phones' batches at work would take
    them, until the block ends (those the block gave back itself excepted)."""
    held = [gate.enter() for _ in range(count)]
    assert None not in held
    try:
        yield held  # type: ignore[misc]
    finally:
        for entered in held:
            gate.leave(entered)


def _push(sock: socket.socket, port: int, token: str, items: list[dict[str, Any]]) -> None:
    body = gzip.compress(json.dumps({"items": items}).encode())
    sock.sendall(
        (
            f"POST /api/v1/sync/push HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Encoding: gzip\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body
    )


def _exchange(
    connection: tuple[socket.socket, Any], server: LiveServer, token: str, items: list[Any]
) -> tuple[int, dict[str, str], bytes]:
    """A push sent on ``connection`` (``_connection``'s), and its answer read whole."""
    sock, reader = connection
    _push(sock, server.port, token, items)
    return _answer(reader)


def _answer(reader: Any) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response read whole: its status, headers (lower case) and body."""
    status = int(reader.readline().split()[1])
    headers: dict[str, str] = {}
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        return status, headers, reader.read(int(headers["content-length"]))
    assert headers.get("transfer-encoding") == "chunked", headers
    parts = []
    while size := int(reader.readline().split(b";")[0], 16):
        parts.append(reader.read(size))
        reader.readline()
    reader.readline()
    return status, headers, b"".join(parts)


def _closed_by_server(sock: socket.socket) -> bool:
    """True when the server has closed the connection: reading gives end of file (the answer
    was read whole before, so nothing else is due)."""
    sock.settimeout(10)
    return sock.recv(1) == b""


@contextmanager
def _connection(server: LiveServer) -> Iterator[tuple[socket.socket, Any]]:
    """A connection to the server: its socket, and a reader of what comes back."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    reader = sock.makefile("rb")
    try:
        yield sock, reader
    finally:
        reader.close()
        sock.close()


def test_a_crowded_worker_closes_the_connection_it_answered_and_keeps_it_otherwise(
    live: tuple[LiveServer, str, list[str]],
) -> None:
    server, token, villages = live
    gate, loads = _worker(server, 1, of=3)
    with _connection(server) as (sock, reader):
        # Alone, with the others idle: one batch in hand is no crowd; the connection stays.
        status, headers, body = _exchange((sock, reader), server, token, [record(villages[0])])
        assert status == 200 and json.loads(body)["results"][0]["status"] == "applied"
        assert headers.get("connection") != "close"
        assert loads[1] == 0  # its batch answered, nothing in hand
        # Another batch at work in this worker (a second connection's, held here) while the
        # others hold none: two in hand against none, over the margin of one.
        other = gate.enter()
        assert other is not None and loads[1] == 1
        status, headers, body = _exchange((sock, reader), server, token, [record(villages[0])])
        assert status == 200 and json.loads(body)["results"][0]["status"] == "applied"
        assert headers.get("connection") == "close"
        assert _closed_by_server(sock)
    with _connection(server) as (sock, reader):
        # The least busy worker holding three, this one four with the new batch (two more
        # held here): within the margin, so its connection stays.
        more = [gate.enter(), gate.enter()]
        loads[0], loads[2] = 3, 5
        status, headers, _ = _exchange((sock, reader), server, token, [record(villages[0])])
        assert status == 200 and headers.get("connection") != "close"
        for entered in [other, *more]:
            gate.leave(entered)
        assert loads[1] == 0


def test_a_busy_answer_closes_the_connection_so_the_phone_comes_back_to_any_worker(
    live: tuple[LiveServer, str, list[str]],
) -> None:
    server, token, villages = live
    gate, loads = _worker(server, 0, of=2)
    with _connection(server) as (sock, reader):
        with _holding(gate, gate.slots):  # every slot at work
            gate._held = 60.0  # each for a minute: the next would wait too long, turned away
            status, headers, body = _exchange((sock, reader), server, token, [record(villages[0])])
            assert loads[0] == gate.slots  # the one turned away is not counted in hand
        assert loads[0] == 0
        assert status == 503 and json.loads(body)["code"] == "server_busy"
        assert int(headers["retry-after"]) >= 1
        assert headers.get("connection") == "close"
        assert _closed_by_server(sock)
    # The slots free again: a batch the server refuses gives its slot back too.
    gate._held = 0.0
    refused = SyncClient(server.base, token=token)
    with pytest.raises(HttpError) as error:
        refused.request("POST", "sync/push", json_body={"items": "not a list"})
    assert error.value.status == 422 and loads[0] == 0
    # The same batch as was turned away is taken, on a connection kept alive.
    with _connection(server) as (sock, reader):
        items = [record(villages[0])]
        for _ in range(2):
            status, headers, body = _exchange((sock, reader), server, token, items)
            assert status == 200 and headers.get("connection") != "close"
        assert json.loads(body)["results"][0]["status"] == "duplicate"


def test_a_push_answer_says_how_many_batches_the_server_has_room_for(
    live: tuple[LiveServer, str, list[str]],
) -> None:
    server, token, villages = live
    gate = server.app.extensions["gocua_admission"]
    phone = SyncClient(server.base, token=token)
    # An idle server, the phone alone: three (one written while two are checked).
    assert phone.push_batch([record(villages[0])])["batches_at_once"] == 3
    # All slots but this batch's at work elsewhere: none free beside it, so one at a time.
    with _holding(gate, gate.slots - 1) as held:
        assert phone.push_batch([record(villages[0])])["batches_at_once"] == 1
        gate.leave(held.pop())  # one free again beside the batch: room for a second
        assert phone.push_batch([record(villages[0])])["batches_at_once"] == 2
    # Counted over every worker: two workers, two requests in hand, as a phone alone has.
    _, loads = _worker(server, 0, of=2)
    loads[1] = 1
    assert phone.push_batch([record(villages[0])])["batches_at_once"] == 3
    # The others full, this one with slots free: room for one more.
    loads[1] = gate.slots
    answer = phone.push_batch([record(villages[0])])
    assert answer["batches_at_once"] == 2  # 1 + 8 of 16 in hand
    loads[1] = 2 * gate.slots  # the other worker with its queue full as well
    answer = phone.push_batch([record(villages[0])])
    assert answer["batches_at_once"] == 1 and [r["status"] for r in answer["results"]] == [
        "applied"
    ]

"""The served process refuses a body longer than any route takes from its Content-Length, before
reading it: waitress would otherwise spool up to a gigabyte of it to disk first."""

from __future__ import annotations

import socket
from pathlib import Path

from server.cli.main import largest_body
from server.web.admin.routes_forms import MAX_UPLOAD_BYTES
from tests.server_process import ServerProcess


def status_of(server: ServerProcess, length: int) -> bytes:
    """The status line answering a POST announcing ``length`` bytes, of which none are sent."""
    host, port = server.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as conn:
        conn.sendall(
            b"POST /api/v1/sync/push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {length}\r\n\r\n".encode()
        )
        return conn.makefile("rb").readline()


def test_a_body_longer_than_any_route_takes_is_refused_unread(tmp_path: Path) -> None:
    assert largest_body() > MAX_UPLOAD_BYTES  # a form with all its files still gets in
    server = ServerProcess(tmp_path / "server")
    (tmp_path / "server").mkdir()
    server.cli("init", "--demo")
    server.start()
    try:
        # Answered at once though not a byte of it came (a socket timeout fails the test).
        assert b" 413 " in status_of(server, largest_body())
        assert b" 413 " in status_of(server, 10 * 1024**3)
    finally:
        server.stop()

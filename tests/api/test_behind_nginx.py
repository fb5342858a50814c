"""A real nginx in front of a real ``gocua serve``: with ``GOCUA_PROXY_HOPS=1`` each client is
its own address (login limits, the audit log), and without it a forwarded address is ignored.

nginx sees every test client at a different loopback address (127.0.0.2, 127.0.0.3: all of
127.0.0.0/8 is loopback on Linux) and appends it to ``X-Forwarded-For``, as it does in front of
a real server; ``gocua serve`` sees only nginx, at 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from server.domain.accounts import LOGIN_LIMIT_IP
from server.domain.db import connect
from tests.api.admin_helpers import PASSWORD, staff
from tests.server_process import ServerProcess, free_port

# Left out of `make test-fast`: starts nginx and two `gocua serve` processes (a few seconds).
pytestmark = pytest.mark.slow

NGINX = "/usr/sbin/nginx"  # Debian's; `make test` installs it (the Makefile's `nginx` target)
SPOOFED = "203.0.113.7"  # what a client claims to be, in its own X-Forwarded-For
CLIENT_A, CLIENT_B = "127.0.0.2", "127.0.0.3"


class _FromAddress(HTTPAdapter):
    """Connections made from one local address, so the server (or nginx) sees that peer."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def client_at(address: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", _FromAddress(address))
    return session


def login(
    session: requests.Session, base: str, username: str, password: str, forwarded_for: str = SPOOFED
) -> int:
    """POST the login form (with its CSRF token); the status code."""
    headers = {"X-Forwarded-For": forwarded_for}
    page = session.get(f"{base}/login", headers=headers, timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = session.post(
        f"{base}/login",
        headers=headers,
        timeout=10,
        allow_redirects=False,
        data={"username": username, "password": password, "csrf_token": token},
    )
    return response.status_code


def audit_ips(data_dir: Path, action: str) -> list[str]:
    with connect(data_dir / "gocua.db") as db:
        return [
            row[0]
            for row in db.execute(
                "SELECT ip FROM audit_log WHERE action = ? ORDER BY id", [action]
            ).fetchall()
        ]


def _server(data_dir: Path, env: dict[str, str]) -> ServerProcess:
    server = ServerProcess(data_dir, extra_env=env)
    data_dir.mkdir(parents=True)
    server.cli("init", "--demo")
    with connect(data_dir / "gocua.db") as db:
        staff(db, "canbo", "reviewer")
        staff(db, "canbo2", "reviewer")
    return server.start()


def _nginx_conf(folder: Path, port: int, backend: int) -> Path:
    temp = {name: folder / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir()
    user = "user root root;\n" if os.geteuid() == 0 else ""  # workers read only tmp_path
    conf = folder / "nginx.conf"
    conf.write_text(f"""
{user}daemon off;
worker_processes 1;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} warn;
events {{}}
http {{
    access_log off;
    client_body_temp_path {temp["body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{backend};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
        }}
    }}
}}
""")
    return conf


@pytest.fixture
def nginx_in_front(tmp_path: Path) -> Iterator[tuple[str, ServerProcess]]:
    """``gocua serve`` with GOCUA_PROXY_HOPS=1 behind nginx: nginx's address, and the server."""
    if not os.access(NGINX, os.X_OK):
        # `make test` installs nginx first, so in CI this never skips.
        pytest.skip(f"{NGINX} is not installed (make nginx)")
    server = _server(tmp_path / "data", {"GOCUA_PROXY_HOPS": "1"})
    folder = tmp_path / "nginx"
    folder.mkdir()
    port = free_port()
    conf = _nginx_conf(folder, port, server.port)
    log = (folder / "stderr.log").open("wb")
    proc = subprocess.Popen(
        [NGINX, "-c", str(conf), "-p", str(folder), "-e", str(folder / "error.log")],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            assert proc.poll() is None, (folder / "error.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "nginx did not listen within 15 s"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", server
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()
        server.stop()


def test_behind_nginx_one_address_is_locked_out_and_another_still_logs_in(
    nginx_in_front: tuple[str, ServerProcess],
) -> None:
    base, server = nginx_in_front
    attacker, colleague = client_at(CLIENT_A), client_at(CLIENT_B)
    for n in range(LOGIN_LIMIT_IP):  # a name each time: only the address's count reaches its limit
        assert login(attacker, base, f"doan{n}", "sai") == 401
    assert login(attacker, base, "canbo", PASSWORD) == 429  # this address is locked out...
    assert login(colleague, base, "canbo2", PASSWORD) == 302  # ...another is not

    # The audit log holds each client's own address: neither nginx's nor the one it claimed.
    assert audit_ips(server.data_dir, "login_failed") == [CLIENT_A] * LOGIN_LIMIT_IP
    assert audit_ips(server.data_dir, "login_blocked") == [CLIENT_A]
    assert audit_ips(server.data_dir, "login") == [CLIENT_B]


def test_with_hops_only_the_proxy_is_trusted_not_a_client_that_reaches_the_server_directly(
    nginx_in_front: tuple[str, ServerProcess],
) -> None:
    _, server = nginx_in_front
    assert login(client_at(CLIENT_A), server.base, "canbo", "sai") == 401
    assert audit_ips(server.data_dir, "login_failed") == [CLIENT_A]


def test_without_hops_a_forwarded_address_sent_to_the_server_is_ignored(tmp_path: Path) -> None:
    server = _server(tmp_path / "data", {"GOCUA_PROXY_HOPS": ""})
    try:
        assert login(client_at(CLIENT_A), server.base, "canbo", "sai") == 401
        assert (
            login(
                client_at(CLIENT_B),
                server.base,
                "canbo",
                "sai",
                forwarded_for=f"{SPOOFED}, 198.51.100.1",
            )
            == 401
        )
    finally:
        server.stop()
    assert audit_ips(server.data_dir, "login_failed") == [CLIENT_A, CLIENT_B]


def test_nginx_is_there_when_make_test_runs() -> None:
    """`make test` installs nginx (its `nginx` target), so the tests above never skip there."""
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    assert re.search(r"^test: .*\bnginx\b", makefile, re.M)

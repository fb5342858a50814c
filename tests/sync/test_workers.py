"""``gocua serve`` with two worker processes (``GOCUA_WORKERS=2``): both serve the one port and
the one database, what they must agree on is shared (records, login limits), a worker that dies
is replaced, and ``kill -9`` of the parent takes its workers with it, leaving the port free."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import requests

from server.domain.db import connect
from sync.client import SyncClient
from tests.api.test_behind_nginx import login
from tests.records import record
from tests.server_process import ServerProcess

# Left out of `make test-fast`: real `gocua serve` processes, killed.
pytestmark = pytest.mark.slow


def workers_of(pid: int) -> set[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(p) for p in children.read_text().split()} if children.exists() else set()


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def until(condition, timeout: float = 30.0) -> bool:  # noqa: ANN001
    """Wait for a condition the processes bring about (not a fixed sleep): True once it holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _server(data_dir: Path) -> tuple[ServerProcess, SyncClient, list[str]]:
    server = ServerProcess(data_dir, extra_env={"GOCUA_WORKERS": "2"}).start()
    phone = SyncClient(server.base)
    body = phone.enroll(server.cli("enroll").strip().splitlines()[-1].split("#enroll=")[1])
    return server, phone, [v["id"] for v in body["villages"]]


def test_two_workers_share_the_port_the_records_and_the_login_limits(tmp_path: Path) -> None:
    server, phone, villages = _server(tmp_path / "server")
    assert server.proc is not None
    try:
        assert len(workers_of(server.proc.pid)) == 2
        batches = [[record(villages[i % 2]) for _ in range(10)] for i in range(12)]
        results: list[list[dict]] = []

        def pusher(mine: list[list[dict]]) -> None:
            # A client of its own, so its connections land on either worker.
            client = SyncClient(server.base, phone.token)
            for batch in mine:
                results.append(client.push_batch(batch)["results"])

        threads = [threading.Thread(target=pusher, args=(batches[i::4],)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert sorted(r["status"] for answer in results for r in answer) == ["applied"] * 120
        # Sent again through fresh connections: whichever worker answers knows them.
        again = SyncClient(server.base, phone.token).push_batch(batches[0])["results"]
        assert {r["status"] for r in again} == {"duplicate"}
        with connect(server.data_dir / "gocua.db") as db:
            assert db.execute("SELECT count(*) FROM records").fetchone()[0] == 120
            assert db.execute("SELECT count(*) FROM revisions").fetchone()[0] == 120
        # Five wrong passwords, each on a new connection (either worker), lock the username.
        for _ in range(5):
            assert login(requests.Session(), server.base, "admin", "wrong password") == 401
        assert login(requests.Session(), server.base, "admin", "wrong password") == 429
    finally:
        server.stop()


def test_a_dead_worker_is_replaced_and_kill_9_of_the_parent_frees_the_port(
    tmp_path: Path,
) -> None:
    server, _, _ = _server(tmp_path / "server")
    assert server.proc is not None
    parent = server.proc.pid
    workers = workers_of(parent)
    passed = False
    try:
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        assert until(lambda: len(workers_of(parent)) == 2 and victim not in workers_of(parent))
        assert requests.get(f"{server.base}/api/v1/health", timeout=10).ok

        workers = workers_of(parent)
        server.kill()
        assert until(lambda: not any(alive(pid) for pid in workers)), "orphaned workers"
        # The port is free again: a new server takes it and answers.
        server.start()
        assert requests.get(f"{server.base}/api/v1/health", timeout=10).ok
        passed = True
    finally:
        server.stop()
        for pid in workers if not passed else ():  # orphans the failure left
            if alive(pid) and f"--port {server.port}" in Path(f"/proc/{pid}/cmdline").read_text(
                errors="replace"
            ).replace("\0", " "):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def test_unless_told_gocua_serve_starts_one_worker_more_than_the_cores(tmp_path: Path) -> None:
    # The process holding the write lock shares its one running thread with its own requests'
    # checks: one process more than the cores keeps them all working meanwhile.
    server = ServerProcess(tmp_path / "server", extra_env={"GOCUA_WORKERS": None}).start()
    assert server.proc is not None
    try:
        expected = min(len(os.sched_getaffinity(0)) + 1, 64)
        assert until(lambda: len(workers_of(server.proc.pid)) == expected)
        assert requests.get(f"{server.base}/login", timeout=10).status_code == 200
    finally:
        server.stop()


def test_a_second_server_on_the_port_of_one_with_workers_is_refused(tmp_path: Path) -> None:
    # Each worker listens on a socket of its own, the kernel spreading connections over them
    # (SO_REUSEPORT): a second server started on the same port must be refused, not let in
    # to take a share of the first one's phones.
    first = ServerProcess(tmp_path / "first", extra_env={"GOCUA_WORKERS": "2"}).start()
    try:
        assert until(lambda: len(workers_of(first.proc.pid)) == 2)  # type: ignore[union-attr]
        second = ServerProcess(
            tmp_path / "second", port=first.port, extra_env={"GOCUA_WORKERS": "2"}
        )
        done = second.refused_start()
        assert done.returncode != 0
        assert f"cannot listen on 127.0.0.1:{first.port}" in done.stderr
        assert requests.get(f"{first.base}/api/v1/health", timeout=10).ok
    finally:
        first.stop()

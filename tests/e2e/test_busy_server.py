"""The collector and a busy server: with one sync slot (``GOCUA_SYNC_SLOTS=1``) taken by another
phone's push that waits for the database's write lock (held here, as a long write would), the
collector's push is answered 503 ``server_busy``. The top bar keeps saying that the server
answers, the record stays waiting on the phone, and once the server is free the collector sends
it again by itself: it arrives once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.domain.db import connect
from sync.client import SyncClient
from tests.e2e.conftest import expect
from tests.e2e.test_home_shell import enroll, finalize_nobody_home
from tests.records import record
from tests.server_process import ServerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture
def busy_server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path / "server", extra_env={"GOCUA_SYNC_SLOTS": "1"}).start()
    yield process
    process.stop()


def test_the_collector_waits_for_a_busy_server_and_sends_again_by_itself(
    busy_server: ServerProcess, phone_page: Any
) -> None:
    server, page = busy_server, phone_page
    app = enroll(server, page)
    other = SyncClient(server.base)
    code = server.cli("enroll").strip().split("#enroll=")[1]
    villages = [v["id"] for v in other.enroll(code)["villages"]]
    pushed: list[Any] = []
    holder = connect(server.data_dir / "gocua.db")
    holder.conn.execute("BEGIN IMMEDIATE")
    released = False
    try:
        # The other phone's push takes the only slot and waits for the write lock.
        blocked = threading.Thread(
            target=lambda: pushed.append(other.push_batch([record(villages[0])])), daemon=True
        )
        blocked.start()
        with page.expect_response(
            lambda r: r.url.endswith("/api/v1/sync/push") and r.status == 503, timeout=30_000
        ) as busy:
            finalize_nobody_home(app)  # the sync after Finalize
        answer = busy.value
        assert answer.headers["retry-after"].isdigit()
        assert answer.json()["code"] == "server_busy"
        # The server answered (busy), it is not "not answering"; the record still waits.
        expect(page.locator("#net")).to_have_text("Máy chủ: kết nối được")
        expect(page.locator("#badge")).to_have_text("1 phiếu chờ gửi")
        holder.conn.execute("ROLLBACK")
        released = True
        # No tap: the collector sends it again after the wait the server asked for.
        expect(page.locator("#badge")).to_have_text("0 phiếu chờ gửi", timeout=60_000)
        blocked.join(timeout=30)
    finally:
        if not released:
            holder.conn.execute("ROLLBACK")
        holder.close()
    assert [r["status"] for r in pushed[0]["results"]] == ["applied"]
    with connect(server.data_dir / "gocua.db") as db:
        assert db.execute("SELECT count(*) FROM records").fetchone()[0] == 2
        assert db.execute("SELECT count(*) FROM revisions").fetchone()[0] == 2

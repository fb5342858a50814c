"""The collector keeps as many batches at the server at once as the server says it has room
for (``batches_at_once`` in a push's answer, three for a phone alone; ``sync.js: inLanes``): a
phone whose last push was answered so, back in signal with 250 visits, sends its three batches
without waiting for the first answer, and each record arrives once. The database's write lock is
held here (as a long write would) so that the three pushes are seen waiting at the server
together, in the real browser's own requests."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from server.domain.db import connect
from tests.e2e.conftest import expect
from tests.e2e.test_home_shell import enroll, finalize_nobody_home
from tests.records import phone_id
from tests.server_process import ServerProcess

pytestmark = pytest.mark.e2e

VISITS = 250  # three batches: 100, 100 and 51 (with the first visit)


def _backup_of_many(page: Any, tmp_path: Path) -> tuple[Path, list[str]]:
    """The phone's backup file with its one finalized visit made ``VISITS`` visits (new ids and
    revisions, as the collector makes them), for the phone to restore."""
    with page.expect_download() as download:
        page.locator("#backup").click()
    path = tmp_path / "backup.json"
    download.value.save_as(path)
    backup = json.loads(path.read_text())
    (visit,) = backup["local"]
    assert visit["state"] == "finalized"
    backup["local"] = [{**visit, "id": phone_id(), "rev": phone_id()} for _ in range(VISITS)]
    backup["records"] = []
    path.write_text(json.dumps(backup))
    return path, [r["id"] for r in backup["local"]]


def test_the_collector_keeps_three_batches_at_the_server_and_each_record_arrives_once(
    server: ServerProcess, phone_page: Any, tmp_path: Path
) -> None:
    page = phone_page
    app = enroll(server, page)
    with page.expect_response(lambda r: r.url.endswith("/sync/push")) as first:
        finalize_nobody_home(app)  # sent at once: the server has room for three
    assert first.value.json()["batches_at_once"] == 3
    expect(page.locator("#badge")).to_have_text("0 phiếu chờ gửi")
    page.context.set_offline(True)  # out of signal: the visits wait on the phone
    finalize_nobody_home(app)
    idle = page.locator("#sync:not([disabled])")
    idle.wait_for(timeout=30_000)  # the sync after Finalize has given up (no network)
    path, ids = _backup_of_many(page, tmp_path)
    page.locator("#restore-file").set_input_files(str(path))
    expect(page.locator("#badge")).to_have_text(f"{VISITS + 1} phiếu chờ gửi")
    # No sync that began before the restore is still trying (it would send the one visit).
    idle.wait_for(timeout=30_000)

    pushes: list[Any] = []
    answered: list[Any] = []
    page.on("request", lambda r: pushes.append(r) if r.url.endswith("/sync/push") else None)
    page.on("response", lambda r: answered.append(r) if r.url.endswith("/sync/push") else None)
    holder = connect(server.data_dir / "gocua.db")
    holder.conn.execute("BEGIN IMMEDIATE")
    released = False
    try:
        page.context.set_offline(False)  # back in signal: the collector syncs by itself
        # The three batches reach the server while none can be written: three at once.
        deadline = time.monotonic() + 20
        while len(pushes) < 3 and time.monotonic() < deadline:
            page.wait_for_timeout(20)  # lets Playwright hand over the page's events
        assert len(pushes) == 3 and not answered
        sizes = sorted(len(json.loads(r.post_data)["items"]) for r in pushes)
        assert sizes == [VISITS + 1 - 200, 100, 100]
        holder.conn.execute("ROLLBACK")
        released = True
        expect(page.locator("#badge")).to_have_text("0 phiếu chờ gửi", timeout=30_000)
    finally:
        if not released:
            holder.conn.execute("ROLLBACK")
        holder.close()
    assert [r.status for r in answered] == [200, 200, 200] and len(pushes) == 3
    with connect(server.data_dir / "gocua.db") as db:
        assert db.execute("SELECT count(*) FROM records").fetchone()[0] == VISITS + 2
        assert db.execute("SELECT count(*) FROM revisions").fetchone()[0] == VISITS + 2
        marks = ",".join("?" * len(ids))
        assert db.execute(f"SELECT count(*) FROM records WHERE id IN ({marks})", ids).fetchone()[
            0
        ] == len(ids)

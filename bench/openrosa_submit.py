"""OpenRosa submissions per second on one server: a real ``gocua serve`` (waitress over
loopback), PHONES Collect clients at once, each sending its share of N filled default surveys
(two members, with a household code) as Collect sends them: one ``HEAD`` for the session, then a
multipart POST each. Every submission is read, mapped, checked against its form and stored as a
record through the collector's push, one transaction each. The XML is made before the clock
starts. ODK Central's soak test aims at 50 submissions/s; the goal here is ten times that.

    .venv/bin/python bench/openrosa_submit.py [N] [PHONES]
"""

from __future__ import annotations

import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from server.domain.db import connect, write_transaction  # noqa: E402
from server.domain.devices import add_collect_device  # noqa: E402
from server.domain.forms import install_form  # noqa: E402
from tests.collect_client import CollectClient, collect_form_definition  # noqa: E402
from tests.records import household_data  # noqa: E402
from tests.server_process import ServerProcess  # noqa: E402


def send(url: str, bodies: list[bytes]) -> int:
    session = requests.Session()
    headers = {"X-OpenRosa-Version": "1.0"}
    head = session.head(f"{url}/submission", headers=headers, timeout=60)
    assert head.status_code == 204, head.status_code
    for body in bodies:
        files = {"xml_submission_file": ("submission.xml", body, "text/xml")}
        response = session.post(f"{url}/submission", files=files, headers=headers, timeout=60)
        assert response.status_code == 201, response.text
    return len(bodies)


def main(n: int = 5_000, phones: int = 8) -> None:
    with tempfile.TemporaryDirectory() as folder:
        server = ServerProcess(Path(folder))
        server.cli("init", "--demo")
        database = Path(folder) / "gocua.db"
        with connect(database) as db, write_transaction(db):
            install_form(db, collect_form_definition())
            user_id = db.execute("SELECT id FROM users WHERE username = 'tnv.demo'").fetchone()[0]
            keys = [add_collect_device(db, user_id)[1] for _ in range(phones)]
            urls = [f"{server.base}/key/{key}" for key in keys]
            codes = [
                row[0]
                for row in db.execute(
                    "SELECT h.code FROM households h JOIN user_villages v"
                    " ON v.village_id = h.village_id WHERE v.user_id = ?",
                    [user_id],
                )
            ]
        server.start()
        try:
            client = CollectClient(urls[0])
            xform = client.download(client.form_list()[0])
            bodies = [
                client.fill(
                    xform, {**household_data(), "household_code": codes[i % len(codes)]}
                ).xml()
                for i in range(n)
            ]
            shares = [bodies[i::phones] for i in range(phones)]
            start = time.perf_counter()
            with ThreadPoolExecutor(phones) as pool:
                sent = sum(pool.map(send, urls, shares))
            seconds = time.perf_counter() - start
        finally:
            server.stop()
        with connect(database) as db:
            stored = db.execute("SELECT count(*) FROM records").fetchone()[0]
    assert sent == stored == n, (sent, stored, n)
    print(
        f"{n:,} OpenRosa submissions from {phones} phones at once: {seconds:.1f} s,"
        f" {n / seconds:,.0f} submissions/s (goal: 500/s)"
    )


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))

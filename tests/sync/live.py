"""A real Gõ Cửa server on a loopback port inside the test process: waitress serving
``create_app()`` on its own SQLite file, stopped and started again in a fraction of a second
(tests that need a separate process, for kill -9, use tests/server_process.py)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import requests
import waitress
from waitress import wasyncore

from server import create_app
from server.domain.db import connect, write_transaction
from server.domain.devices import create_enrollment_code
from server.domain.seed import DEMO_VOLUNTEER, load_default_form, seed_demo
from tests.server_process import free_port


class LiveServer:
    def __init__(self, data_dir: Path, port: int | None = None, seed: bool = True) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.database = data_dir / "gocua.db"
        self.seed = seed
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> LiveServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        app = create_app({"DATA_DIR": str(self.data_dir), "DATABASE": str(self.database),
                          "SECRET_KEY": "test-secret-key-of-the-test-suite-only"})
        if self.seed:
            with connect(self.database) as db:
                load_default_form(db)
                seed_demo(db)
        self._server = waitress.create_server(app, host="127.0.0.1", port=self.port,
                                              threads=4, ident="gocua-test")
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.base}/api/v1/health", timeout=1).ok:
                    return self
            except requests.ConnectionError:
                time.sleep(0.02)
        raise RuntimeError("the live server did not answer")

    def stop(self) -> None:
        if self._server is None:
            return
        server = self._server
        # Closed from inside its own loop (a thunk through waitress's trigger): closing the
        # sockets from this thread would race the loop's select().
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        if self._thread:
            self._thread.join(timeout=10)
        server.task_dispatcher.shutdown()
        self._server = self._thread = None

    def db(self) -> Any:
        return connect(self.database)

    def enrollment_code(self, username: str = DEMO_VOLUNTEER) -> str:
        with connect(self.database) as db:
            user_id = db.execute("SELECT id FROM users WHERE username = ?",
                                 [username]).fetchone()[0]
            with write_transaction(db):
                return create_enrollment_code(db, user_id)

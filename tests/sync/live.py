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
        self.app: Any = None  # the Flask app being served

    def start(self) -> LiveServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        app = create_app(
            {
                "DATA_DIR": str(self.data_dir),
                "DATABASE": str(self.database),
                "SECRET_KEY": "test-secret-key-of-the-test-suite-only",
            }
        )
        self.app = app
        if self.seed:
            with connect(self.database) as db:
                load_default_form(db)
                seed_demo(db)
        self._server = waitress.create_server(
            app, host="127.0.0.1", port=self.port, threads=4, ident="gocua-test"
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.base}/api/v1/health", timeout=1).ok:
                    return self
            except (requests.ConnectionError, requests.Timeout):
                # A loaded machine can take more than a second over the first answer: not
                # ready yet, which the deadline bounds.
                time.sleep(0.02)
        raise RuntimeError("the live server did not answer")

    def stop(self) -> None:
        """Stop as a process would: no new connections, the requests being served finish, the
        open connections are closed, and only then the loop and its trigger go away.

        The order matters. waitress's task threads hold the channels and pull the trigger (a
        raw pipe fd) when they finish a request; closing everything at once from one thunk let
        a task thread still in flight write to a closed fd -- EBADF, or worse, a byte into
        whatever the next server had just opened on that number. And a thunk that closes the
        trigger can run before pull_trigger() has written its wake-up byte (another pull woke
        the loop first), so our own write then hit a closed fd: EBADF in stop()."""
        if self._server is None:
            return
        server, thread = self._server, self._thread
        assert thread is not None
        # Everything that touches the loop's map runs in the loop (thunks through the trigger):
        # closing a socket from this thread would race its select(). First the listening
        # socket alone (BaseWSGIServer.close() would close the trigger with it).
        self._in_loop(server, lambda: wasyncore.dispatcher.close(server))
        # The loop keeps running meanwhile: a task thread may wait for it to flush its answer.
        server.task_dispatcher.shutdown(timeout=30)
        if server.task_dispatcher.threads:
            raise RuntimeError(f"{self.base}: a request still running 30 s after stop()")

        def close_connections() -> None:
            server.trigger.del_channel()  # out of the map (the loop ends), but still open
            wasyncore.close_all(server._map)

        self._in_loop(server, close_connections)
        thread.join(timeout=10)
        if thread.is_alive():
            raise RuntimeError(f"{self.base}: the server loop did not end")
        # Nothing can pull the trigger any more: no task thread, no loop, no pending thunk.
        server.trigger.close()
        self._server = self._thread = None

    @staticmethod
    def _in_loop(server: Any, thunk: Any) -> None:
        """Run ``thunk`` in the server's loop thread and wait for it; its error is raised here
        (the trigger would only log it)."""
        done = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            try:
                thunk()
            except BaseException as error:  # noqa: BLE001 -- handed to the caller below
                errors.append(error)
            finally:
                done.set()

        server.trigger.pull_trigger(run)
        if not done.wait(timeout=10):
            raise RuntimeError("the server loop did not run a thunk within 10 s")
        if errors:
            raise errors[0]

    def db(self) -> Any:
        return connect(self.database)

    def enrollment_code(self, username: str = DEMO_VOLUNTEER) -> str:
        with connect(self.database) as db:
            user_id = db.execute("SELECT id FROM users WHERE username = ?", [username]).fetchone()[
                0
            ]
            with write_transaction(db):
                return create_enrollment_code(db, user_id)

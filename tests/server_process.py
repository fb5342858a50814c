"""A real Gõ Cửa server in its own process (``gocua serve``) that tests stop, kill and start."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        extra_env: dict[str, str | None] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.extra_env = extra_env or {}
        self.serve_args: list[str] = []  # more options of `gocua serve` (``--threads 8``)
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "server.log"

    @property
    def root(self) -> Path:
        """The checkout whose code the server and its commands run (``bench/trees.py`` runs
        another commit's): first on their path, as their working folder, since ``python -m``
        puts the working folder before ``PYTHONPATH``."""
        return ROOT

    @property
    def env(self) -> dict[str, str]:
        # A None in extra_env leaves that variable out: gocua serve's own default then.
        given = {
            **os.environ,
            "GOCUA_DATA_DIR": str(self.data_dir),
            "GOCUA_PORT": str(self.port),
            "GOCUA_HOST": "127.0.0.1",
            "GOCUA_PUBLIC_URL": self.base,
            "PYTHONPATH": str(self.root),
            # One process, as the tests' servers always ran; a test about workers sets more.
            "GOCUA_WORKERS": "1",
            **self.extra_env,
        }
        return {name: value for name, value in given.items() if value is not None}

    def refused_start(self) -> subprocess.CompletedProcess[str]:
        """``gocua serve`` on this server's port and data, for a start that must be refused: its
        exit and what it printed (a start that serves instead ends in the timeout's error)."""
        return subprocess.run(
            [sys.executable, "-m", "server.cli", "serve", "--port", str(self.port)],
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def cli(self, *args: str) -> str:
        """Run ``gocua ARGS`` against this server's data; returns its output."""
        done = subprocess.run(
            [sys.executable, "-m", "server.cli", *args],
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout

    def add_staff(self, command: str, username: str, *options: str) -> str:
        """``gocua user COMMAND USERNAME OPTIONS`` for a staff account, returning its printed
        password already past the first login's change: for the tests about what comes after
        (tests/unit/test_cli.py checks the change is asked for)."""
        out = self.cli("user", command, username, *options)
        password = re.search(r"password: (\S+)", out)
        assert password, out
        with sqlite3.connect(self.data_dir / "gocua.db") as db:
            db.execute("UPDATE users SET must_change_password = 0 WHERE username = ?", [username])
        return password.group(1)

    def start(self) -> ServerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    *(sys.executable, "-m", "server.cli", "serve", "--demo"),
                    *("--port", str(self.port), *self.serve_args),
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if requests.get(f"{self.base}/api/v1/health", timeout=1).ok:
                    return self
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("server did not answer within 30 s")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=15)
        self.proc = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

"""``gocua serve`` on every core: worker processes forked from one parent, each running waitress
on the listening socket they share (the kernel hands each new connection to one of them).

Python runs one thread at a time in a process, so a single waitress process used at most one
core of a server. Everything the workers must agree on already lives in SQLite, which WAL lets
several processes use at once: login and enrollment limits are counted from the audit log, the
pull feed's sequence and the dashboards' counts are tables. What stays in a process is safe
there: its connection pool, the parsed forms and files (cached by version and by mtime, both
never changing under the same key) and the bound on its sync work (``GOCUA_SYNC_SLOTS`` is per
process).

The parent serves nothing: it forks the workers after the app is built (no thread and no open
database connection is carried across a fork), starts a new one when one dies, and stops them
all on SIGTERM or SIGINT. Should the parent itself be killed (``kill -9``), each worker sees its
end of a pipe close and exits at once, so no orphan keeps the port.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

# A worker that dies this soon after its start is not restarted in a loop faster than this.
RESTART_PAUSE = 1.0


def listening_socket(host: str, port: int, backlog: int = 1024) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.setblocking(False)
    return sock


def serve_forked(serve: Callable[[socket.socket], Any], sock: socket.socket, workers: int) -> None:
    """Run ``serve(sock)`` in ``workers`` child processes until told to stop."""
    parent_alive, parent_end = os.pipe()
    children: dict[int, float] = {}  # pid → when it started
    stopping = False

    def start_one() -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            os.close(parent_end)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            threading.Thread(target=_exit_with_parent, args=(parent_alive,), daemon=True).start()
            try:
                serve(sock)
            finally:
                os._exit(1)
        children[pid] = time.monotonic()

    def stop(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            _signal(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(workers):
        start_one()
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        started = children.pop(pid, None)
        if started is None or stopping:
            continue
        print(
            f"gocua: worker {pid} ended ({_how(status)}); starting another",
            file=sys.stderr,
            flush=True,
        )
        time.sleep(max(0.0, started + RESTART_PAUSE - time.monotonic()))
        if not stopping:
            start_one()


def _exit_with_parent(read_end: int) -> None:
    # The parent holds the only write end: reading returns (EOF) only once it is gone.
    os.read(read_end, 1)
    os._exit(0)


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
        os.kill(pid, signum)


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit {os.waitstatus_to_exitcode(status)}"

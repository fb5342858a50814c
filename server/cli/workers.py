"""``gocua serve`` on every core: worker processes forked from one parent, each running waitress
on a listening socket of its own on the one port (``SO_REUSEPORT``: the kernel spreads new
connections evenly over them).

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


def listening_socket(
    host: str, port: int, backlog: int = 1024, *, shared: bool = False
) -> socket.socket:
    """A socket listening on ``host:port``; ``shared``: one of several (``SO_REUSEPORT``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.setblocking(False)
    return sock


def listening_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` sockets on one port, one a worker: the kernel spreads new connections evenly
    over them. On one socket shared by all, the worker that called accept first took each
    connection, and 200 phones' connections (kept alive) landed 98, 48 and 41 on three
    workers: the first turned phones away while the others had room. Refused (OSError) when
    anything listens on the port already: a first socket, not shared, checks it, since
    sockets that share a port would let a second server join this one's."""
    listening_socket(host, port).close()
    return [listening_socket(host, port, shared=True) for _ in range(count)]


def serve_forked(
    serve: Callable[[int], Any],
    socks: list[socket.socket],
    on_end: Callable[[int], Any] | None = None,
) -> None:
    """Run ``serve(index)`` in a child process for each of ``socks`` (worker ``index`` serves
    ``socks[index]``) until told to stop; the parent keeps them open, so that a worker started
    in place of one that died takes over its socket and the connections waiting on it.
    ``on_end(index)``: in the parent, once worker ``index`` has ended (what it left behind in
    shared memory is no longer so)."""
    parent_alive, parent_end = os.pipe()
    children: dict[int, tuple[float, int]] = {}  # pid → when it started, its socket's index
    stopping = False

    def start_one(slot: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            os.close(parent_end)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            threading.Thread(target=_exit_with_parent, args=(parent_alive,), daemon=True).start()
            try:
                serve(slot)
            finally:
                os._exit(1)
        children[pid] = (time.monotonic(), slot)

    def stop(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            _signal(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for slot in range(len(socks)):
        start_one(slot)
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        known = children.pop(pid, None)
        if known is not None and on_end is not None:
            on_end(known[1])
        if known is None or stopping:
            continue
        started, slot = known
        print(
            f"gocua: worker {pid} ended ({_how(status)}); starting another",
            file=sys.stderr,
            flush=True,
        )
        time.sleep(max(0.0, started + RESTART_PAUSE - time.monotonic()))
        if not stopping:
            start_one(slot)


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

"""A fault-injecting HTTP proxy on loopback, between a sync client and a real server.

Each request gets one fate, drawn from a seeded random generator while faults are on:

- ``pass``            forwarded, the answer relayed;
- ``drop_request``    the connection is closed, nothing reaches the server;
- ``drop_response``   forwarded and applied by the server, then the answer is thrown away;
- ``repeat``          forwarded twice, the second answer relayed;
- ``cut_request``     half the body reaches the server, then the connection is cut;
- ``cut_response``    forwarded, and half of the answer's bytes reach the client;
- ``hold``            kept back (the client sees a dropped connection) and delivered later,
                      after newer requests: the server sees batches out of order;
- ``unavailable``     answered 503 by the proxy itself.

One thread per connection, at most ``max_threads`` at once (the accept loop waits for a slot).
Every request is answered with ``Connection: close``, so one connection carries one request.
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
from collections import Counter, deque
from typing import Any

FAULTS = (
    "drop_request",
    "drop_response",
    "repeat",
    "cut_request",
    "cut_response",
    "hold",
    "unavailable",
)
_UNAVAILABLE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html\r\n"
    b"Content-Length: 23\r\nConnection: close\r\n\r\n<h1>503 proxy busy</h1>"
)


def _read_request(conn: socket.socket) -> bytes | None:
    """One whole HTTP request (headers and Content-Length body), or None if the client left."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    # One request per connection, to the server as to the client.
    lines = [ln for ln in head.split(b"\r\n") if not ln.lower().startswith(b"connection:")]
    return b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + body


class FaultProxy:
    def __init__(
        self,
        target_port: int,
        *,
        seed: int = 0,
        rate: float = 0.3,
        faults: tuple[str, ...] = FAULTS,
        max_threads: int = 16,
    ) -> None:
        self.target = ("127.0.0.1", target_port)
        self.random = random.Random(seed)
        self.rate = rate
        self.faults = faults
        self.enabled = True
        self.counts: Counter[str] = Counter()
        self.held: deque[bytes] = deque()
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_threads)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        # close() alone does not wake a thread blocked in accept(); shutdown() does.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(timeout=5)

    def heal(self) -> int:
        """Faults off; the requests held back reach the server now (late and out of order).
        Returns how many were delivered."""
        self.enabled = False
        delivered = 0
        while True:
            with self._lock:
                if not self.held:
                    return delivered
                request = self.held.popleft()
            self._forward(request)
            with self._lock:
                self.counts["late_delivery"] += 1
            delivered += 1

    # -- serving -------------------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._stopped.is_set():
            self._slots.acquire()
            try:
                conn, _ = self._listener.accept()
            except OSError:
                self._slots.release()
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _fate(self) -> str:
        with self._lock:
            if not self.enabled or self.random.random() >= self.rate:
                return "pass"
            return self.random.choice(self.faults)

    def _late_delivery(self) -> bytes | None:
        with self._lock:
            if self.held and self.random.random() < 0.5:
                return self.held.popleft()
        return None

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(30)
            request = _read_request(conn)
            if request is None:
                return
            late = self._late_delivery()
            if late is not None:
                self._forward(late)  # an older request overtaken by this one arrives now
                with self._lock:
                    self.counts["late_delivery"] += 1
            fate = self._fate()
            with self._lock:
                self.counts[fate] += 1
            self._apply(fate, request, conn)
        except OSError:
            pass
        finally:
            conn.close()
            self._slots.release()

    def _apply(self, fate: str, request: bytes, conn: socket.socket) -> None:
        if fate == "unavailable":
            conn.sendall(_UNAVAILABLE)
        elif fate == "hold":
            with self._lock:
                self.held.append(request)
        elif fate == "cut_request":
            head, _, body = request.partition(b"\r\n\r\n")
            self._forward(head + b"\r\n\r\n" + body[: len(body) // 2], cut=True)
        elif fate == "drop_response":
            self._forward(request)
        elif fate == "repeat":
            self._forward(request)
            conn.sendall(self._forward(request))
        elif fate == "cut_response":
            answer = self._forward(request)
            conn.sendall(answer[: len(answer) // 2])
        elif fate == "pass":
            conn.sendall(self._forward(request))
        # drop_request: nothing reaches the server

    def _forward(self, request: bytes, cut: bool = False) -> bytes:
        with socket.create_connection(self.target, timeout=60) as upstream:
            upstream.sendall(request)
            if cut:
                upstream.shutdown(socket.SHUT_WR)  # the rest of the body never comes
            chunks = []
            while chunk := upstream.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

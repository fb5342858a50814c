"""Many phones pushing at once, as light on the machine as a load can be made: the benches run
on the server's own two cores, and 200 phones as ``requests`` threads took about 1 ms of CPU a
record for themselves (more than the server's 0.85 ms), so the figures said as much about the
phones as about the server. Here every phone is a coroutine on one event loop in a process of
its own, its requests' bytes built before the clock starts, its answers read with no HTTP
library: what each phone costs is one socket write and a small read.

A phone does what ``sync.client`` does with a push: the next batch only after this one is
acknowledged; a busy answer (429/503) is counted, not an error, and the batch is sent again
after the wait the body says to the millisecond (``retry_after_ms``), else ``Retry-After``;
a cut connection is opened again after the client's backoff.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import resource
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sync.client import RetryPolicy

POLICY = RetryPolicy()
PATH = "/api/v1/sync/push"


@dataclass
class Tally:
    requests: list[float] = field(default_factory=list)  # seconds per push request answered
    acks: list[float] = field(default_factory=list)  # seconds from first send to applied
    busy: int = 0
    errors: list[str] = field(default_factory=list)
    records: int = 0
    cpu: float = 0.0  # the phones' own CPU seconds
    wall: float = 0.0


def request_bytes(host: str, token: str, body: bytes) -> bytes:
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\nContent-Encoding: gzip\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionResetError("closed before an answer")
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while size := int((await reader.readline()).split(b";")[0], 16):
            parts.append(await reader.readexactly(size))
            await reader.readline()
        await reader.readline()
        body = b"".join(parts)
    else:
        body = await reader.read()
    return status, headers, body


def _wait(headers: dict[str, str], body: bytes) -> float:
    try:
        precise = json.loads(body).get("retry_after_ms")
    except (ValueError, AttributeError):
        precise = None
    if isinstance(precise, int) and precise > 0:
        return min(max(precise / 1000, 0.1), POLICY.cap)
    header = float(headers.get("retry-after") or 0)
    return min(max(header, 1.0), POLICY.cap) if header > 0 else 0.0


async def _phone(
    host: str, port: int, requests: list[bytes], batch: int, tally: Tally, start: asyncio.Event
) -> None:
    await start.wait()
    reader = writer = None
    for request in requests:
        first = time.perf_counter()
        attempt = 0
        while attempt < POLICY.attempts:
            began = time.perf_counter()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                writer.write(request)
                status, headers, body = await _answer(reader)  # type: ignore[arg-type]
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as error:
                tally.errors.append(type(error).__name__)
                if writer is not None:
                    writer.close()
                reader = writer = None
                await asyncio.sleep(POLICY.delay(attempt))
                attempt += 1
                continue
            took = time.perf_counter() - began
            tally.requests.append(took)
            if headers.get("connection", "").lower() == "close":
                writer.close()  # type: ignore[union-attr]
                reader = writer = None
            if status in (429, 503):
                tally.busy += 1
                wait = _wait(headers, body)
                if wait <= 0:
                    attempt += 1
                await asyncio.sleep(wait if wait > 0 else POLICY.delay(attempt))
                continue
            statuses = (
                {r["status"] for r in json.loads(body)["results"]} if status == 200 else {status}
            )
            if statuses == {"applied"}:
                tally.acks.append(time.perf_counter() - first)
                tally.records += batch
            else:
                tally.errors.append(str(sorted(map(str, statuses))))
            break
        else:
            tally.errors.append("gave up")
    if writer is not None:
        writer.close()


async def _all(base: str, tokens: list[str], bodies: list[list[bytes]], batch: int) -> Tally:
    url = urlsplit(base)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    tally = Tally()
    start = asyncio.Event()
    phones = [
        asyncio.create_task(
            _phone(
                host, port, [request_bytes(url.netloc, token, b) for b in own], batch, tally, start
            )
        )
        for token, own in zip(tokens, bodies, strict=True)
    ]
    await asyncio.sleep(0)  # every phone waiting at the start line
    usage = resource.getrusage(resource.RUSAGE_SELF)
    began = time.perf_counter()
    start.set()
    await asyncio.gather(*phones)
    tally.wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_SELF)
    tally.cpu = after.ru_utime - usage.ru_utime + after.ru_stime - usage.ru_stime
    return tally


def _child(base: str, tokens: list[str], bodies: list[list[bytes]], batch: int, out: Any) -> None:
    out.put(asyncio.run(_all(base, tokens, bodies, batch)))


def push_together(base: str, tokens: list[str], bodies: list[list[bytes]], batch: int) -> Tally:
    """Each token's phone pushes its bodies (gzip JSON batches of ``batch`` records) in order,
    all phones at once, from a process of their own; what they saw, and their CPU."""
    out: Any = multiprocessing.Queue()
    child = multiprocessing.Process(target=_child, args=(base, tokens, bodies, batch, out))
    child.start()
    tally = out.get(timeout=3600)
    child.join()
    return tally  # type: ignore[no-any-return]

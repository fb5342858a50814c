"""Many phones pushing at once, as light on the machine as a load can be made: the benches run
on the server's own two cores, and 200 phones as ``requests`` threads took about 1 ms of CPU a
record for themselves (more than the server's 0.85 ms), so the figures said as much about the
phones as about the server. Here every phone is a coroutine on one event loop in a process of
its own, its requests' bytes built before the clock starts, its answers read with no HTTP
library: what each phone costs is one socket write and a small read.

A phone does what the collector does with a push (``push_together``: as many batches at the
server at once as its last answer said, at most three, each on a connection of its own, one at a
time after a busy answer), or what ODK Collect does with its forms (``collect_together``: one
``HEAD``, then a multipart POST a form, the next only after this one is answered); a busy answer
(429/503) is counted, not an error, and the request is sent again after the wait the body says
to the millisecond (``retry_after_ms``), else ``Retry-After``; a cut connection is opened again
after the sync client's backoff.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import multiprocessing
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sync.client import RetryPolicy

POLICY = RetryPolicy()
PATH = "/api/v1/sync/push"
# Batches a phone keeps at the server at once, as the collector does (pwa/js/sync.js: IN_FLIGHT;
# one at a time after a busy answer). ODK Collect sends one form at a time.
IN_FLIGHT = 3


@dataclass
class Tally:
    requests: list[float] = field(default_factory=list)  # seconds per push request answered
    acks: list[float] = field(default_factory=list)  # seconds from first send to applied
    busy: int = 0
    errors: list[str] = field(default_factory=list)
    records: int = 0
    cpu: float = 0.0  # the phones' own CPU seconds
    wall: float = 0.0


Judge = Callable[[int, bytes], tuple[int, "str | None"]]


def push_request(host: str, token: str, body: bytes) -> bytes:
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\nContent-Encoding: gzip\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def collect_head(host: str, key: str) -> bytes:
    return (
        f"HEAD /key/{key}/submission HTTP/1.1\r\nHost: {host}\r\nX-OpenRosa-Version: 1.0\r\n\r\n"
    ).encode()


BOUNDARY = "gocua-bench-3f9c2a"


def collect_post(host: str, key: str, xml: bytes) -> bytes:
    body = (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="xml_submission_file";'
            ' filename="submission.xml"\r\nContent-Type: text/xml\r\n\r\n'
        ).encode()
        + xml
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    head = (
        f"POST /key/{key}/submission HTTP/1.1\r\nHost: {host}\r\nX-OpenRosa-Version: 1.0\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _answer(
    reader: asyncio.StreamReader, head: bool = False
) -> tuple[int, dict[str, str], bytes]:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionResetError("closed before an answer")
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if head or status in (204, 304):
        body = b""
    elif "content-length" in headers:
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
    try:
        header = float(headers.get("retry-after") or 0)
    except ValueError:  # an HTTP date: the backoff then
        return 0.0
    return min(max(header, 1.0), POLICY.cap) if header > 0 else 0.0


def push_judge(batch: int, status: int, body: bytes) -> tuple[int, str | None]:
    """A push's answer: its records if every one was applied, else what went wrong."""
    statuses = {r["status"] for r in json.loads(body)["results"]} if status == 200 else {status}
    return (batch, None) if statuses == {"applied"} else (0, str(sorted(map(str, statuses))))


def collect_judge(status: int, body: bytes) -> tuple[int, str | None]:
    """An OpenRosa answer: HEAD's 204 (no record), a submission made a record (one), else an
    error (a 201 that kept it waiting, or a resend, stored no record)."""
    if status == 204:
        return 0, None
    if status == 201 and body.endswith(b"/ Submission received.</message></OpenRosaResponse>"):
        return 1, None
    return 0, f"{status} {body[:300]!r}"


@dataclass
class _Phone:
    """One phone: its requests still to send, how many it may have at the server at once
    (``bound``, at most ``most``), its idle connections and the requests at work."""

    waiting: list[bytes]
    most: int
    bound: int = 1
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = field(default_factory=list)
    running: set[asyncio.Task[None]] = field(default_factory=set)


async def _phone(
    host: str,
    port: int,
    requests: list[bytes],
    judge: Judge,
    tally: Tally,
    start: asyncio.Event,
    in_flight: int = 1,
) -> None:
    """A phone's requests in order of starting, at most ``in_flight`` at once, each on a
    connection of its own: one to begin with, then as many as the server's last answer had
    room for (a push's ``batches_at_once``), one after a busy answer, as the collector does
    (``pwa/js/sync.js: inLanes``)."""
    await start.wait()
    phone = _Phone(list(requests), in_flight)
    while phone.waiting or phone.running:
        while phone.waiting and len(phone.running) < min(phone.bound, phone.most):
            task = asyncio.create_task(_send(host, port, phone, phone.waiting.pop(0), judge, tally))
            phone.running.add(task)
        _, pending = await asyncio.wait(phone.running, return_when=asyncio.FIRST_COMPLETED)
        phone.running = set(pending)
    for _, writer in phone.idle:
        writer.close()


async def _send(
    host: str, port: int, phone: _Phone, request: bytes, judge: Judge, tally: Tally
) -> None:
    reader, writer = phone.idle.pop() if phone.idle else (None, None)
    first = time.perf_counter()
    attempt = 0
    while attempt < POLICY.attempts:
        began = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            writer.write(request)
            status, headers, body = await _answer(
                reader,  # type: ignore[arg-type]
                request.startswith(b"HEAD "),
            )
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
            writer.close()
            reader = writer = None
        if status in (429, 503):
            tally.busy += 1
            phone.bound = 1
            wait = _wait(headers, body)
            if wait <= 0:
                attempt += 1
            await asyncio.sleep(wait if wait > 0 else POLICY.delay(attempt))
            continue
        phone.bound = _room(status, body)
        records, error = judge(status, body)
        if error is None:
            if records:
                tally.acks.append(time.perf_counter() - first)
            tally.records += records
        else:
            tally.errors.append(error)
        break
    else:
        tally.errors.append("gave up")
    if writer is not None:
        phone.idle.append((reader, writer))  # type: ignore[arg-type]


def lanes_arg(text: str) -> int:
    """A bench's option of batches at once: a whole number from 1."""
    try:
        lanes = int(text)
    except ValueError:
        lanes = 0
    if lanes < 1:
        raise argparse.ArgumentTypeError(f"a whole number from 1, not {text!r}")
    return lanes


def room_in(answer: Any) -> int:
    """The batches a push's answer (parsed) says the server has room for, as the collector
    reads it (``pwa/js/sync.js: lanesAfter``, before its bound): a whole number from 1, else
    1, and 1 when it says nothing."""
    room = answer.get("batches_at_once") if isinstance(answer, dict) else None
    return room if isinstance(room, int) and not isinstance(room, bool) and room >= 1 else 1


def _room(status: int, body: bytes) -> int:
    if status != 200 or not body.startswith(b"{"):
        return 1
    try:
        return room_in(json.loads(body))
    except ValueError:
        return 1


async def _all(base: str, requests: list[list[bytes]], judge: Judge, in_flight: int = 1) -> Tally:
    url = urlsplit(base)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    tally = Tally()
    start = asyncio.Event()
    phones = [
        asyncio.create_task(_phone(host, port, own, judge, tally, start, in_flight))
        for own in requests
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


def _child(base: str, requests: list[list[bytes]], judge: Judge, in_flight: int, out: Any) -> None:
    try:
        out.put(asyncio.run(_all(base, requests, judge, in_flight)))
    except BaseException as error:  # told to the bench, not left waiting for a tally
        out.put(RuntimeError(f"the phones failed: {error!r}"))
        raise


def send_together(
    base: str, requests: list[list[bytes]], judge: Judge, in_flight: int = 1
) -> Tally:
    """Each phone sends its requests (whole HTTP/1.1 requests, bytes) in order of starting,
    ``in_flight`` at once (each of them after the one before on its connection is answered and
    judged), all phones at once, from a process of their own; what they saw, and their CPU."""
    out: Any = multiprocessing.Queue()
    child = multiprocessing.Process(target=_child, args=(base, requests, judge, in_flight, out))
    child.start()
    tally = out.get(timeout=3600)
    child.join()
    if isinstance(tally, Exception):
        raise tally
    return tally  # type: ignore[no-any-return]


def push_together(
    base: str,
    tokens: list[str],
    bodies: list[list[bytes]],
    batch: int,
    in_flight: int = IN_FLIGHT,
) -> Tally:
    """Each token's phone pushes its bodies (gzip JSON batches of ``batch`` records),
    ``in_flight`` at once, as the collector does."""
    netloc = urlsplit(base).netloc
    requests = [
        [push_request(netloc, token, body) for body in own]
        for token, own in zip(tokens, bodies, strict=True)
    ]
    return send_together(base, requests, functools.partial(push_judge, batch), in_flight)


def collect_together(base: str, keys: list[str], submissions: list[list[bytes]]) -> Tally:
    """Each app user key's Collect phone: one ``HEAD``, then a multipart POST of each of its
    submissions' XML, as ODK Collect sends a form with no files."""
    netloc = urlsplit(base).netloc
    requests = [
        [collect_head(netloc, key)] + [collect_post(netloc, key, xml) for xml in own]
        for key, own in zip(keys, submissions, strict=True)
    ]
    return send_together(base, requests, collect_judge)

"""The Python sync client: what the tests, the CLI and a province replication speak to a server.

One ``requests.Session`` (connection reuse), a timeout on every call, and retries with
exponential backoff and full jitter on network errors, 429 and 5xx only -- never on another
4xx, which repeating cannot fix. Every call of the protocol is safe to repeat, so a retry after a
response was lost on the way back is harmless: the server answers ``duplicate``.

This module never imports the server or Flask.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import requests

from sync.protocol import DEFAULT_PULL_LIMIT, MAX_BATCH_BYTES, MAX_BATCH_ITEMS, PROTOCOL_VERSION

# Room for the envelope ({"items": [...], "upstream": ...}) under the server's byte limit.
BATCH_BYTES = MAX_BATCH_BYTES - 50_000
_NETWORK_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class SyncError(Exception):
    """A sync call that did not succeed."""


class HttpError(SyncError):
    """The server answered with an error status; ``code`` and ``body`` are its error body."""

    def __init__(self, status: int, body: Any, retry_after: float = 0.0) -> None:
        self.status = status
        self.retry_after = retry_after
        self.body = body if isinstance(body, dict) else {}
        self.code = self.body.get("code", "")
        text = (self.body.get("message") or {}).get("en", "")
        super().__init__(f"HTTP {status} {self.code}: {text}".rstrip(": "))


class AuthError(HttpError):
    """401: no token, or a revoked or unknown one."""


class GarbledResponse(SyncError):
    """A success status with a body that is not the JSON promised (cut on the way)."""


class RetriesExhausted(SyncError):
    """Still failing after every attempt; ``last`` is the final error."""

    def __init__(self, last: BaseException, attempts: int) -> None:
        super().__init__(f"gave up after {attempts} attempts: {last}")
        self.last = last


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt n waits uniformly in [0, min(cap, base·2ⁿ)]
    (1 s, 2 s, 4 s … up to 5 minutes), so that many phones coming back at once spread out. An
    answer with ``Retry-After`` (a busy server's 503, a 429) waits what it says instead."""

    attempts: int = 8
    base: float = 1.0
    cap: float = 300.0

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        return rand() * min(self.cap, self.base * 2**attempt)


def is_retriable(error: BaseException) -> bool:
    if isinstance(error, HttpError):
        return error.status == 429 or error.status >= 500
    return isinstance(error, (*_NETWORK_ERRORS, GarbledResponse))


def encoded(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def split_batches(
    items: Iterable[Any], max_items: int = MAX_BATCH_ITEMS, max_bytes: int = BATCH_BYTES
) -> Iterator[list[Any]]:
    """Consecutive batches within the protocol's limits, in order."""
    batch: list[Any] = []
    size = 0
    for item in items:
        item_size = len(encoded(item)) + 1
        if batch and (len(batch) >= max_items or size + item_size > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item_size
    if batch:
        yield batch


class SyncClient:
    """A client of one Gõ Cửa server. ``token`` is a device token or a server peer's."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: tuple[float, float] = (5.0, 60.0),
        retry: RetryPolicy = RetryPolicy(),
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        gzip_from: int = 1024,
    ) -> None:
        self.base = base_url.rstrip("/") + "/api/v1/"
        self.token = token
        self.timeout = timeout
        self.retry = retry
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = f"gocua-sync/{PROTOCOL_VERSION}"
        self.sleep, self.rand, self.gzip_from = sleep, rand, gzip_from
        self.attempts = 0  # requests sent, retries included (for reports and tests)

    def close(self) -> None:
        self.session.close()

    # -- transport -------------------------------------------------------------------------------
    def _once(
        self,
        method: str,
        path: str,
        body: bytes | None,
        headers: dict[str, str],
        params: dict[str, Any] | None,
        want_json: bool,
    ) -> Any:
        self.attempts += 1
        response = self.session.request(
            method,
            self.base + path,
            data=body,
            params=params,
            headers=headers,
            timeout=self.timeout,
        )
        if response.status_code >= 400 and not (method == "HEAD" and response.status_code == 404):
            try:
                error_body = response.json()
            except ValueError:
                error_body = None
            error_type = AuthError if response.status_code == 401 else HttpError
            raise error_type(
                response.status_code, error_body, _seconds(response.headers.get("Retry-After"))
            )
        if not want_json:
            return response
        try:
            return response.json()
        except ValueError:
            raise GarbledResponse(f"{method} {path}: the body is not JSON") from None

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: bytes | None = None,
        params: dict[str, Any] | None = None,
        want_json: bool = True,
        content_type: str = "application/json",
    ) -> Any:
        """One call with retries; raises HttpError at once, RetriesExhausted at the end."""
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = data
        if json_body is not None:
            body = encoded(json_body)
            if len(body) >= self.gzip_from:
                body = gzip.compress(body, compresslevel=5)
                headers["Content-Encoding"] = "gzip"
        if body is not None:
            headers["Content-Type"] = content_type
        for attempt in range(self.retry.attempts):
            try:
                return self._once(method, path, body, headers, params, want_json)
            except Exception as error:  # noqa: BLE001 -- sorted by is_retriable just below
                if not is_retriable(error):
                    raise
                if attempt + 1 >= self.retry.attempts:
                    raise RetriesExhausted(error, attempt + 1) from error
                self.sleep(_retry_after(error) or self.retry.delay(attempt, self.rand))
        raise AssertionError("unreachable")

    # -- the protocol ----------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        return self.request("GET", "health")

    def enroll(self, code: str) -> dict[str, Any]:
        """Redeem a one-time code; the client keeps the device token it returns."""
        body = self.request("POST", "enroll", json_body={"code": code})
        self.token = body["token"]
        return body

    def push_batch(
        self, items: list[Any], upstream: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"items": items}
        if upstream is not None:
            body["upstream"] = upstream
        return self.request("POST", "sync/push", json_body=body)

    def push(
        self,
        records: Iterable[Any],
        on_batch: Callable[[list[Any], list[dict[str, Any]]], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Push records in batches within the limits; one result per record, in order.
        ``on_batch(batch, results)`` runs after each acknowledged batch (mark them synced)."""
        results: list[dict[str, Any]] = []
        for batch in split_batches(records):
            answer = self.push_batch(batch)["results"]
            if on_batch:
                on_batch(batch, answer)
            results.extend(answer)
        return results

    def pull(self, since: int = 0, limit: int = DEFAULT_PULL_LIMIT) -> dict[str, Any]:
        return self.request("GET", "sync/pull", params={"since": since, "limit": limit})

    def pull_all(
        self,
        since: int = 0,
        on_page: Callable[[dict[str, Any]], None] | None = None,
        limit: int = DEFAULT_PULL_LIMIT,
    ) -> int:
        """Pull every page after ``since``; ``on_page(page)`` must store the page's changes
        and its ``next_since`` together. Returns the final checkpoint."""
        while True:
            page = self.pull(since, limit)
            if on_page:
                on_page(page)
            since = page["next_since"]
            if not page["has_more"]:
                return since

    def status(self, source: str | None = None) -> dict[str, Any]:
        return self.request("GET", "sync/status", params={"source": source} if source else None)

    def has_blob(self, sha256: str) -> bool:
        return self.request("HEAD", f"blobs/{sha256}", want_json=False).status_code == 200

    def put_blob(self, content: bytes, sha256: str | None = None, ask_first: bool = True) -> bool:
        """Upload a blob unless the server has it; True when this call stored it."""
        sha256 = sha256 or hashlib.sha256(content).hexdigest()
        if ask_first and self.has_blob(sha256):
            return False
        body = self.request(
            "PUT", f"blobs/{sha256}", data=content, content_type="application/octet-stream"
        )
        return bool(body["created"])


def _seconds(header: str | None) -> float:
    try:
        return max(0.0, float(header)) if header else 0.0
    except ValueError:  # an HTTP date: the backoff is enough
        return 0.0


def _retry_after(error: BaseException) -> float:
    # A 429 or 503 may say how long to wait: the server knows its load, so its word replaces
    # the growing backoff (which, at dusk, left a busy server idle while phones turned away
    # several times slept ever longer). A busy server's body says it to the millisecond
    # (``retry_after_ms``: it may be under a second), the Retry-After header in whole seconds;
    # never past the cap.
    if not isinstance(error, HttpError):
        return 0.0
    precise = error.body.get("retry_after_ms") if isinstance(error.body, dict) else None
    if isinstance(precise, int) and not isinstance(precise, bool) and precise > 0:
        return min(max(precise / 1000, 0.1), 300.0)
    if error.retry_after <= 0:
        return 0.0
    return min(max(error.retry_after, 1.0), 300.0)


def digest(pairs: Iterable[tuple[str, str]]) -> str:
    """The status digest of (id, rev) pairs, computed as the server computes it."""
    out = hashlib.sha256()
    for rid, rev in sorted(pairs):
        out.update(f"{rid} {rev}\n".encode())
    return out.hexdigest()

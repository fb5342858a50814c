"""The Python sync client's manners, against a real HTTP server that answers from a script:
retries only on network errors, 429 and 5xx, with full-jitter backoff; never on other 4xx."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from sync.client import (
    AuthError,
    HttpError,
    RetriesExhausted,
    RetryPolicy,
    SyncClient,
    encoded,
    split_batches,
)
from tests.server_process import free_port


class Script(ThreadingHTTPServer):
    """Answers each request with the next scripted (status, headers, body); 'hang' sleeps."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answers: list[Any] = []
        self.seen: list[dict[str, Any]] = []
        self.base = f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        server: Script = self.server  # type: ignore[assignment]
        server.seen.append(
            {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
        )
        answer = server.answers.pop(0)
        if answer == "hang":
            time.sleep(1.0)
            return
        status, headers, payload = answer
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_HEAD = _answer


@pytest.fixture
def script() -> Iterator[Script]:
    server = Script()
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def client_for(base: str, **options: Any) -> tuple[SyncClient, list[float]]:
    slept: list[float] = []
    client = SyncClient(
        base,
        "tok",
        sleep=slept.append,
        rand=lambda: 1.0,
        retry=options.pop("retry", RetryPolicy(attempts=4, base=1.0, cap=300)),
        **options,
    )
    return client, slept


ERROR = {"ok": False, "status": 0, "code": "x", "message": {"vi": "v", "en": "e"}}
OK = (200, {}, {"ok": True, "protocol": 1})


def test_5xx_is_retried_with_exponential_backoff(script):
    script.answers = [(503, {}, b"<h1>busy</h1>"), (500, {}, ERROR), OK]
    client, slept = client_for(script.base)
    assert client.health() == {"ok": True, "protocol": 1}
    assert client.attempts == 3 and slept == [1.0, 2.0]
    assert script.seen[0]["headers"]["Authorization"] == "Bearer tok"


def test_429_waits_at_least_what_retry_after_says(script):
    script.answers = [(429, {"Retry-After": "7"}, ERROR), OK]
    client, slept = client_for(script.base)
    client.health()
    assert slept == [7.0]


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, HttpError), (404, HttpError), (413, HttpError), (422, HttpError), (401, AuthError)],
)
def test_other_4xx_are_never_retried(script, status, error):
    script.answers = [(status, {}, {**ERROR, "status": status, "code": "nope"}), OK]
    client, slept = client_for(script.base)
    with pytest.raises(error) as raised:
        client.pull()
    assert raised.value.status == status and raised.value.code == "nope"
    assert client.attempts == 1 and slept == []


def test_a_body_that_is_not_json_is_retried_like_a_network_error(script):
    script.answers = [(200, {}, b'{"changes": [tru'), OK]
    client, slept = client_for(script.base)
    assert client.health()["ok"] and len(slept) == 1


def test_network_errors_are_retried_until_the_attempts_run_out():
    client, slept = client_for(f"http://127.0.0.1:{free_port()}")  # nobody listens
    with pytest.raises(RetriesExhausted):
        client.status()
    assert client.attempts == 4 and slept == [1.0, 2.0, 4.0]


def test_a_server_that_never_answers_times_out_and_is_retried(script):
    script.answers = ["hang", OK]
    client, slept = client_for(script.base, timeout=(1.0, 0.2))
    assert client.health()["ok"] and client.attempts == 2


def test_full_jitter_stays_within_the_exponential_bound_and_the_cap():
    policy = RetryPolicy(base=1.0, cap=300.0)
    assert [policy.delay(n, lambda: 1.0) for n in range(10)] == [
        1,
        2,
        4,
        8,
        16,
        32,
        64,
        128,
        256,
        300,
    ]
    assert policy.delay(3, lambda: 0.0) == 0.0
    assert 0 <= policy.delay(5) <= 32


def test_big_bodies_are_gzipped_and_batches_stay_within_the_limits(script):
    script.answers = [(200, {}, {"results": []})]
    client, _ = client_for(script.base)
    items = [{"id": str(n), "data": {"note": "x" * 300}} for n in range(250)]
    client.push_batch(items[:50])
    sent = script.seen[0]
    assert sent["headers"]["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(sent["body"]))["items"] == items[:50]
    batches = list(split_batches(items, max_items=100, max_bytes=20_000))
    assert [i for b in batches for i in b] == items
    assert all(len(b) <= 100 and len(encoded(b)) <= 20_000 for b in batches)


def test_blobs_ask_first_and_upload_only_what_is_missing(script):
    script.answers = [
        (200, {}, b""),
        (404, {}, b""),
        (201, {}, {"sha256": "a" * 64, "size": 3, "created": True}),
    ]
    client, _ = client_for(script.base)
    assert client.put_blob(b"abc", "b" * 64) is False  # the server has it: nothing sent
    assert client.put_blob(b"abc", "a" * 64) is True
    assert [(s["method"], s["body"]) for s in script.seen] == [
        ("HEAD", b""),
        ("HEAD", b""),
        ("PUT", b"abc"),
    ]


def test_a_busy_server_s_retry_after_is_the_wait_however_many_times_it_answers(script):
    # The backoff would grow (1, 2, 4 s …); the server that said "2 s" is asked again in 2.
    busy = {**ERROR, "status": 503, "code": "server_busy"}
    script.answers = [(503, {"Retry-After": "2"}, busy)] * 3 + [OK]
    client, slept = client_for(script.base)
    client.health()
    assert slept == [2.0] * 3


def test_a_busy_server_s_wait_to_the_millisecond_in_its_body_comes_before_its_header(script):
    # Retry-After says whole seconds (at least 1); the body says when exactly: under a second
    # too. A body that says nothing usable leaves the header's word.
    def busy(ms: Any) -> tuple[int, dict[str, str], dict[str, Any]]:
        return (503, {"Retry-After": "1"}, {**ERROR, "code": "server_busy", "retry_after_ms": ms})

    script.answers = [busy(350), busy(2), busy("350"), busy(-5), busy(True), OK]
    client, slept = client_for(script.base, retry=RetryPolicy(attempts=8, base=1.0, cap=300))
    client.health()
    assert slept == [0.35, 0.1, 1.0, 1.0, 1.0]

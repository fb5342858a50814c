"""A province server from before ``upstream.resolutions``, on loopback: a real province behind
a front that answers a push carrying the key as that version's schema did (422, the key an
``unknown_field``) and passes everything else through unchanged."""

from __future__ import annotations

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from tests.server_process import free_port

REFUSAL = {
    "ok": False,
    "status": 422,
    "code": "validation_failed",
    "message": {"vi": "Dữ liệu không hợp lệ.", "en": "The data is not valid."},
    "errors": {
        "upstream.resolutions": [
            {"code": "unknown_field", "vi": "Trường không có.", "en": "Unknown field."}
        ]
    },
}


class OlderProvince:
    def __init__(self, target: str) -> None:
        self.target = target
        self.refused = 0
        self.upgraded = False  # then it takes resolutions, at the same address
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        front = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.command == "POST" and self.path.startswith("/api/v1/sync/push"):
                    raw = body
                    if self.headers.get("Content-Encoding") == "gzip":
                        raw = gzip.decompress(body)
                    upstream = json.loads(raw).get("upstream") or {}
                    if "resolutions" in upstream and not front.upgraded:
                        front.refused += 1
                        self._answer(422, json.dumps(REFUSAL).encode(), "application/json")
                        return
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "content-length", "connection")
                }
                answer = requests.request(
                    self.command,
                    front.target + self.path,
                    data=body or None,
                    headers=headers,
                    timeout=60,
                )
                self._answer(
                    answer.status_code, answer.content, answer.headers.get("Content-Type", "")
                )

            def _answer(self, status: int, content: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_HEAD = _relay

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> OlderProvince:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

"""Where an Enketo is configured, the ODK Collect phone's page also gives each form's Enketo web
form for that phone: the address Enketo's API makes for this server's OpenRosa address (with
the phone's token) and the form id, as a link and a QR code.

Enketo Express itself (Node and Redis) does not run here: a small HTTP server answers its
``POST /api/v2/survey`` as its API documents (https://apidocs.enketo.org/v2): Basic
authentication with the API key as the user name, ``server_url`` and ``form_id`` in a form
body, ``{"url": …}`` with 200 or 201."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.api.admin_helpers import decode_svg, post, user_id

KEY = "enketorules"


class EnketoApi(BaseHTTPRequestHandler):
    asked: list[dict[str, str]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers.get("Content-Length", "0"))
        fields = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        auth = self.headers.get("Authorization", "")
        user = base64.b64decode(auth.removeprefix("Basic ")).decode().split(":")[0] if auth else ""
        if self.path != "/api/v2/survey" or user != KEY:
            self._answer(401, {"code": 401, "message": "Access denied: invalid API key."})
            return
        if not fields.get("server_url") or not fields.get("form_id"):
            self._answer(400, {"code": 400, "message": "Bad request."})
            return
        EnketoApi.asked.append(fields)
        pair = f"{fields['server_url']} {fields['form_id']}".encode()
        survey = hashlib.sha256(pair).hexdigest()[:8]
        host, port = self.server.server_address[:2]
        self._answer(201, {"url": f"http://{host}:{port}/{survey}", "code": 201})

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def enketo() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EnketoApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    EnketoApi.asked = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def phone_page(admin: Any, db: Any) -> str:
    response = post(admin, f"/admin/volunteers/{user_id(db, 'tnv.demo')}/collect")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_collect_page_gives_each_forms_enketo_link_and_qr(app, admin, client, db, enketo):
    app.config.update(ENKETO_URL=enketo, ENKETO_API_KEY=KEY)
    page = phone_page(admin, db)
    (asked,) = EnketoApi.asked
    server_url = re.search(r'<code id="collect-url">([^<]+)</code>', page).group(1)
    assert asked == {"server_url": server_url, "form_id": "ho_gia_dinh_cds"}
    card = re.search(r'<section class="card enroll" id="enketo-card">.*?</section>', page, re.S)
    link = re.search(r'class="enketo-link" href="([^"]+)"', card.group(0)).group(1)
    assert link.startswith(enketo + "/")
    svg = re.search(r'<div class="qr">(<svg.*?</svg>)</div>', card.group(0), re.S).group(1)
    assert decode_svg(svg) == link
    # What Enketo then asks of that address is this server's OpenRosa, as that phone.
    listed = client.get(f"{urlsplit(server_url).path}/formList")
    assert listed.status_code == 200 and "<formID>ho_gia_dinh_cds</formID>" in listed.text


def test_without_an_enketo_answer_the_collect_code_still_stands(app, admin, db, enketo):
    for url, key in ((enketo, "wrong key"), ("http://127.0.0.1:9", KEY)):
        app.config.update(ENKETO_URL=url, ENKETO_API_KEY=key)
        page = phone_page(admin, db)
        assert 'id="collect-qr"' in page and 'id="enketo-card"' in page
        assert "enketo-link" not in page
        assert "Enketo không trả lời" in page


def test_no_enketo_section_where_none_is_configured(app, admin, db):
    app.config.update(ENKETO_URL="", ENKETO_API_KEY="")
    assert 'id="enketo-card"' not in phone_page(admin, db)

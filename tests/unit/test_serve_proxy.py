"""What ``gocua serve`` tells waitress about a reverse proxy in front, run through waitress's own
header handling (tests/api/test_behind_nginx.py does it behind a real nginx)."""

from __future__ import annotations

from typing import Any

import pytest
from waitress.server import create_server

from server import settings
from server.cli.main import proxy_options


def _client_seen(options: dict[str, Any], peer: str, forwarded_for: str) -> dict[str, str]:
    """The address, scheme and host the app sees when ``peer`` sends these headers."""
    seen: dict[str, str] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.update(
            addr=environ["REMOTE_ADDR"],
            scheme=environ["wsgi.url_scheme"],
            host=environ.get("HTTP_HOST", ""),
            forwarded=environ.get("HTTP_X_FORWARDED_FOR", "(none)"),
        )
        start_response("200 OK", [])
        return []

    server = create_server(app, host="127.0.0.1", port=0, **options)
    try:
        server.application(
            {
                "REMOTE_ADDR": peer,
                "wsgi.url_scheme": "http",
                "HTTP_HOST": "127.0.0.1:8000",
                "HTTP_X_FORWARDED_FOR": forwarded_for,
                "HTTP_X_FORWARDED_PROTO": "https",
                "HTTP_X_FORWARDED_HOST": "gocua.example.vn",
            },
            lambda *_: None,
        )
    finally:
        server.close()
    return seen


def test_without_hops_forwarded_headers_are_removed(monkeypatch):
    monkeypatch.delenv("GOCUA_PROXY_HOPS", raising=False)
    seen = _client_seen(proxy_options(settings.load()), "127.0.0.1", "203.0.113.7")
    assert seen == {
        "addr": "127.0.0.1",
        "scheme": "http",
        "host": "127.0.0.1:8000",
        "forwarded": "(none)",
    }


def test_one_hop_takes_the_address_the_proxy_saw_not_what_the_client_wrote(monkeypatch):
    monkeypatch.setenv("GOCUA_PROXY_HOPS", "1")
    monkeypatch.delenv("GOCUA_TRUSTED_PROXY", raising=False)
    seen = _client_seen(proxy_options(settings.load()), "127.0.0.1", "203.0.113.7, 198.51.100.4")
    assert seen["addr"] == "198.51.100.4"
    assert (seen["scheme"], seen["host"]) == ("https", "gocua.example.vn")


def test_forwarded_headers_count_only_from_the_trusted_proxy(monkeypatch):
    monkeypatch.setenv("GOCUA_PROXY_HOPS", "2")
    monkeypatch.setenv("GOCUA_TRUSTED_PROXY", "10.0.0.5")
    options = proxy_options(settings.load())
    two_hops = _client_seen(options, "10.0.0.5", "203.0.113.7, 198.51.100.4, 10.0.0.9")
    assert two_hops["addr"] == "198.51.100.4"
    direct = _client_seen(options, "127.0.0.1", "203.0.113.7")  # not the proxy: ignored
    assert (direct["addr"], direct["scheme"], direct["forwarded"]) == (
        "127.0.0.1",
        "http",
        "(none)",
    )


def test_a_negative_hop_count_is_refused(monkeypatch):
    monkeypatch.setenv("GOCUA_PROXY_HOPS", "-1")
    with pytest.raises(Exception, match="GOCUA_PROXY_HOPS"):
        proxy_options(settings.load())


@pytest.mark.parametrize(
    ("name", "value"),
    [
        *(("GOCUA_WORKERS", v) for v in ("0", "-1", "65", "many")),
        *(("GOCUA_SYNC_SLOTS", v) for v in ("-1", "17", "many")),
    ],
)
def test_workers_or_sync_slots_out_of_bounds_stop_the_server_with_a_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, name: str, value: str
) -> None:
    from click.testing import CliRunner

    from server.cli.main import main

    monkeypatch.setenv(name, value)
    monkeypatch.setenv("GOCUA_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code == 1
    assert f"{name} must be" in result.output
    assert not (tmp_path / "gocua.db").exists()  # refused before anything was set up

"""Files sent as they are stored, the one way: the collector's (``web/pwa.py``), the staff
site's stylesheet (``/static/``) and the favicon. Text goes gzip-compressed to a client that
accepts it (compressed once, cached until the file changes), every file with an ETag."""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from functools import lru_cache
from pathlib import Path

from flask import Response, request

PWA_DIR = Path(__file__).resolve().parents[2] / "pwa"
STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
TEXT_TYPES = (
    "text/",
    "application/javascript",
    "application/json",
    "image/svg+xml",
    "application/manifest+json",
)

mimetypes.add_type("application/manifest+json", ".webmanifest")
mimetypes.add_type("text/javascript", ".mjs")


@lru_cache(maxsize=256)
def _read(path: Path, mtime_ns: int) -> tuple[bytes, bytes, str]:
    """(bytes, gzipped bytes, short hash), cached until the file changes."""
    data = path.read_bytes()
    return data, gzip.compress(data, compresslevel=9), hashlib.sha256(data).hexdigest()[:16]


def read(path: Path) -> tuple[bytes, bytes, str]:
    return _read(path, path.stat().st_mtime_ns)


def mimetype_of(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def send(data: bytes, gzipped: bytes, mimetype: str, etag: str) -> Response:
    """``data`` (or ``gzipped``, when it is text and the client takes gzip) with its ETag; a
    304 when the client holds that version. ``no-cache``: a cached copy is checked first, so
    nobody is served a stale stylesheet or app file."""
    if request.if_none_match and etag in request.if_none_match:
        return Response(status=304, headers={"ETag": f'"{etag}"'})
    use_gzip = (
        mimetype.startswith(TEXT_TYPES)
        and "gzip" in request.headers.get("Accept-Encoding", "").lower()
    )
    content_type = mimetype
    if mimetype.startswith("text/") or mimetype.endswith(("javascript", "json")):
        content_type += "; charset=utf-8"
    response = Response(gzipped if use_gzip else data, content_type=content_type)
    if use_gzip:
        response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["ETag"] = f'"{etag}"'
    response.headers["Cache-Control"] = "no-cache"
    return response


def send_file(path: Path, name: str | None = None) -> Response:
    """One stored file, its type guessed from ``name`` (its own name by default)."""
    data, gzipped, digest = read(path)
    return send(data, gzipped, mimetype_of(name or path.name), digest)

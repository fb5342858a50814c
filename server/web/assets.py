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
# The staff map's libraries, installed by npm (package.json) beside the server and served from
# there as they are: the project keeps no copy of them. A wheel installed without node_modules
# has none, and the map page says so.
NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"
VENDOR = {"leaflet": "leaflet/dist", "leaflet.markercluster": "leaflet.markercluster/dist"}
VENDOR_FILES = (
    ("leaflet", "leaflet.css"),
    ("leaflet", "leaflet.js"),
    ("leaflet.markercluster", "MarkerCluster.css"),
    ("leaflet.markercluster", "MarkerCluster.Default.css"),
    ("leaflet.markercluster", "leaflet.markercluster.js"),
)
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


def vendor_file(root: Path, package: str, name: str) -> Path | None:
    """A file of one of the VENDOR packages' dist folders under ``root`` (node_modules), or
    None: no other package and nothing outside its folder."""
    folder = VENDOR.get(package)
    if folder is None:
        return None
    base = (root / folder).resolve()
    path = (base / name).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        return None
    return path


def vendor_ready(root: Path) -> bool:
    """Whether every file the map page loads is there."""
    return all(vendor_file(root, package, name) for package, name in VENDOR_FILES)


def send_file(path: Path, name: str | None = None) -> Response:
    """One stored file, its type guessed from ``name`` (its own name by default)."""
    data, gzipped, digest = read(path)
    return send(data, gzipped, mimetype_of(name or path.name), digest)

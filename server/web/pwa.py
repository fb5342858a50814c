"""The collector at /app/: static files from pwa/, and the service worker with its precache list.

The server writes the list of app-shell files with their content hashes into ``sw.js`` itself,
so any change to any file changes the worker's bytes, and the phone's browser sees an update:
no bundler and no build step.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import mimetypes
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, current_app, redirect, request

from schemas.messages import LANGUAGES, MESSAGES_DIR

PWA_DIR = Path(__file__).resolve().parents[2] / "pwa"
_TEXT_TYPES = (
    "text/",
    "application/javascript",
    "application/json",
    "image/svg+xml",
    "application/manifest+json",
)

bp = Blueprint("pwa", __name__, url_prefix="/app")
mimetypes.add_type("application/manifest+json", ".webmanifest")
mimetypes.add_type("text/javascript", ".mjs")


def _pwa_dir() -> Path:
    """The collector's files: pwa/ beside the server, or GOCUA_PWA_DIR (a deployed copy)."""
    return Path(current_app.config.get("PWA_DIR") or PWA_DIR)


def _shell_files() -> dict[str, Path]:
    """URL path under /app/ → file, for every file of the app shell."""
    root = _pwa_dir()
    files = {
        p.relative_to(root).as_posix(): p
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "sw.js" and not p.name.startswith(".")
    }
    for lang in LANGUAGES:  # the phone's words only; the server's areas stay on the server
        files[f"messages/{lang}.json"] = MESSAGES_DIR / f"{lang}.json"
    return files


@lru_cache(maxsize=256)
def _read(path: Path, mtime_ns: int) -> tuple[bytes, bytes, str]:
    """(bytes, gzipped bytes, short hash), cached until the file changes."""
    data = path.read_bytes()
    return data, gzip.compress(data, compresslevel=9), hashlib.sha256(data).hexdigest()[:16]


def _file(path: Path) -> tuple[bytes, bytes, str]:
    return _read(path, path.stat().st_mtime_ns)


def precache_manifest() -> dict[str, Any]:
    entries = {url: _file(path)[2] for url, path in _shell_files().items()}
    version = hashlib.sha256(json.dumps(entries, sort_keys=True).encode()).hexdigest()[:16]
    return {"version": version, "files": entries}


def _send(data: bytes, gzipped: bytes, mimetype: str, etag: str) -> Response:
    if request.if_none_match and etag in request.if_none_match:
        return Response(status=304, headers={"ETag": f'"{etag}"'})
    use_gzip = (
        mimetype.startswith(_TEXT_TYPES)
        and "gzip" in request.headers.get("Accept-Encoding", "").lower()
    )
    response = Response(gzipped if use_gzip else data, mimetype=mimetype)
    if use_gzip:
        response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["ETag"] = f'"{etag}"'
    # The service worker keeps its own copies; the HTTP cache must not serve it stale ones.
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("")
def app_root() -> Any:
    return redirect("/app/")


@bp.get("/")
def index() -> Response:
    return serve("index.html")


@bp.get("/sw.js")
def service_worker() -> Response:
    manifest = precache_manifest()
    body = (
        f"const PRECACHE = {json.dumps(manifest)};\n"
        + (_pwa_dir() / "sw.js").read_text(encoding="utf-8")
    ).encode()
    response = _send(body, gzip.compress(body), "text/javascript", manifest["version"])
    response.headers["Service-Worker-Allowed"] = "/app/"
    return response


@bp.get("/<path:name>")
def serve(name: str) -> Response:
    path = _shell_files().get(name)
    if path is None:
        abort(404)
    data, gzipped, digest = _file(path)
    mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if mimetype.startswith("text/") or mimetype.endswith(("javascript", "json")):
        mimetype += "; charset=utf-8"
    return _send(data, gzipped, mimetype, digest)

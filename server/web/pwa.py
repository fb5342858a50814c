"""The collector at /app/: static files from pwa/, and the service worker with its precache list.

The server writes the list of app-shell files with their content hashes into ``sw.js`` itself,
so any change to any file changes the worker's bytes, and the phone's browser sees an update:
no bundler and no build step.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, current_app, redirect

from schemas.messages import LANGUAGES, MESSAGES_DIR
from server.web.assets import PWA_DIR, mimetype_of, read, send

bp = Blueprint("pwa", __name__, url_prefix="/app")


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


def precache_manifest() -> dict[str, Any]:
    entries = {url: read(path)[2] for url, path in _shell_files().items()}
    version = hashlib.sha256(json.dumps(entries, sort_keys=True).encode()).hexdigest()[:16]
    return {"version": version, "files": entries}


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
    response = send(body, gzip.compress(body), "text/javascript", manifest["version"])
    response.headers["Service-Worker-Allowed"] = "/app/"
    return response


@bp.get("/<path:name>")
def serve(name: str) -> Response:
    path = _shell_files().get(name)
    if path is None:
        abort(404)
    data, gzipped, digest = read(path)
    return send(data, gzipped, mimetype_of(name), digest)

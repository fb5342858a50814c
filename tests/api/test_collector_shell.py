"""The collector's shell as the server hands it out: installable, precached, small."""

from __future__ import annotations

import gzip
import json
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_manifest_installs_standalone_with_a_vietnamese_name_and_both_icon_sizes(client):
    manifest = client.get("/app/manifest.webmanifest").get_json()
    assert manifest["display"] == "standalone" and manifest["lang"] == "vi"
    assert "Gõ Cửa" in manifest["name"]
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        png = client.get(f"/app/{icon['src']}").data
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and f"{width}x{height}" == icon["sizes"]


def test_service_worker_precaches_every_shell_file_with_its_hash(client):
    worker = client.get("/app/sw.js")
    assert worker.headers["Service-Worker-Allowed"] == "/app/"
    precache = json.loads(re.match(r"const PRECACHE = (.*);\n", worker.get_data(as_text=True))[1])
    shell = {
        p.relative_to(ROOT / "pwa").as_posix()
        for p in (ROOT / "pwa").rglob("*")
        if p.is_file() and p.name != "sw.js"
    }
    assert set(precache["files"]) == shell | {"messages/vi.json", "messages/en.json"}
    for path, digest in precache["files"].items():
        assert client.get(f"/app/{path}").headers["ETag"] == f'"{digest}"'


def test_a_changed_file_changes_the_worker(client, app, tmp_path):
    shell = tmp_path / "pwa"
    shutil.copytree(ROOT / "pwa", shell)
    app.config["PWA_DIR"] = str(shell)
    before = client.get("/app/sw.js").data
    (shell / "app.css").write_text((shell / "app.css").read_text() + "\n/* new */\n")
    assert client.get("/app/sw.js").data != before


def test_every_module_is_preloaded_so_imports_do_not_wait_on_each_other():
    index = (ROOT / "pwa/index.html").read_text()
    preloaded = set(re.findall(r'rel="modulepreload" href="([^"]+)"', index))
    modules = {p.relative_to(ROOT / "pwa").as_posix() for p in (ROOT / "pwa/js").rglob("*.js")}
    assert preloaded == modules - {"js/app.js"}


def test_text_is_sent_gzipped_when_asked(client):
    plain = client.get("/app/js/render.js")
    packed = client.get("/app/js/render.js", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data and len(packed.data) < len(plain.data)

"""The package as pip builds it: no setuptools warnings, and a wheel that carries everything
the server serves (templates, stylesheet, the collector, forms, indicators, messages) and runs
from site-packages alone."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "node_modules", "data", "build", "*.egg-info", "__pycache__", "test-artifacts"
)

_RUN_INSTALLED = """
import sys, tempfile
from server import create_app
folder = tempfile.mkdtemp()
app = create_app({"DATA_DIR": folder, "DATABASE": folder + "/gocua.db",
                  "SECRET_KEY": "packaging-test-secret-key-0123456789"})
client = app.test_client()
for url in ("/login", "/app/", "/app/js/app.js", "/static/staff.css", "/favicon.ico",
            "/app/messages/en.json"):
    answer = client.get(url)
    print(url, answer.status_code)
import schemas, server
print("from", server.__file__, schemas.__file__)
"""


@pytest.mark.slow  # a real build, with pip's isolated environment: about 20 s
def test_a_wheel_builds_without_warnings_and_carries_every_served_file(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCES)
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(tmp_path), "."],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
    )
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-3000:]
    assert "would be ignored" not in log, log[log.find("would be ignored") - 800 :][:2000]
    assert "SetuptoolsDeprecationWarning" not in log

    wheel = next(tmp_path.glob("gocua-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "server/templates/base.html",
        "server/templates/review/record.html",
        "server/templates/admin/audit.html",
        "server/static/staff.css",
        "pwa/index.html",
        "pwa/sw.js",
        "pwa/manifest.webmanifest",
        "pwa/js/app.js",
        "pwa/js/screens/visit.js",
        "pwa/icons/icon-192.png",
        "schemas/forms/household_survey.json",
        "schemas/messages/vi.json",
        "schemas/messages/review.en.json",
        "schemas/indicators/ho_gia_dinh_cds.json",
    ):
        assert expected in names, expected
    assert not [n for n in names if n.startswith(("tests/", "bench/", "node_modules/"))]

    installed = tmp_path / "site-packages"
    zipfile.ZipFile(wheel).extractall(installed)
    run = subprocess.run(
        [sys.executable, "-c", _RUN_INSTALLED],
        cwd=tmp_path,
        env={"PYTHONPATH": str(installed), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    lines = run.stdout.splitlines()
    assert lines[:-1] == [
        "/login 200",
        "/app/ 200",
        "/app/js/app.js 200",
        "/static/staff.css 200",
        "/favicon.ico 200",
        "/app/messages/en.json 200",
    ]
    assert str(installed) in lines[-1] and str(ROOT) not in lines[-1]

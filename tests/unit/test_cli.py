"""The operator's commands, run as a person runs them: ``gocua ...`` in a fresh data folder."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from server.domain.db import connect
from tests.server_process import ServerProcess

# Left out of `make test-fast`: each test runs `gocua` in a new Python process (about 2 s each).
pytestmark = pytest.mark.slow


def test_init_twice_creates_once_and_prints_the_admin_password_once(tmp_path):
    server = ServerProcess(tmp_path)
    first = server.cli("init", "--demo")
    assert "password:" in first and "Loaded the default survey." in first
    second = server.cli("init", "--demo")
    assert "password:" not in second and "Loaded" not in second


def test_a_real_commune_starts_without_the_demo_and_serve_prints_no_code(tmp_path):
    server = ServerProcess(tmp_path)
    out = server.cli("init")
    assert "Loaded the default survey." in out and "gocua commune add" in out
    with connect(server.data_dir / "gocua.db") as db:
        assert db.execute("SELECT count(*) FROM communes").fetchone()[0] == 0
    added = server.cli(
        "commune",
        "add",
        "12345",
        "--name",
        "Xã Thật",
        "--province",
        "01",
        "--province-name",
        "Hà Nội",
        "--admin",
        "quantri.xathat",
        "--village",
        "Thôn Một",
        "--village",
        "Thôn Hai",
    )
    assert "password:" in added
    with connect(server.data_dir / "gocua.db") as db:
        assert [tuple(r) for r in db.execute("SELECT name, province_code FROM communes")] == [
            ("Xã Thật", "01")
        ]
        assert [
            tuple(r)
            for r in db.execute(
                "SELECT role, must_change_password FROM users WHERE username = 'quantri.xathat'"
            )
        ] == [("admin", 1)]
        assert sorted(r[0] for r in db.execute("SELECT name FROM villages")) == [
            "Thôn Hai",
            "Thôn Một",
        ]
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "server.cli",
            "commune",
            "add",
            "12345",
            "--name",
            "Xã Khác",
            "--province",
            "01",
            "--province-name",
            "Hà Nội",
            "--admin",
            "quantri.khac",
        ],
        env=server.env,
        capture_output=True,
        text=True,
    )
    assert again.returncode != 0 and "exists already" in again.stderr
    assert "Traceback" not in again.stderr
    # gocua serve mints no enrollment code: one printed at every start would sit in the log.
    server.start()
    try:
        with connect(server.data_dir / "gocua.db") as db:
            assert db.execute("SELECT count(*) FROM enrollment_codes").fetchone()[0] == 0
    finally:
        server.stop()
    assert "#enroll=" not in server.log.read_text()


def test_enroll_prints_a_qr_code_and_the_url_alone_on_the_last_line(tmp_path):
    server = ServerProcess(tmp_path)
    server.cli("init", "--demo")
    out = server.cli("enroll").rstrip("\n").splitlines()
    assert out[-1].startswith(f"{server.base}/app/#enroll=")
    assert " " not in out[-1]
    assert any("█" in line or "▀" in line or "▄" in line for line in out[:-1])  # the QR code


def test_reset_password_for_an_unknown_account_is_a_clear_error(tmp_path):
    server = ServerProcess(tmp_path)
    server.cli("init", "--demo")
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", "user", "reset-password", "nobody"],
        env=server.env,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert "no staff account named 'nobody'" in done.stderr


# Copies of the shared workbooks (tests/xlsforms/README.md): tests read no file outside the repo.
SHARED = Path(__file__).resolve().parents[1] / "xlsforms"
DEFAULT_XLSX = Path(__file__).resolve().parents[2] / "schemas" / "forms" / "household_survey.xlsx"


def gocua(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_form_check_and_import_of_a_real_xlsform(tmp_path):
    server = ServerProcess(tmp_path)
    server.cli("init", "--demo")
    checked = gocua(
        server, "form", "check", str(SHARED / "text_and_integer.xlsx"), "--version", "1"
    )
    assert checked.returncode == 0 and checked.stdout.startswith("OK: ")
    first = gocua(server, "form", "import", str(SHARED / "text_and_integer.xlsx"), "--version", "1")
    assert first.returncode == 0 and "imported" in first.stdout
    again = gocua(server, "form", "import", str(SHARED / "text_and_integer.xlsx"), "--version", "1")
    assert "already imported" in again.stdout
    with connect(tmp_path / "gocua.db") as db:
        assert db.execute("SELECT count(*) FROM forms").fetchone()[0] == 2


def test_a_workbook_without_a_version_is_imported_once_with_a_made_version(tmp_path):
    server = ServerProcess(tmp_path)
    server.cli("init")
    path = str(SHARED / "text_and_integer.xlsx")
    checked = gocua(server, "form", "check", path)
    assert checked.returncode == 0, checked.stderr
    assert "no version" in checked.stdout and "chưa có phiên bản" in checked.stdout
    first = gocua(server, "form", "import", path)
    assert first.returncode == 0, first.stderr
    version = first.stdout.split(" version ")[1].split(":")[0]
    assert len(version) == 10 and version.isdigit() and "imported" in first.stdout
    again = gocua(server, "form", "import", path)
    assert again.stdout == f"text_and_integer version {version}: already imported (same content)\n"
    with connect(tmp_path / "gocua.db") as db:
        rows = db.execute("SELECT version FROM forms WHERE form_id = 'text_and_integer'")
        assert [row[0] for row in rows] == [version]


def test_the_default_workbook_is_already_the_installed_default_form(tmp_path):
    server = ServerProcess(tmp_path)
    server.cli("init", "--demo")
    done = gocua(server, "form", "import", str(DEFAULT_XLSX))
    assert done.returncode == 0, done.stderr
    assert "already imported (same content)" in done.stdout


def test_an_unsupported_form_fails_naming_sheet_row_and_feature_without_traceback(tmp_path):
    from tests.workbooks import workbook

    book = tmp_path / "ghi_am.xlsx"
    book.write_bytes(
        workbook(
            [
                ("type", "name", "label"),
                ("text", "ghi_chu", "Ghi chú"),
                ("background-audio", "am_thanh", None),
            ]
        )
    )
    server = ServerProcess(tmp_path)
    done = gocua(server, "form", "check", str(book), "--version", "1")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "Sheet 'survey', row 3, type 'background-audio'" in done.stderr
    assert "cannot record sound in the background" in done.stderr
    assert "không thể ghi âm ngầm" in done.stderr


def test_a_zip_bomb_form_is_a_one_reason_error_without_traceback(tmp_path):
    from tests.hostile_files import MB, rezip

    bomb = tmp_path / "bomb.xlsx"
    bomb.write_bytes(
        rezip(
            (SHARED / "text_and_integer.xlsx").read_bytes(),
            add={f"xl/padding{i}.xml": [b" " * MB] * 7 for i in range(3)},
        )
    )
    server = ServerProcess(tmp_path)
    done = gocua(server, "form", "import", str(bomb), "--version", "1")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "the workbook is too large: unpacked, it would be more than 20 MB" in done.stderr
    assert "vượt quá 20 MB" in done.stderr


def test_serve_with_a_short_secret_key_says_so_in_one_line(tmp_path):
    server = ServerProcess(tmp_path)
    server.cli("init")
    (tmp_path / "secret_key").write_text("short")
    done = server.refused_start()
    assert done.returncode != 0
    assert "at least 32 characters" in done.stderr and "secret_key" in done.stderr
    assert "Traceback" not in done.stderr


def test_user_add_checks_as_the_staff_site_does_and_asks_for_a_new_password(tmp_path):
    server = ServerProcess(tmp_path)
    server.cli("init", "--demo")
    refused = {
        "username": ["Chi Ba", "--name", "Chị Ba", "--role", "reviewer", "--commune", "99999"],
        "display_name": ["chi.ba", "--name", "x" * 81, "--role", "reviewer", "--commune", "99999"],
        "commune": ["chi.ba", "--name", "Chị Ba", "--role", "reviewer", "--commune", "12345"],
        "villages": ["tnv.ba", "--name", "Chị Ba", "--role", "volunteer", "--commune", "99999"],
        "phone": [
            "tnv.ba", "--name", "Chị Ba", "--role", "volunteer", "--commune", "99999",
            "--village", "nowhere", "--phone", "12345",
        ],
    }  # fmt: skip
    for field, args in refused.items():
        done = gocua(server, "user", "add", *args)
        assert done.returncode != 0, field
        assert f"{field}: " in done.stderr and " / " in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    taken = gocua(server, "user", "add", "admin", "--name", "Ai Đó", "--role", "viewer",
                  "--commune", "99999")  # fmt: skip
    assert taken.returncode != 0 and "username: " in taken.stderr
    with connect(server.data_dir / "gocua.db") as db:
        assert not db.execute(
            "SELECT 1 FROM users WHERE username IN ('chi.ba', 'tnv.ba', 'Chi Ba')"
        ).fetchone()
    added = server.cli(
        "user", "add", "chi.ba", "--name", "  Chị   Ba ", "--role", "reviewer", "--commune", "99999"
    )
    assert re.search(r"password: \S{12,}", added)
    with connect(server.data_dir / "gocua.db") as db:
        assert tuple(
            db.execute(
                "SELECT display_name, must_change_password FROM users WHERE username = 'chi.ba'"
            ).fetchone()
        ) == ("Chị Ba", 1)

"""`gocua form check` and `gocua form import` in this process (click's runner, a real SQLite
file): which files they read, what they print. tests/unit/test_cli.py runs them as a person
does, in a new process, more slowly."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pyxform.errors import PyXFormError
from pyxform.xls2xform import convert

from server.cli.main import main
from server.domain.db import connect
from tests.unit.test_xlsform import (
    SHARED_XLSFORMS,
    XLS_CHOICES,
    XLS_SETTINGS,
    XLS_SURVEY,
    workbook,
    xls_workbook,
)


def gocua(tmp_path: Path, *args: str | Path) -> Result:
    env = {"GOCUA_DATA_DIR": str(tmp_path / "data")}
    return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)


@pytest.mark.parametrize("name", ["form.xls", "FORM.XLS", "form.xlsx", "form.xlsm"])
def test_every_kind_of_workbook_pyxform_reads_is_checked(tmp_path: Path, name: str) -> None:
    sheets = {"survey": XLS_SURVEY, "choices": XLS_CHOICES, "settings": XLS_SETTINGS}
    if name.lower().endswith(".xls"):
        path = xls_workbook(tmp_path / name, sheets)
    else:
        path = workbook(tmp_path, XLS_SURVEY, XLS_CHOICES, XLS_SETTINGS, name=name)
    done = gocua(tmp_path, "form", "check", path)
    assert done.exit_code == 0, done.output
    assert done.output.startswith("OK: xls_form, chưa có phiên bản")


def test_a_shared_xls_is_checked_then_imported_once(tmp_path: Path) -> None:
    path = tmp_path / "gps.xls"
    shutil.copy(SHARED_XLSFORMS / "gps.xls", path)
    assert gocua(tmp_path, "form", "check", path).exit_code == 0
    first = gocua(tmp_path, "form", "import", path)
    assert first.exit_code == 0, first.output
    assert first.output.startswith("gps version 20") and first.output.endswith(": imported\n")
    again = gocua(tmp_path, "form", "import", path)
    assert again.output.endswith(": already imported (same content)\n")
    with connect(tmp_path / "data" / "gocua.db") as db:
        assert db.execute("SELECT count(*) FROM forms WHERE form_id = 'gps'").fetchone()[0] == 1


@pytest.mark.parametrize("name", ["form.csv", "form.ods", "form"])
def test_another_kind_of_file_is_refused_in_both_languages(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("{}", encoding="utf-8")
    done = gocua(tmp_path, "form", "check", path)
    assert done.exit_code == 1
    assert "biểu mẫu phải là tệp .xlsx, .xlsm, .xls (XLSForm) hoặc .json" in done.output
    assert "a form is an .xlsx, .xlsm or .xls file (XLSForm) or .json" in done.output


def test_the_default_survey_checks_with_no_warning(tmp_path: Path) -> None:
    from schemas.form import DEFAULT_FORM

    for path in (DEFAULT_FORM, DEFAULT_FORM.with_suffix(".xlsx")):
        done = gocua(tmp_path, "form", "check", path)
        assert done.output == "OK: ho_gia_dinh_cds version 2026.11.1\n", done.output


# Each workbook of tests/xlsforms that pyxform itself accepts is checked as it is: no version
# given, no column removed, no media file attached.


def _pyxform_accepts(path: Path) -> bool:
    try:
        convert(xlsform=str(path))
    except PyXFormError:
        return False
    return True


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(path, id=path.name)
        for path in sorted(SHARED_XLSFORMS.iterdir())
        if path.suffix in (".xls", ".xlsx")
    ],
)
def test_every_workbook_pyxform_accepts_is_checked_as_it_is(tmp_path: Path, path: Path) -> None:
    assert _pyxform_accepts(path)
    done = gocua(tmp_path, "form", "check", path)
    assert done.exit_code == 0, done.output
    assert done.output.startswith("OK: ")

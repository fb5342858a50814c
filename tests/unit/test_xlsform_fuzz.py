"""Malformed workbooks never give a traceback: each is a form, or an ``XLSFormError`` in both
languages (and the command's one error). Built here: empty sheets, cells of every type, huge
cells, deep nesting, bytes that are no workbook, and Hypothesis's own grids of cells."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.utils.exceptions import IllegalCharacterError

from schemas.form import Form
from schemas.formcheck import with_version
from schemas.validate import RecordChecker
from schemas.xlsform import XLSFormError, read_xlsform
from server.cli.main import main
from tests.unit.test_xlsform import xls_workbook

HUGE = "ậ" * 32_767  # the most an Excel cell holds


def xlsx(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def outcome(path: Path) -> str:
    """'form' or 'refused', after every step a form goes through; anything else fails."""
    try:
        definition = read_xlsform(path)
    except XLSFormError as error:
        assert error.en and error.vi and error.en != error.vi
        assert "Traceback" not in str(error)
        return "refused"
    form = Form(with_version(definition, "1"))
    RecordChecker(form).check({})
    return "form"


def command(tmp_path: Path, path: Path) -> None:
    """The command says one thing, in both languages when it refuses, and never raises."""
    done = CliRunner().invoke(
        main, ["form", "check", str(path)], env={"GOCUA_DATA_DIR": str(tmp_path / "data")}
    )
    assert done.exception is None or isinstance(done.exception, SystemExit), done.exception
    assert done.exit_code in (0, 1), done.output
    assert "Traceback" not in done.output


SURVEY = [["type", "name", "label"], ["text", "q", "Q"]]
CASES: dict[str, dict[str, list[list[Any]]]] = {
    "no sheet with rows": {"survey": []},
    "headers only": {"survey": [["type", "name", "label"]]},
    "one sheet not named survey": {"Sheet1": SURVEY},
    "sheets of another tool": {"data": SURVEY, "notes": [["a"]]},
    "empty choices and settings": {"survey": SURVEY, "choices": [], "settings": []},
    "settings headers only": {"survey": SURVEY, "settings": [["form_id", "version"]]},
    "no type column": {"survey": [["name", "label"], ["q", "Q"]]},
    "numbers, dates and booleans": {
        "survey": [
            ["type", "name", "label", "required", "relevant"],
            [5, True, dt.datetime(2026, 11, 30, 8, 0), 1.5, False],
            ["integer", 12, 3.25, dt.date(2026, 1, 1), 0],
        ],
        "settings": [["form_id", "version"], [7, 1.5]],
    },
    "a formula": {"survey": [["type", "name", "label"], ["text", "q", "=1+1"]]},
    "huge cells": {
        "survey": [["type", "name", "label", "hint"], ["text", "q", HUGE, HUGE]],
        "settings": [["form_id", "form_title"], ["f", HUGE]],
    },
    "a huge name": {"survey": [["type", "name", "label"], ["text", "q" * 32_000, "Q"]]},
    "a huge type": {"survey": [["type", "name", "label"], ["select_one " + HUGE, "q", "Q"]]},
    "a huge expression": {
        "survey": [
            ["type", "name", "label", "relevant"],
            ["integer", "n", "N", ""],
            ["text", "q", "Q", " + ".join(["${n}"] * 4_000)],
        ]
    },
    "deep brackets": {
        "survey": [
            ["type", "name", "label", "constraint"],
            ["integer", "n", "N", "(" * 5_000 + "1" + ")" * 5_000],
        ]
    },
    "deep groups": {
        "survey": [["type", "name", "label"]]
        + [["begin group", f"g{i}", "G"] for i in range(1_500)]
        + [["text", "q", "Q"]]
        + [["end group", "", ""] for _ in range(1_500)]
    },
    "unclosed group": {"survey": [["type", "name", "label"], ["begin group", "g", "G"]]},
    "end without begin": {"survey": [["type", "name", "label"], ["end repeat", "", ""]]},
    "choices without names": {
        "survey": [["type", "name", "label"], ["select_one l", "q", "Q"]],
        "choices": [["list_name", "name", "label"], ["l", None, "A"], [None, "b", "B"]],
    },
    "duplicate headers": {"survey": [["type", "name", "label", "label"], ["text", "q", "Q", "R"]]},
    "headers that are numbers": {"survey": [["type", 1, 2.5], ["text", "q", "Q"]]},
    "invisible characters": {
        "survey": [["type", "name\u200b", "label"], ["text\t", "q\u202e", "b\ufeff"]]
    },
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_malformed_xlsx_is_a_form_or_a_refusal(tmp_path: Path, case: str) -> None:
    path = xlsx(tmp_path / "form.xlsx", CASES[case])
    outcome(path)
    command(tmp_path, path)


@pytest.mark.parametrize(
    "case", ["no sheet with rows", "numbers, dates and booleans", "deep groups", "huge cells"]
)
def test_a_malformed_xls_is_a_form_or_a_refusal(tmp_path: Path, case: str) -> None:
    sheets = {
        title: [[("" if v is None else v) for v in row] for row in rows]
        for title, rows in CASES[case].items()
    }
    if case == "huge cells":  # .xls holds at most 32,767 characters a cell, and BIFF8 text
        sheets["survey"][1][2] = sheets["survey"][1][3] = "ậ" * 30_000
    path = xls_workbook(tmp_path / "form.xls", sheets)
    outcome(path)
    command(tmp_path, path)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("empty.xlsx", lambda p: _write(p, b"")),
        ("empty.xls", lambda p: _write(p, b"")),
        ("noise.xlsx", lambda p: _write(p, bytes(range(256)) * 40)),
        (
            "noise.xls",
            lambda p: _write(p, bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 600),
        ),
        ("text.xlsm", lambda p: _write(p, b"type,name,label\ntext,q,Q\n")),
        ("other.xlsx", lambda p: _zip(p, {"hello.txt": b"hi"})),
        ("broken.xlsx", lambda p: _zip(p, {"[Content_Types].xml": b"<not xml", "xl/x": b""})),
    ],
)
def test_bytes_that_are_no_workbook_are_refused(tmp_path: Path, name: str, make: Any) -> None:
    path = make(tmp_path / name)
    assert outcome(path) == "refused"
    command(tmp_path, path)


def test_an_xlsx_named_xls_and_an_xls_named_xlsx_are_refused_or_read(tmp_path: Path) -> None:
    real_xlsx = xlsx(tmp_path / "a.xlsx", {"survey": SURVEY})
    real_xls = xls_workbook(tmp_path / "b.xls", {"survey": SURVEY})
    for source, target in ((real_xlsx, "as.xls"), (real_xls, "as.xlsx")):
        renamed = tmp_path / target
        renamed.write_bytes(source.read_bytes())
        outcome(renamed)
        command(tmp_path, renamed)


CELL = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "text",
            "integer",
            "select_one l",
            "select_multiple l or_other",
            "begin group",
            "end group",
            "begin repeat",
            "end repeat",
            "calculate",
            "start",
            "deviceid",
            "phonenumber",
            "note",
            "${q}",
            ". > 1",
            "yes",
            "l",
            "q",
            "label::vi",
            "minimal quick",
            "randomize=true",
        ]
    ),
    st.text(max_size=20),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)
HEADER = st.sampled_from(
    [
        "type",
        "name",
        "label",
        "label::English (en)",
        "hint",
        "required",
        "relevant",
        "constraint",
        "calculation",
        "choice_filter",
        "repeat_count",
        "appearance",
        "parameters",
        "body::accuracyThreshold",
        "bind::jr:preload",
        "notes",
        "list_name",
        "form_id",
        "version",
        "style",
    ]
)


@st.composite
def sheets(draw: st.DrawFn) -> dict[str, list[list[Any]]]:
    result = {}
    for title in ("survey", "choices", "settings"):
        if draw(st.booleans()) or title == "survey":
            headers = draw(st.lists(HEADER, min_size=0, max_size=6))
            rows = draw(st.lists(st.lists(CELL, max_size=len(headers)), max_size=6))
            result[title] = [headers, *rows]
    return result


@pytest.mark.slow  # about 15 s: a workbook written and read per example
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sheets())
def test_any_grid_of_cells_is_a_form_or_a_refusal(
    tmp_path: Path, grid: dict[str, list[list[Any]]]
) -> None:
    try:
        path = xlsx(tmp_path / "grid.xlsx", grid)
    except IllegalCharacterError:
        return  # a control character openpyxl will not write: no workbook to read
    outcome(path)


JSON_CASES = [
    b"[]",
    b"null",
    b'"form"',
    b'{"settings": "x", "survey": []}',
    b'{"settings": [], "survey": "abc"}',
    b'{"settings": {"form_id": "f"}, "survey": [1, null, "x"]}',
    b'{"settings": {"form_id": "f"}, "survey": [{"type": 5, "name": ["q"]}]}',
    b'{"settings": {"form_id": ["f"], "version": {"v": 1}}, "survey": []}',
    b'{"settings": {"form_id": "f"}, "survey": [], "choices": {"a": 1}}',
    b'{"settings": {"form_id": "f"}, "survey": [{"type": "select_one l", "name": "q"}],'
    b' "choices": [{"list_name": 1, "name": 2}]}',
    b"[" * 100_000 + b"]" * 100_000,
    b"\xff\xfe not utf-8",
    b'{"settings": {"form_id": "f"}, "survey": [{"type": "text", "name": "q", "label": "Q"}]}',
]


@pytest.mark.parametrize("raw", JSON_CASES, ids=range(len(JSON_CASES)))
@pytest.mark.parametrize("version", [None, "1"])
def test_a_malformed_json_form_is_one_error_of_the_command(
    tmp_path: Path, raw: bytes, version: str | None
) -> None:
    path = _write(tmp_path / "form.json", raw)
    args = ["form", "check", str(path), *(["--version", version] if version else [])]
    done = CliRunner().invoke(main, args, env={"GOCUA_DATA_DIR": str(tmp_path / "data")})
    assert done.exception is None or isinstance(done.exception, SystemExit), repr(done.exception)
    assert done.exit_code == (0 if raw == JSON_CASES[-1] else 1), done.output

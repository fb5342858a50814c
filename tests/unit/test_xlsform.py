"""XLSForm workbooks in and out: the default form's .xlsx, round trips, and other people's forms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from schemas.form import DEFAULT_FORM, Form, FormError
from schemas.formcheck import with_version
from schemas.xlsform import XLSFormError, main, normalise_type, read_xlsform, write_xlsform

# Copies of the shared workbooks (tests/xlsforms/README.md): tests read no file outside the repo.
SHARED_XLSFORMS = Path(__file__).resolve().parents[1] / "xlsforms"
DEFAULT_XLSX = DEFAULT_FORM.with_suffix(".xlsx")


def default_definition() -> dict[str, Any]:
    return json.loads(DEFAULT_FORM.read_text(encoding="utf-8"))


def workbook(
    tmp_path: Path,
    survey: list[list[str]],
    choices: list[list[str]] | None = None,
    settings: list[list[str]] | None = None,
    name: str = "form.xlsx",
    **other_sheets: list[list[str]],
) -> Path:
    """A workbook written cell by cell, headers as given: not through write_xlsform."""
    book = Workbook()
    book.remove(book.active)
    sheets = {
        "survey": survey,
        "choices": choices
        or [["list_name", "name", "label"], ["yn", "yes", "Yes"], ["yn", "no", "No"]],
        "settings": settings or [["form_id", "version"], ["test", "1"]],
        **other_sheets,
    }
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    path = tmp_path / name
    book.save(path)
    return path


def test_the_workbook_is_the_json(tmp_path: Path) -> None:
    assert read_xlsform(DEFAULT_XLSX) == default_definition()


def test_write_then_read_is_exact(tmp_path: Path) -> None:
    definition = default_definition()
    write_xlsform(definition, tmp_path / "out.xlsx")
    assert read_xlsform(tmp_path / "out.xlsx") == definition


def test_the_workbook_has_the_three_sheets() -> None:
    book = load_workbook(DEFAULT_XLSX, read_only=True)
    assert book.sheetnames == ["survey", "choices", "settings"]


def test_a_value_starting_with_equals_stays_text(tmp_path: Path) -> None:
    definition = {
        "settings": {"form_id": "t", "version": "1"},
        "survey": [{"type": "note", "name": "n", "label": "=1+1 is two"}],
        "choices": [],
    }
    write_xlsform(definition, tmp_path / "eq.xlsx")
    assert read_xlsform(tmp_path / "eq.xlsx") == definition


def test_export_command(tmp_path: Path) -> None:
    target = tmp_path / "exported.xlsx"
    assert main(["export", str(DEFAULT_FORM), str(target)]) == 0
    assert read_xlsform(target) == default_definition()


def test_import_command_reports_the_error(tmp_path: Path, capsys: Any) -> None:
    source = workbook(tmp_path, [["type", "name", "label"], ["background-audio", "r", "R"]])
    assert main(["import", str(source), str(tmp_path / "out.json")]) == 1
    assert "row 2" in capsys.readouterr().err


# -- other people's forms -----------------------------------------------------------------------
SHARED = sorted(p for p in SHARED_XLSFORMS.iterdir() if p.suffix in (".xls", ".xlsx"))
# What each shared form gives when a version is supplied: imported, or (sheet, row, feature).
EXPECTED: dict[str, tuple[str, int, str] | None] = {
    "case_insensitivity": None,  # its osm question takes an .osm file; entities: a warning
    "choice_filter_test": None,  # cascading selects, duplicates allowed by its settings
    "field-list": None,  # a label missing a language is shown in another one: a warning
    "flat_xlsform_test": None,  # media labels without their files, an ex: app: warnings
    "gps": None,  # an .xls, read with xlrd as pyxform reads it
    "group": None,  # its 'phone number' is a text of digits, as pyxform writes it
    "loop": None,  # one group per toilet type, 'other' too (its select has or_other)
    "specify_other": None,
    "text_and_integer": None,
    "tutorial": None,  # the 'tutorial notes' column is ignored, as ODK ignores it
    "widgets": None,  # bind:jr:constraintMsg is constraint_message; audio, video, choice images
    "xlsform_spec_test": None,
    "yes_or_no_question": None,
}


def test_the_shared_forms_are_all_here() -> None:
    assert {path.stem for path in SHARED} == set(EXPECTED)
    assert [p.name for p in SHARED if p.suffix == ".xls"] == [
        "gps.xls",
        "tutorial.xls",
        "widgets.xls",
    ]


@pytest.mark.parametrize("path", SHARED, ids=lambda p: p.stem)
def test_a_shared_form_imports_or_names_sheet_row_and_feature(path: Path) -> None:
    try:
        definition = read_xlsform(path)
    except XLSFormError as error:
        assert error.sheet and isinstance(error.row, int) and error.feature
        for message, sheet_word, row_word in (
            (error.en, "Sheet", "row"),
            (error.vi, "Trang tính", "dòng"),
        ):
            assert f"{sheet_word} '{error.sheet}'" in message
            assert f"{row_word} {error.row}," in message
            assert error.feature in message
    else:
        Form(with_version(definition, "1"))


@pytest.mark.parametrize("path", SHARED, ids=lambda p: p.stem)
def test_a_shared_form_with_a_version(path: Path) -> None:
    expected = EXPECTED[path.stem]
    if expected is None:
        definition = read_xlsform(path, version="1")
        settings = definition["settings"]
        assert settings["version"] == "1"
        own = {
            "choice_filter_test": "cascading_selects1",
            "case_insensitivity": "YesNo",
            "flat_xlsform_test": "Flat test",
            "xlsform_spec_test": "Spec test",
        }
        # the workbook's own id, else its name
        assert settings["form_id"] == own.get(path.stem, path.stem)
        Form(definition)
    else:
        with pytest.raises(XLSFormError) as caught:
            read_xlsform(path, version="1")
        assert (caught.value.sheet, caught.value.row, caught.value.feature) == expected


def test_no_version_is_left_for_the_import_to_make() -> None:
    """The reader never makes a version up: the server does, at import, from the upload time
    (tests/unit/test_form_versions.py)."""
    definition = read_xlsform(SHARED_XLSFORMS / "text_and_integer.xlsx")
    assert definition["settings"] == {"form_id": "text_and_integer"}


def test_xlsform_spellings_become_the_model(tmp_path: Path) -> None:
    path = workbook(
        tmp_path,
        [
            ["TYPE", "Name", "LABEL:English(en)", "Relevance", "Required"],
            ["select one from yn", "ok", "OK?", "", "TRUE"],
            ["begin group", "g", "Group", "${ok} = 'yes'", ""],
            ["int", "n", "How many?", "", "no"],
            ["end group", "", "", "", ""],
        ],
        choices=[
            ["list name", "name", "label:English(en)"],
            ["yn", "yes", "Yes"],
            ["yn", "no", "No"],
        ],
    )
    definition = read_xlsform(path)
    assert definition["survey"] == [
        {"type": "select_one yn", "name": "ok", "label::English (en)": "OK?", "required": "yes"},
        {
            "type": "begin_group",
            "name": "g",
            "label::English (en)": "Group",
            "relevant": "${ok} = 'yes'",
        },
        {"type": "integer", "name": "n", "label::English (en)": "How many?", "required": "no"},
        {"type": "end_group"},
    ]
    assert definition["choices"][0] == {
        "list_name": "yn",
        "name": "yes",
        "label::English (en)": "Yes",
    }


@pytest.mark.parametrize(
    ("raw", "model"),
    [
        ("begin repeat", "begin_repeat"),
        ("end_repeat", "end_repeat"),
        ("select all that apply from d or specify other", "select_multiple d or_other"),
        ("select_one  yn", "select_one yn"),
        ("dateTime", "datetime"),
        ("gps", "geopoint"),
        ("select_one_from_file a.csv", "select_one_from_file a.csv"),
        ("rank yn", "rank yn"),
        ("begin loop over d", "begin_loop d"),
        ("end loop", "end_loop"),
    ],
)
def test_normalise_type(raw: str, model: str) -> None:
    assert normalise_type(raw) == model


# -- what Gõ Cửa does not do, row by row --------------------------------------------------------
UNSUPPORTED = [
    ("pulldata", ["calculate", "c", "", "pulldata('f', 'a', 'b', ${q})", ""], "pulldata()"),
    ("jr_itext", ["calculate", "c", "", "jr:itext(${q})", ""], "jr:itext()"),
    ("upper_case", ["calculate", "c", "", "upper-case(${q})", ""], "upper-case()"),
    ("unknown_to_us", ["background-audio", "c", "Sound", "", ""], "type 'background-audio'"),
    ("unknown_to_all", ["frobnicate", "c", "What?", "", ""], "pyxform"),
    (
        "from_file",
        ["select_one_from_file fruit.csv", "c", "Fruit", "", ""],
        "type 'select_one_from_file fruit.csv'",
    ),
    (
        "search",
        ["select_one yn", "c", "Fruit", "", "search('fruit')"],
        "appearance 'search('fruit')'",
    ),
]


# ODK's functions as forms written for ODK Collect and Enketo use them: every one imports.
ODK_CALCULATIONS = [
    "date(${visit}) + 7",
    "date-time(decimal-date-time(${visit}))",
    "decimal-date-time(${visit})",
    "decimal-time('12:00:00')",
    "format-date-time(now(), '%a %b %e %H:%M')",
    "format-date(${visit}, '%d %b %Y')",
    "substring(${q}, 1, 3)",
    "substring-before(${q}, ' ')",
    "substring-after(${q}, ' ')",
    "translate(${q}, 'abc', 'ABC')",
    "normalize-space(${q})",
    "ends-with(${q}, 'x')",
    "boolean-from-string(${q})",
    "pow(2, 3) + sqrt(16) + exp(0) + exp10(1) + log(1) + log10(10) + pi()",
    "sin(0) + cos(0) + tan(0) + asin(0) + acos(1) + atan(0) + atan2(0, 1)",
    "area(${where})",
    "distance(${where})",
    "geofence(${where}, '0 0;0 1;1 1;0 0')",
    "selected-at(${many}, 0)",
    "checklist(1, 2, ${yn}, 'yes')",
    "weighted-checklist(1, -1, ${yn}, 2)",
    "count-non-empty(${m})",
    "once(uuid())",
    "digest(${q}, 'SHA-256', 'hex')",
    "base64-decode('SGVsbG8=')",
    "uuid(8)",
    "random()",
    "join(' ', randomize(${m}, 42))",
    "indexed-repeat(${m}, ${people}, 1)",
    "jr:choice-name(${yn}, '${yn}')",
    "position()",
]


def test_forms_using_odks_functions_import(tmp_path: Path) -> None:
    survey = [
        ["type", "name", "label", "calculation"],
        ["text", "q", "Question", ""],
        ["date", "visit", "Visit", ""],
        ["text", "where", "Where (lat lon;lat lon…)", ""],
        ["select_one yn", "yn", "Yes?", ""],
        ["select_multiple yn", "many", "Which?", ""],
        ["begin_repeat", "people", "People", ""],
        ["text", "m", "Name", ""],
        ["end_repeat", "", "", ""],
    ]
    survey += [["calculate", f"c{i}", "", expr] for i, expr in enumerate(ODK_CALCULATIONS)]
    definition = read_xlsform(workbook(tmp_path, survey))
    form = Form(definition)
    calculated = [row["calculation"] for row in definition["survey"] if row.get("calculation")]
    assert calculated == ODK_CALCULATIONS
    assert form.choice_labels()["yn"] == {"yes": "Yes", "no": "No"}


def test_an_unknown_function_is_refused_naming_sheet_row_and_column(tmp_path: Path) -> None:
    path = workbook(
        tmp_path,
        [
            ["type", "name", "label", "constraint"],
            ["text", "q", "Question", "ends-with(., 'x')"],
            ["integer", "n", "Number", ". < pow(2, 8) and sha256(.) != ''"],
        ],
    )
    with pytest.raises(XLSFormError) as caught:
        read_xlsform(path)
    error = caught.value
    assert (error.sheet, error.row, error.feature) == ("survey", 3, "sha256()")
    assert "in constraint" in error.en and "cột constraint" in error.vi


@pytest.mark.parametrize(("case", "row", "feature"), UNSUPPORTED, ids=[u[0] for u in UNSUPPORTED])
def test_unsupported_feature_names_its_row(
    tmp_path: Path, case: str, row: list[str], feature: str
) -> None:
    path = workbook(
        tmp_path,
        [
            ["type", "name", "label", "calculation", "appearance"],
            ["text", "q", "Question", "", ""],
            row,
        ],
    )
    with pytest.raises(XLSFormError) as caught:
        read_xlsform(path)
    error = caught.value
    assert (error.sheet, error.row, error.feature) == ("survey", 3, feature)
    assert "row 3" in error.en and "dòng 3" in error.vi and feature in error.en


def test_an_empty_unsupported_column_is_harmless(tmp_path: Path) -> None:
    path = workbook(tmp_path, [["type", "name", "label", "media::image"], ["note", "a", "A", ""]])
    assert read_xlsform(path)["survey"] == [{"type": "note", "name": "a", "label": "A"}]


def test_rows_are_counted_as_excel_counts_them(tmp_path: Path) -> None:
    path = workbook(
        tmp_path,
        [
            ["type", "name", "label", "relevant"],
            ["text", "a", "A", ""],
            [],
            [],
            ["text", "b", "B", "${nowhere} = 1"],
        ],
    )
    with pytest.raises(XLSFormError) as caught:
        read_xlsform(path)
    assert caught.value.row == 5


def test_what_pyxform_refuses_carries_its_reason(tmp_path: Path) -> None:
    path = workbook(tmp_path, [["type", "name", "label"], ["select_one missing", "a", "A"]])
    with pytest.raises(XLSFormError) as caught:
        read_xlsform(path)
    error = caught.value
    assert isinstance(error, FormError)
    assert (error.sheet, error.row, error.feature) == ("survey", 2, "pyxform")
    assert "List name not in choices sheet: missing" in error.en
    assert "List name not in choices sheet: missing" in error.vi
    assert error.vi in str(error) and error.en in str(error)


def test_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "form.xlsx"
    path.write_bytes(b"not a spreadsheet")
    with pytest.raises(XLSFormError):
        read_xlsform(path)
    with pytest.raises(XLSFormError):
        read_xlsform(tmp_path / "missing.xlsx")


def test_a_zip_bomb_workbook_is_refused_before_pyxform_opens_it(tmp_path, monkeypatch):
    """A workbook of a few kilobytes that unpacks past the form's limits: an XLSFormError in
    both languages (the CLI's one error, no traceback), and pyxform never reads it."""
    from schemas import xlsform
    from tests.hostile_files import MB, many_parts, rezip

    honest = (SHARED_XLSFORMS / "text_and_integer.xlsx").read_bytes()
    padding = [b" " * MB] * 11
    cases = {
        "big.xlsx": (rezip(honest, add={"xl/padding.xml": padding}), "more than 10 MB"),
        "parts.xlsx": (many_parts(honest, 501), "too many parts (more than 500)"),
    }

    def opened(*args, **kwargs):
        raise AssertionError("pyxform opened a refused workbook")

    monkeypatch.setattr(xlsform, "get_xlsform", opened)
    for name, (raw, words) in cases.items():
        assert len(raw) < 100_000
        (tmp_path / name).write_bytes(raw)
        with pytest.raises(XLSFormError) as refused:
            read_xlsform(tmp_path / name, version="1")
        assert words in refused.value.en, name
    assert (
        "vượt quá 10 MB" in refused.value.vi
        if name == "big.xlsx"
        else "(hơn 500)" in refused.value.vi
    )


# -- .xls and .xlsm, as pyxform reads them ------------------------------------------------------
XLS_SURVEY = [
    ["type", "name", "label::Tiếng Việt (vi)", "label::English (en)", "required", "relevant"],
    ["select_one yn", "ok", "Đồng ý?", "Agree?", "yes", ""],
    ["integer", "age", "Tuổi", "Age", "TRUE", "${ok} = 'yes'"],
    ["begin repeat", "people", "Người", "People", "", ""],
    ["text", "who", "Tên", "Name", "", ""],
    ["end repeat", "", "", "", "", ""],
]
XLS_CHOICES = [
    ["list_name", "name", "label::Tiếng Việt (vi)", "label::English (en)"],
    ["yn", "yes", "Có", "Yes"],
    ["yn", "no", "Không", "No"],
]
XLS_SETTINGS = [["form_id", "form_title", "default_language"], ["xls_form", "Biểu mẫu", "vi"]]


def xls_workbook(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    """An Excel 97-2003 workbook, written by xlwt cell by cell: the format pyxform reads with
    xlrd, and the one older ODK forms are still kept in."""
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    for title, rows in sheets.items():
        sheet = book.add_sheet(title)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value not in ("", None):
                    sheet.write(r, c, value)
    book.save(str(path))
    return path


def test_an_xls_workbook_reads_as_its_xlsx_twin(tmp_path: Path) -> None:
    xls = xls_workbook(
        tmp_path / "form.xls",
        {"survey": XLS_SURVEY, "choices": XLS_CHOICES, "settings": XLS_SETTINGS},
    )
    assert xls.read_bytes()[:4] == bytes.fromhex("d0cf11e0")  # OLE2, not a zip
    xlsx = workbook(tmp_path, XLS_SURVEY, XLS_CHOICES, XLS_SETTINGS)
    definition = read_xlsform(xls)
    assert definition == read_xlsform(xlsx)
    assert definition["survey"][1] == {
        "type": "integer",
        "name": "age",
        "label::Tiếng Việt (vi)": "Tuổi",
        "label::English (en)": "Age",
        "required": "yes",
        "relevant": "${ok} = 'yes'",
    }
    Form(with_version(definition, "1"))


def test_an_xls_number_cell_reads_as_pyxform_writes_it(tmp_path: Path) -> None:
    """xlrd gives every number as a float: a version typed as 3 is "3", never "3.0"."""
    xls = xls_workbook(
        tmp_path / "n.xls",
        {
            "survey": [["type", "name", "label", "constraint"], ["integer", "n", "N", ". < 10"]],
            "settings": [["form_id", "version"], ["n", 3]],
        },
    )
    assert read_xlsform(xls)["settings"] == {"form_id": "n", "version": "3"}


def test_an_xls_problem_names_sheet_row_and_feature(tmp_path: Path) -> None:
    xls = xls_workbook(
        tmp_path / "bad.xls",
        {
            "survey": [
                ["type", "name", "label"],
                ["text", "a", "A"],
                [],
                ["background-audio", "r", "R"],
            ],
            "choices": XLS_CHOICES,
        },
    )
    with pytest.raises(XLSFormError) as caught:
        read_xlsform(xls)
    assert (caught.value.sheet, caught.value.row, caught.value.feature) == (
        "survey",
        4,
        "type 'background-audio'",
    )


def test_an_xlsm_workbook_is_read_as_an_xlsx(tmp_path: Path) -> None:
    """A macro-enabled workbook (its content type says so) is read as pyxform reads it; its
    macros are never run, openpyxl only reads the sheets."""
    import zipfile

    plain = workbook(tmp_path, XLS_SURVEY, XLS_CHOICES, XLS_SETTINGS)
    xlsm = tmp_path / "macro.xlsm"
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(xlsm, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "[Content_Types].xml":
                data = data.replace(
                    b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                    b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
                )
                assert b"macroEnabled" in data
            target.writestr(item, data)
    definition = read_xlsform(xlsm)
    assert definition == read_xlsform(plain)
    assert definition["settings"]["form_id"] == "xls_form"


def test_the_suffix_counts_in_any_case(tmp_path: Path) -> None:
    xls = xls_workbook(tmp_path / "UPPER.XLS", {"survey": XLS_SURVEY, "choices": XLS_CHOICES})
    assert read_xlsform(xls)["settings"] == {"form_id": "UPPER"}

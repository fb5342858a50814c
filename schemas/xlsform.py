"""Real XLSForm workbooks in and out: ``read_xlsform`` → form definition, ``write_xlsform`` back.

pyxform judges the workbook first, so a form ODK tools would refuse is refused here too, with
pyxform's reason. The sheets are then read into the form model with the columns as written:
only spellings XLSForm itself treats as the same are unified (``LABEL::EN`` and ``label::EN``,
``relevance`` and ``relevant``, ``begin group`` and ``begin_group``). Whatever Gõ Cửa would run
differently from ODK is an ``XLSFormError`` naming the sheet, the Excel row and the feature;
what it ignores because it changes no answer is a warning (``schemas/formextras.py``).
A ``begin loop`` becomes the groups pyxform makes of it (``expand_loops``).

    python -m schemas.xlsform export schemas/forms/household_survey.json household_survey.xlsx
    python -m schemas.xlsform import some_form.xlsx some_form.json [--version 2026.1]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import asdict, replace
from functools import cache
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from pyxform import aliases, constants
from pyxform.errors import PyXFormError
from pyxform.question_type_dictionary import QUESTION_TYPE_DICT
from pyxform.xls2json import RE_BEGIN_CONTROL, RE_END_CONTROL, RE_SELECT
from pyxform.xls2json_backends import DefinitionData, get_xlsform
from pyxform.xls2xform import convert

from schemas.file_choices import (
    Attachment,
    ExternalChoicesError,
    FileChoicesError,
    inline_external_choices,
    inline_file_choices,
)
from schemas.form import (
    OTHER_CHOICE,
    QUESTION_TYPES,
    FormError,
    language_code,
    parse_type,
    range_parameters,
)
from schemas.formcheck import (
    CHOICE_COLUMNS,
    MEDIA_COLUMNS,
    SETTINGS_COLUMNS,
    SURVEY_COLUMNS,
    TRANSLATED_COLUMNS,
    Problem,
    range_refusal,
    review_form,
)
from schemas.media import attach_media
from schemas.ziplimits import FORM, ZipRefused, check_zip

# What pyxform reads as a workbook: .xlsx and .xlsm with openpyxl, the older .xls with xlrd.
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls")
UNSUPPORTED_SHEETS = ("external_choices", "entities")
# The sheet only select_one_external questions read. The entities sheet only tells ODK Central
# to keep a list beside the records (saving an answer to it, save_to, is refused): the record
# holds every answer all the same, so the sheet is ignored with a warning.
_USED_ONLY_BY_REFUSED_TYPES = ("external_choices",)
_YES_NO_COLUMNS = ("required", "read_only")
# XLSForm's other spellings of the model's columns (pyxform's aliases), after snake_casing.
_COLUMN_ALIASES = {
    "survey": {
        "relevance": "relevant",
        "calculate": "calculation",
        "caption": "label",
        "count": "repeat_count",
        "jr:count": "repeat_count",
        "readonly": "read_only",
        "requiredmsg": "required_message",
        "constraining_message": "constraint_message",
        "command": "type",
        "tag": "name",
        "value": "name",
    },
    "choices": {"value": "name", "caption": "label"},
    "settings": {
        "set_form_id": "form_id",
        "id_string": "form_id",
        "set_form_title": "form_title",
        "title": "form_title",
    },
}
_KNOWN_COLUMNS = {
    "survey": SURVEY_COLUMNS | MEDIA_COLUMNS,
    "choices": CHOICE_COLUMNS | MEDIA_COLUMNS,
    "settings": SETTINGS_COLUMNS,
}
# select_one_external's sheet, and the osm sheet of an osm question's tags, are read as the
# choices sheet is.
for _sheet in ("external_choices", "osm"):
    _COLUMN_ALIASES[_sheet] = _COLUMN_ALIASES["choices"]
    _KNOWN_COLUMNS[_sheet] = _KNOWN_COLUMNS["choices"]
_PYXFORM_ROW = re.compile(r"\[row : (\d+)\]")
_PYXFORM_SHEET = re.compile(r"'(survey|choices|settings|external_choices|entities|osm)' sheet")
_CODE_SPACING = re.compile(r"\s*\(")


class XLSFormError(FormError):
    """An XLSForm that Gõ Cửa cannot take as it is: names the sheet, the Excel row, the feature."""

    def __init__(self, sheet: str, row: int | None, feature: str, en: str, vi: str) -> None:
        super().__init__(en, row, sheet)
        self.feature = feature
        where_en = [f"Sheet '{sheet}'"] if sheet else []
        where_vi = [f"Trang tính '{sheet}'"] if sheet else []
        if row is not None:
            where_en.append(f"row {row}")
            where_vi.append(f"dòng {row}")
        self.en = ", ".join([*where_en, feature]) + f": {en}"
        self.vi = ", ".join([*where_vi, feature]) + f": {vi}"
        self.args = (f"{self.vi}\n{self.en}",)


def read_xlsform(
    path: str | Path,
    *,
    version: str | None = None,
    warnings: list[Problem] | None = None,
    attachments: dict[str, bytes] | None = None,
    given: list[Attachment] | None = None,
) -> dict[str, Any]:
    """Read an XLSForm workbook into a form definition; raise ``XLSFormError`` if it cannot be.

    ``form_id`` falls back to the file name, as in pyxform. ``version`` is used only when the
    settings sheet names none; with neither, the definition has none and the import makes one.
    What the form has that Gõ Cửa ignores (it changes no answer) is added to ``warnings``, as
    pyxform adds its own, each with its Excel row. ``attachments`` (file name → bytes) are the
    files uploaded with the workbook: a CSV a ``select_one_from_file`` names gives its choices
    (``schemas/file_choices.py``); what each file gave is added to ``given``.
    """
    path = Path(path)
    if not path.is_file():
        raise XLSFormError("", None, "file", f"there is no file {path}", f"không có tệp {path}")
    _check_size(path)
    book = _pyxform_check(path)
    survey, survey_rows = _read_sheet(book, "survey")
    choices, choice_rows = _read_sheet(book, "choices")
    survey, survey_rows = expand_loops(survey, survey_rows, choices)
    settings_list, _ = _read_sheet(book, "settings")
    settings = settings_list[0] if settings_list else {}
    settings.setdefault("form_id", path.stem)
    if version and not settings.get("version"):
        settings["version"] = version
    external, external_rows = _read_sheet(book, "external_choices")
    try:
        used_external = inline_external_choices(
            survey, choices, external, survey_rows, external_rows
        )
    except ExternalChoicesError as error:
        raise XLSFormError(
            error.sheet, error.row, "select_one_external", error.en, error.vi
        ) from None
    tables: dict[str, Any] = {}
    if attachments is not None:
        try:
            found = inline_file_choices(survey, choices, attachments, tables)
        except FileChoicesError as error:
            place_vi, place_en = error.place
            line_en = f"{error.file}, {place_en}: " if place_en else ""
            line_vi = f"{error.file}, {place_vi}: " if place_vi else ""
            raise XLSFormError(
                "survey",
                survey_rows[error.row - 2],
                f"file '{error.file}'",
                line_en + error.en,
                line_vi + error.vi,
            ) from None
        if given is not None:
            given.extend(found)
        # An xml-external row only names a file the lookups now read from the definition.
        kept = [
            (row, number)
            for row, number in zip(survey, survey_rows, strict=True)
            if not (
                str(row.get("type", "")).strip() == "xml-external"
                and f"{str(row.get('name', '')).strip()}.xml" in attachments
            )
        ]
        survey, survey_rows = [r for r, _ in kept], [n for _, n in kept]
    definition = {"settings": settings, "survey": survey, "choices": choices}
    if tables:
        definition["pulldata"] = tables
    osm = _osm_tags(book, survey)
    if osm:
        definition["osm"] = osm
    media, media_files, media_problems = attach_media(
        {"survey": survey, "choices": choices}, attachments
    )
    # Missing files only warned of are the form check's (it sees the media map alone).
    refused = next((p for p in media_problems if not p.warning), None)
    if refused is not None:
        numbers = survey_rows if refused.sheet == "survey" else choice_rows
        raise XLSFormError(
            refused.sheet,
            numbers[refused.row - 2],
            f"file '{refused.file}'",
            f"{refused.column}: {refused.en}",
            f"{refused.column}: {refused.vi}",
        )
    if media:
        definition["media"] = media
        if given is not None:
            labels = {f.name: f.labels for f in media_files}
            given[:] = [replace(a, labels=labels[a.name]) if a.name in labels else a for a in given]
    problems, ignored = review_form(definition)
    excel_rows = {"survey": survey_rows, "choices": choice_rows}
    if problems:
        raise _xlsform_error(problems[0], excel_rows)
    # Checked last: the survey row that uses such a sheet is the clearer thing to point at.
    for sheet in UNSUPPORTED_SHEETS:
        rows = getattr(book, sheet) or []
        first = next((number for number, row in enumerate(rows, start=2) if row), None)
        if first is not None and sheet == "external_choices" and used_external:
            continue  # its lists are the choices of the form's select_one_external questions
        if first is not None and sheet == "entities":
            ignored.append(
                Problem(
                    sheet,
                    first,
                    "",
                    "the 'entities' sheet is ignored: no entity list is kept beside the records,"
                    " and every answer stays in its record",
                    "bỏ qua trang tính 'entities': không lưu danh sách thực thể nào bên cạnh các"
                    " phiếu, mọi câu trả lời vẫn nằm trong phiếu",
                    f"sheet '{sheet}'",
                    warning=True,
                )
            )
        elif first is not None and sheet in _USED_ONLY_BY_REFUSED_TYPES:
            # No question uses it (one that did was refused above): it changes no answer.
            ignored.append(
                Problem(
                    sheet,
                    first,
                    "",
                    f"the '{sheet}' sheet is ignored: no question uses it",
                    f"bỏ qua trang tính '{sheet}': không câu hỏi nào dùng nó",
                    f"sheet '{sheet}'",
                    warning=True,
                )
            )
        elif first is not None:
            raise XLSFormError(
                sheet,
                first,
                sheet,
                f"the '{sheet}' sheet is not supported",
                f"không hỗ trợ trang tính '{sheet}'",
            )
    if warnings is not None:
        warnings.extend(replace(w, row=_excel_row(w, excel_rows)) for w in ignored)
    return definition


_TOO_BIG = {
    "too_big": (
        "the workbook is too large: unpacked, it would be more than {limit} MB",
        "bảng tính quá lớn: khi giải nén sẽ vượt quá {limit} MB",
    ),
    "too_many_parts": (
        "the workbook has too many parts (more than {limit})",
        "bảng tính có quá nhiều thành phần (hơn {limit})",
    ),
    "packed": (
        "the workbook is packed far more tightly than a spreadsheet is (more than "
        "{limit} times); save it again from Excel",
        "bảng tính bị nén chặt bất thường (hơn {limit} lần); hãy lưu lại từ Excel",
    ),
}


def _check_size(path: Path) -> None:
    """Refuse a workbook that would unpack too far (a zip bomb) before pyxform opens it."""
    try:
        check_zip(path, FORM)
    except ZipRefused as refused:
        en, vi = _TOO_BIG[refused.reason]
        raise XLSFormError(
            "", None, "file", en.format(limit=refused.limit), vi.format(limit=refused.limit)
        ) from None


def _pyxform_check(path: Path) -> DefinitionData:
    """The workbook's sheets as pyxform reads them, once pyxform has found no fault in them."""
    book: DefinitionData | None = None
    try:
        # By its suffix in any case (FORM.XLS): pyxform would otherwise guess from the bytes.
        suffix = path.suffix.lower()
        book = get_xlsform(str(path), file_type=suffix if suffix in WORKBOOK_SUFFIXES else None)
        # A copy: pyxform may change what it is given, and the sheets are read again below.
        convert(xlsform=asdict(book), validate=False, warnings=[])
    # pyxform is third-party code reading untrusted input: whatever it raises is its refusal.
    except Exception as error:
        reason = (
            str(error) if isinstance(error, PyXFormError) else f"{type(error).__name__}: {error}"
        )
        sheet = _PYXFORM_SHEET.search(reason)
        row = _PYXFORM_ROW.search(reason)
        if row and "'range' question type" in reason:
            # pyxform's reason is English only: the same refusal, said in both languages. It
            # stops at the first range whose step is 0 or whose parameter is no number.
            for raw in (book.survey if book else None) or []:
                parameters = str(raw.get("parameters") or "").strip()
                if parse_type(str(raw.get("type") or ""))[0] == "range" and range_parameters(
                    parameters
                ) in ("not_a_number", "step_not_positive"):
                    refusal = range_refusal(parameters) or ("", "")
                    raise XLSFormError(
                        "survey", int(row.group(1)), "type 'range'", *refusal
                    ) from None
        raise XLSFormError(
            sheet.group(1) if sheet else "survey",
            int(row.group(1)) if row else _row_quoted(book, reason),
            "pyxform",
            f"the workbook breaks a rule of XLSForm: {reason}",
            f"bảng tính vi phạm quy tắc của XLSForm: {reason}",
        ) from None
    return book


def _row_quoted(book: DefinitionData | None, reason: str) -> int | None:
    """The survey row holding a value pyxform quotes, for the messages that give no row
    (``Unknown question type 'frobnicate'.``)."""
    quoted = set(re.findall(r"'([^']+)'", reason))
    rows = (book.survey if book else None) or []
    return next(
        (number for number, row in enumerate(rows, start=2) if quoted.intersection(row.values())),
        None,
    )


def _excel_row(problem: Problem, row_numbers: dict[str, list[int]]) -> int | None:
    # Problems count the rows of the definition; Excel also counts the blank rows left out.
    numbers = row_numbers.get(problem.sheet)
    row = problem.row
    if numbers is not None and row is not None and 2 <= row < len(numbers) + 2:
        return numbers[row - 2]
    return 2 if problem.sheet == "settings" else row


def _xlsform_error(problem: Problem, row_numbers: dict[str, list[int]]) -> XLSFormError:
    return XLSFormError(
        problem.sheet,
        _excel_row(problem, row_numbers),
        problem.feature or problem.column,
        problem.message_en,
        problem.message_vi,
    )


# -- reading the sheets -------------------------------------------------------------------------
def _osm_tags(book: DefinitionData, survey: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The osm sheet's rows the survey's ``osm LIST`` questions ask for, as the definition
    keeps them (``osm``); pyxform has refused a list the sheet lacks."""
    rows, _ = _read_sheet(book, "osm") if getattr(book, "osm", None) else ([], [])
    wanted = {
        parts[1]
        for question in survey
        if len(parts := str(question.get("type", "")).split()) == 2 and parts[0] == "osm"
    }
    return [r for r in rows if str(r.get("list_name", "")).strip() in wanted]


def _read_sheet(book: DefinitionData, sheet: str) -> tuple[list[dict[str, str]], list[int]]:
    """The sheet's rows with the model's column names, and the Excel number of each row kept."""
    data = getattr(book, sheet) or []
    headers = list((getattr(book, f"{sheet}_header") or [{}])[0])
    double_colon = any("::" in header for header in headers)
    columns: dict[str, str] = {}
    for header in headers:
        column = _column(sheet, header, double_colon)
        if column in columns.values():
            other = next(h for h, c in columns.items() if c == column)
            raise XLSFormError(
                sheet,
                1,
                f"column '{header}'",
                f"the columns '{other}' and '{header}' mean the same thing",
                f"hai cột '{other}' và '{header}' có cùng một nghĩa",
            )
        columns[header] = column
    rows: list[dict[str, str]] = []
    numbers: list[int] = []
    for number, raw in enumerate(data, start=2):
        row = {columns[key]: value for key, value in raw.items() if value not in (None, "")}
        if sheet == "survey":
            if not row.get("type"):
                continue  # XLSForm skips a row without a type as a comment
            row["type"] = normalise_type(row["type"])
            if row["type"] == "phone number":
                _phone_number(row)
            for column in _YES_NO_COLUMNS:
                if column in row and row[column] in aliases.yes_no:
                    row[column] = "yes" if aliases.yes_no[row[column]] else "no"
        elif sheet in ("choices", "external_choices", "osm") and not (
            row.get("list_name") or row.get("name")
        ):
            continue  # a note beside the lists, not a choice
        if row:
            rows.append(row)
            numbers.append(number)
    return rows, numbers


# -- loops -------------------------------------------------------------------------------------
# A loop's rows are copied once per choice, a loop in a loop once per pair: bounded, as the
# workbook itself is, so that a small workbook cannot make a form no phone could open.
MAX_EXPANDED_ROWS = 20_000


class _Substitutions(dict[str, Any]):
    """What ``%(label)s`` and ``%(name)s`` become in a loop's rows; a key the choice lacks is
    empty (pyxform refuses such a workbook before it gets here)."""

    def __missing__(self, key: str) -> str:
        return ""


def expand_loops(
    rows: list[dict[str, str]], numbers: list[int], choices: list[dict[str, str]]
) -> tuple[list[dict[str, str]], list[int]]:
    """Each ``begin loop over LIST`` … ``end loop`` as pyxform builds it: a group named as the
    loop holding, per choice of LIST but ``none``, a group named and labelled as the choice with
    the loop's rows in it, ``%(name)s`` and ``%(label)s`` in their cells replaced by the
    choice's (in each language its label has). The same question names in each choice's group
    are keyed by path (``schemas/form.py``). Rows keep the Excel number of the row they copy."""
    if not any(row.get("type", "").startswith("begin_loop") for row in rows):
        return rows, numbers
    choices = _with_other(rows, choices)
    out: list[dict[str, str]] = []
    out_numbers: list[int] = []
    index = 0
    while index < len(rows):
        row = rows[index]
        kind, _, list_name = row.get("type", "").partition(" ")
        if kind != "begin_loop":
            out.append(row)
            out_numbers.append(numbers[index])
            index += 1
            continue
        end = _loop_end(rows, index)
        body, body_numbers = rows[index + 1 : end], numbers[index + 1 : end]
        loop_number = numbers[index]
        end_number = numbers[end] if end < len(rows) else loop_number
        out.append({**row, "type": "begin_group"})
        out_numbers.append(loop_number)
        for choice in choices:
            if choice.get("list_name") != list_name or choice.get("name") == "none":
                continue
            labels = {k: v for k, v in choice.items() if k == "label" or k.startswith("label::")}
            out.append({"type": "begin_group", "name": str(choice.get("name", "")), **labels})
            out_numbers.append(loop_number)
            copied = _substituted(body, choice)
            # A loop inside the loop is expanded once its own rows carry this choice.
            inner, inner_numbers = expand_loops(copied, body_numbers, choices)
            out += inner
            out_numbers += inner_numbers
            if len(out) > MAX_EXPANDED_ROWS:
                raise XLSFormError(
                    "survey",
                    loop_number,
                    f"type 'begin loop over {list_name}'",
                    f"the loops make more than {MAX_EXPANDED_ROWS:,} rows of questions",
                    f"các vòng lặp (loop) tạo ra hơn {MAX_EXPANDED_ROWS:,} dòng câu hỏi",
                )
            out.append({"type": "end_group"})
            out_numbers.append(end_number)
        out.append({"type": "end_group"})
        out_numbers.append(end_number)
        index = end + 1
    return out, out_numbers


def _with_other(rows: list[dict[str, str]], choices: list[dict[str, str]]) -> list[dict[str, str]]:
    """The choices with XLSForm's 'other' last in each list a ``select … or_other`` uses: pyxform
    adds it to the list itself, so a loop over that list has an 'other' group too."""
    others = {
        parts[1]
        for row in rows
        if len(parts := row.get("type", "").split()) == 3 and parts[2] == "or_other"
    }
    added: list[dict[str, str]] = []
    for list_name in sorted(others):
        mine = [c for c in choices if c.get("list_name") == list_name]
        if not mine or any(c.get("name") == "other" for c in mine):
            continue
        columns = {k for c in mine for k in c if k == "label" or k.startswith("label::")}
        other = {"list_name": list_name, "name": "other"}
        for column in sorted(columns):
            code = language_code(column.partition("::")[2]) if "::" in column else ""
            other[column] = OTHER_CHOICE.get(code, OTHER_CHOICE["en"])
        added.append(other)
    return [*choices, *added]


def _loop_end(rows: list[dict[str, str]], start: int) -> int:
    depth = 0
    for index in range(start, len(rows)):
        kind = rows[index].get("type", "")
        if kind.startswith("begin_"):
            depth += 1
        elif kind.startswith("end_"):
            depth -= 1
            if depth == 0:
                return index
    return len(rows)  # pyxform refuses an unclosed loop; the form check names it otherwise


def _substituted(body: list[dict[str, str]], choice: dict[str, str]) -> list[dict[str, str]]:
    """The loop's rows for one choice. As pyxform does, only the rows directly in the loop are
    filled in (a group's row is, the rows inside that group are not)."""
    labels = {
        language: str(value)
        for column, value in choice.items()
        if (language := column.partition("::")[2]) and column.startswith("label::")
    }
    plain = str(choice.get("label") or next(iter(labels.values()), ""))
    copied: list[dict[str, str]] = []
    depth = 0
    for row in body:
        kind = row.get("type", "")
        if kind.startswith("end_"):
            depth -= 1
        if depth == 0:
            row = {
                column: _fill(value, choice, labels.get(column.partition("::")[2], plain))
                for column, value in row.items()
            }
        copied.append(row)
        if kind.startswith("begin_"):
            depth += 1
    return copied


def _fill(value: Any, choice: dict[str, str], label: str) -> Any:
    if not isinstance(value, str) or "%" not in value:
        return value
    try:
        return value % _Substitutions({**choice, "label": label})
    except (ValueError, TypeError):  # pyxform refuses these; kept as written all the same
        return value


# pyxform's "phone number" is a text question of digits only: this constraint, as its XForm has.
PHONE_NUMBER_CONSTRAINT = "regex(., '^\\d*$')"


def _phone_number(row: dict[str, str]) -> None:
    row["type"] = "text"
    own = str(row.get("constraint") or "").strip()
    row["constraint"] = f"({own}) and {PHONE_NUMBER_CONSTRAINT}" if own else PHONE_NUMBER_CONSTRAINT


def _column(sheet: str, header: str, double_colon: bool) -> str:
    """A header as the model names it; an unknown header stays as written, as in pyxform."""
    header = " ".join(header.split())
    delimiter = "::" if double_colon else ":"
    first, sep, rest = header.partition(delimiter)
    if not double_colon and first.strip().lower() == "jr":  # jr:count is a name, not a language
        first, sep, rest = header, "", ""
    base = "_".join(first.split()).lower()
    if base == "media" and sep and sheet != "settings":
        # media::image is XLSForm's other spelling of image (media::image::English (en) too).
        kind, sep, rest = rest.partition(delimiter)
        base = "_".join(kind.split()).lower()
    # XLSForm's older spelling of a column by its XForm attribute: bind::jr:constraintMsg is
    # constraint_message, bind::relevant is relevant (pyxform's own aliases).
    attribute = ("control" if base == "body" else base, rest.strip())
    if sheet == "survey" and sep and (column := _attribute_columns().get(attribute)):
        return column
    base = _COLUMN_ALIASES[sheet].get(base, base)
    if base not in _KNOWN_COLUMNS[sheet]:
        return header
    if not sep:
        return base
    return f"{base}::{_CODE_SPACING.sub(' (', rest).strip()}"


@cache
def _attribute_columns() -> dict[tuple[str, str], str]:
    """(``bind``/``control``, attribute) → the model's column, from pyxform's aliases."""
    found: dict[tuple[str, str], str] = {}
    for alias, target in aliases.survey_header.items():
        column = _COLUMN_ALIASES["survey"].get(alias, alias)
        if isinstance(target, tuple) and column in SURVEY_COLUMNS:
            found.setdefault(target, column)
    return found


def normalise_type(raw: str) -> str:
    """XLSForm's spellings of one type as the model's one (``select one from x`` → ``select_one
    x``); a type Gõ Cửa does not have is returned as written, for the check to name it."""
    text = " ".join(raw.split())
    if match := RE_BEGIN_CONTROL.match(text):
        kind = aliases.control[match["type"]]
        if kind == constants.LOOP and match["list_name"]:
            return f"begin_loop {match['list_name']}"  # expanded by expand_loops
        return f"begin_{kind}" if kind != constants.LOOP and not match["list_name"] else text
    if match := RE_END_CONTROL.match(text):
        return f"end_{aliases.control[match['type']]}"
    if match := RE_SELECT.match(text):
        command = match["select_command"]
        kind = {
            constants.SELECT_ONE: "select_one",
            constants.SELECT_ALL_THAT_APPLY: "select_multiple",
        }.get(aliases.select[command])
        if kind is None or command in aliases.select_from_file:
            return text
        return f"{kind} {match['list_name']}" + (" or_other" if match["specify_other"] else "")
    return _type_aliases().get(text, text)


@cache
def _type_aliases() -> dict[str, str]:
    """pyxform's other names for a supported type: those it turns into the very same XForm."""
    plain = {
        t: QUESTION_TYPE_DICT[t]
        for t in QUESTION_TYPES
        if t in QUESTION_TYPE_DICT and not t.startswith("select")
    }
    found: dict[str, str] = {}
    for alias, spec in QUESTION_TYPE_DICT.items():
        if alias in QUESTION_TYPES or alias.startswith("select") or alias in aliases.select:
            continue
        same = [name for name, other in plain.items() if other == spec]
        if len(same) == 1:  # "q calculate" is calculate and hidden alike: leave it unknown
            found[alias] = same[0]
    # XLSForm's first name for acknowledge: the same widget, its answer "OK" a string as well.
    found["trigger"] = "acknowledge"
    # ODK Collect fills uri:deviceid and deviceid alike today; the others stay empty anyway.
    for kind in ("deviceid", "username", "phonenumber", "email", "simserial", "subscriberid"):
        found[f"uri:{kind}"] = kind
    return found


# -- writing ------------------------------------------------------------------------------------
def write_xlsform(definition: dict[str, Any], path: str | Path) -> None:
    """Write a form definition as an XLSForm workbook that ``read_xlsform`` reads back equal."""
    book = Workbook()
    book.remove(book.active)
    settings = definition.get("settings") or {}
    sheets = {
        "survey": definition.get("survey") or [],
        "choices": definition.get("choices") or [],
        "settings": settings if isinstance(settings, list) else [settings],
    }
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        headers = list(
            dict.fromkeys(
                key for row in rows for key, value in row.items() if value not in (None, "")
            )
        )
        sheet.append(headers)
        for number, row in enumerate(rows, start=2):
            for column, header in enumerate(headers, start=1):
                value = row.get(header)
                if value in (None, ""):
                    continue
                cell = sheet.cell(row=number, column=column, value=str(value))
                cell.data_type = "s"  # never a formula, even when a value starts with "="
        sheet.freeze_panes = "A2"
        for column, header in enumerate(headers, start=1):
            wide = header.split("::")[0] in TRANSLATED_COLUMNS
            sheet.column_dimensions[sheet.cell(1, column).column_letter].width = 48 if wide else 18
    book.save(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m schemas.xlsform", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="form definition (JSON) → XLSForm (.xlsx)")
    export.add_argument("source", type=Path)
    export.add_argument("target", type=Path)
    read = commands.add_parser("import", help="XLSForm (.xlsx) → form definition (JSON)")
    read.add_argument("source", type=Path)
    read.add_argument("target", type=Path)
    read.add_argument("--version", help="the form version, when the settings sheet has none")
    args = parser.parse_args(argv)
    try:
        if args.command == "export":
            write_xlsform(json.loads(args.source.read_text(encoding="utf-8")), args.target)
        else:
            warnings: list[Problem] = []
            definition = read_xlsform(args.source, version=args.version, warnings=warnings)
            for warning in warnings:
                print(f"{warning.sheet} {warning.row}: {warning.message_en}", file=sys.stderr)
            args.target.write_text(
                json.dumps(definition, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
            )
    except (FormError, OSError, json.JSONDecodeError) as error:
        print(error, file=sys.stderr)
        return 1
    print(args.target)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Check a form definition before anyone collects with it: every problem, in Vietnamese and English.

``schemas.form.Form`` reads a definition and stops at the first thing it cannot build; this
module also finds what would only fail later, on a volunteer's phone or on the server: a
``${name}`` that points nowhere, an expression the engine cannot parse, a function or a column
Gõ Cửa does not implement, a label missing one of the form's languages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from pyxform.utils import default_is_dynamic

from schemas.expr_parser import FUNCTIONS
from schemas.expressions import ExpressionError, parse
from schemas.file_choices import MAX_CELL, MAX_ROWS, PULLDATA_FILE
from schemas.form import (
    AUTOMATIC_TYPES,
    EMPTY_METADATA_TYPES,
    MAX_RANGE_STEPS,
    QUESTION_TYPES,
    RANGE_DEFAULTS,
    RANGE_PARAMETER,
    Form,
    FormError,
    choice_filter_expression,
    language_code,
    parse_type,
    range_parameters,
)
from schemas.formextras import (
    TYPE_ADVICE,
    USED_SETTINGS,
    Verdict,
    appearance_verdicts,
    audit_parameter_verdicts,
    parameter_verdicts,
    setting_verdict,
    survey_column_verdict,
)
from schemas.media import (
    MAX_AUDIT_EVENTS,
    MAX_AUDIT_LOG_BYTES,
    media_column,
    media_map_problems,
    references,
)

# Columns as the form model names them; translated ones may carry ``::Language (code)``.
TRANSLATED_COLUMNS = ("label", "hint", "constraint_message", "required_message")
SURVEY_COLUMNS = frozenset(
    {
        "type",
        "name",
        *TRANSLATED_COLUMNS,
        "required",
        "relevant",
        "constraint",
        "calculation",
        "choice_filter",
        "repeat_count",
        "appearance",
        "default",
        "read_only",
    }
)
SETTINGS_COLUMNS = USED_SETTINGS
# Choice columns beyond these are the choice's own properties, which a choice_filter may test;
# media columns name a file shown beside the label (``schemas/media.py``).
CHOICE_COLUMNS = frozenset({"list_name", "name", "label"})
MEDIA_COLUMNS = frozenset({"image", "big-image", "audio", "video", "media"})
EXPRESSION_COLUMNS = (
    "relevant",
    "constraint",
    "calculation",
    "required",
    "read_only",
    "choice_filter",
    "repeat_count",
    "default",
)
# ``required`` and ``read_only`` hold either a yes/no word or an expression.
# ``default`` is a literal value; the other columns are evaluated, so they must parse.
_PARSED_COLUMNS = tuple(column for column in EXPRESSION_COLUMNS if column != "default")
YES_NO_WORDS = frozenset({"yes", "no", "true", "false", "true()", "false()"})
STRUCTURE_TYPES = frozenset({"begin_group", "end_group", "begin_repeat", "end_repeat"})
SHEETS = ("survey", "choices", "settings")

_REFERENCE = re.compile(r"\$\{([^}]*)\}")
_STRING = re.compile(r"'[^']*'|\"[^\"]*\"")
_CALL = re.compile(r"([A-Za-z_][\w.:-]*)\s*\(")
_OPERATORS = frozenset({"and", "or", "div", "mod"})
_NAME = re.compile(r"^[^\W\d][\w.-]*$")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a form, where it is, in both languages; or, with ``warning``, one
    thing of it that Gõ Cửa ignores because it changes no answer."""

    sheet: str
    row: int | None  # 1-based data row + 1, as Excel numbers it; None for the whole sheet
    column: str
    message_en: str
    message_vi: str
    feature: str = ""  # what the problem is about: a type, a column, a function, a name
    warning: bool = False
    more: int = 0  # a warning: how many other rows have the same one


def check_form(definition: dict[str, Any]) -> list[Problem]:
    """Every problem of a form definition, sorted by sheet and row; empty when it is usable."""
    return review_form(definition)[0]


def review_form(definition: dict[str, Any]) -> tuple[list[Problem], list[Problem]]:
    """(problems, warnings) of a form definition, each sorted by sheet and row. A warning is
    listed once, at its first row, with how many rows more have it."""
    found = _all_problems(definition)
    problems = [p for p in found if not p.warning]
    warnings: dict[tuple[str, str, str], Problem] = {}
    for warning in (p for p in found if p.warning):
        key = (warning.sheet, warning.column, warning.feature)
        first = warnings.get(key)
        warnings[key] = replace(first, more=first.more + 1) if first else warning
    return problems, list(warnings.values())


def _all_problems(definition: dict[str, Any]) -> list[Problem]:
    survey = [r for r in _rows(definition.get("survey")) if isinstance(r, dict)]
    choices = [r for r in _rows(definition.get("choices")) if isinstance(r, dict)]
    settings = definition.get("settings") or {}
    if isinstance(settings, list):
        settings = settings[0] if settings else {}
    if not isinstance(settings, dict):
        settings = {}
    problems = [
        *_settings_problems(settings),
        *_survey_row_problems(survey),
        *_choice_row_problems(choices),
        *_pulldata_problems(survey, definition.get("pulldata")),
        *_media_problems(survey, choices, definition.get("media")),
    ]
    try:
        form = Form(with_version(definition, "0"))
    except FormError as error:
        # Rows already reported explain Form's refusal better than its English sentence does.
        if not any(p.sheet == error.sheet and error.row in (p.row, None) for p in problems):
            problems.append(_form_error_problem(error))
    else:
        problems += _tree_problems(form)
        problems += _rank_and_audit_problems(form)
        problems += _background_point_problems(form)
    return sorted(problems, key=lambda p: (_sheet_order(p.sheet), p.row or 0))


def _rows(rows: Any) -> list[Any]:
    return rows if isinstance(rows, list) else []


def _verdict_problem(sheet: str, row: int | None, column: str, verdict: Verdict) -> Problem:
    return Problem(
        sheet, row, column, verdict.en, verdict.vi, verdict.feature, warning=not verdict.refused
    )


def with_version(definition: dict[str, Any], version: str) -> dict[str, Any]:
    """The definition with ``version`` in its settings when they name none (a shallow copy);
    as it is when they do. A form without a version is checked as any other: the server gives
    it one when it is imported (``server.domain.forms.install_form``)."""
    settings = definition.get("settings") or {}
    if isinstance(settings, list):
        settings = settings[0] if settings else {}
    if not isinstance(settings, dict) or _text(settings.get("version")):
        return definition
    return {**definition, "settings": {**settings, "version": version}}


def _sheet_order(sheet: str) -> int:
    return SHEETS.index(sheet) if sheet in SHEETS else len(SHEETS)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _split(column: str) -> tuple[str, str | None]:
    """``"label::English (en)"`` → ``("label", "English (en)")``."""
    base, sep, language = column.partition("::")
    return base, (language if sep else None)


# -- row by row ---------------------------------------------------------------------------------
# pyxform decides whether a default is an expression by the XForm type's name.
_XFORM_TYPES = {"datetime": "dateTime", "start": "dateTime", "end": "dateTime", "today": "date"}
# form_id and version name every record: plain words, short enough for a page and a URL.
MAX_ID_LENGTH = 255


def _settings_problems(settings: dict[str, Any]) -> Iterator[Problem]:
    for column in ("form_id", "version"):
        value = settings.get(column)
        if value in (None, "") or (
            isinstance(value, str | int | float)
            and not isinstance(value, bool)
            and len(str(value).strip()) <= MAX_ID_LENGTH
        ):
            continue
        yield Problem(
            "settings",
            2,
            column,
            f"the {column} must be a word or a number of at most {MAX_ID_LENGTH} characters",
            f"{column} phải là một từ hoặc một số, dài tối đa {MAX_ID_LENGTH} ký tự",
            column,
        )
        return
    for column in ("form_id", "version"):
        if problem := _address_problem(column, _text(settings.get(column))):
            yield problem
            return
    # No version is no problem: the import makes one (see with_version).
    if not _text(settings.get("form_id")):
        yield Problem(
            "settings",
            2,
            "form_id",
            "the settings sheet needs a form_id column (for example ho_gia_dinh_cds): "
            "every record names the form it was collected with",
            "trang settings cần có cột form_id (ví dụ ho_gia_dinh_cds): mỗi phiếu ghi "
            "rõ biểu mẫu đã dùng để thu thập",
            "form_id",
        )
    for column, value in settings.items():
        if _text(value) and (verdict := setting_verdict(str(column), _text(value))):
            yield _verdict_problem("settings", 2, str(column), verdict)


def _address_problem(column: str, value: str) -> Problem | None:
    """A form_id or version a web address cannot carry as one part of its path. ODK allows any
    text and Central quotes it; every address here quotes it too (the phone's media, ODK
    Collect's form, manifest and files, OData), but a ``/`` comes back from the quoting as a
    ``/`` and splits the path, and ``.`` or ``..`` are read as a move up the path."""
    if not value or ("/" not in value and value.strip(".")):
        return None
    return Problem(
        "settings",
        2,
        column,
        f"the {column} '{value}' cannot be part of a web address (it holds '/' or is only "
        f"dots): phones and ODK Collect fetch the form and its files by it; "
        f"write it with '_' or '-' instead",
        f"{column} '{value}' không thể nằm trong địa chỉ web (có dấu '/' hoặc chỉ gồm dấu "
        f"chấm): điện thoại và ODK Collect tải biểu mẫu và tệp của nó theo {column}; "
        f"hãy dùng '_' hoặc '-' thay vào",
        column,
    )


def _survey_row_problems(rows: list[dict[str, Any]]) -> Iterator[Problem]:
    for number, row in enumerate(rows, start=2):
        raw_type = _text(row.get("type"))
        if not raw_type:
            continue
        base, _, _ = parse_type(raw_type)
        if base not in QUESTION_TYPES and base not in STRUCTURE_TYPES:
            en_hint, vi_hint = TYPE_ADVICE.get(base, ("", ""))
            yield Problem(
                "survey",
                number,
                "type",
                f"the question type '{raw_type}' is not supported"
                + (f": {en_hint}" if en_hint else ""),
                f"không hỗ trợ kiểu câu hỏi '{raw_type}'" + (f": {vi_hint}" if vi_hint else ""),
                f"type '{raw_type}'",
            )
        if base == "osm":
            # Said at import, so that whoever publishes the form knows what volunteers will do.
            yield Problem(
                "survey",
                number,
                "type",
                "OpenMapKit does not run in a browser: the volunteer chooses the .osm file a"
                " mapping app saved, and its text (at most 100,000 characters) is the answer;"
                " the tags of the osm sheet are listed beside the question",
                "OpenMapKit không chạy trong trình duyệt: tình nguyện viên chọn tệp .osm mà"
                " ứng dụng bản đồ đã lưu, nội dung tệp (tối đa 100.000 ký tự) là câu trả lời;"
                " các thẻ của trang osm được liệt kê cạnh câu hỏi",
                f"type '{raw_type}'",
                warning=True,
            )
        if base in EMPTY_METADATA_TYPES:
            yield from _empty_metadata_problems(number, base, _text(row.get("required")))
        default = _text(row.get("default"))
        if default and default_is_dynamic(default, _XFORM_TYPES.get(base, base)):
            # ODK works such a default out when the form opens; here it would be kept as words.
            yield Problem(
                "survey",
                number,
                "default",
                f"a default worked out by an expression ({default}) is not supported: use a "
                "plain value, or a calculation",
                f"không hỗ trợ giá trị mặc định tính bằng biểu thức ({default}): hãy dùng một "
                "giá trị cố định, hoặc cột calculation",
                "default",
            )
        name = _text(row.get("name"))
        if name and not base.startswith("end_") and not _NAME.match(name):
            yield Problem(
                "survey",
                number,
                "name",
                f"'{name}' is not a valid name: use letters, digits and _ and start with a letter",
                f"'{name}' không dùng được làm tên: chỉ dùng chữ, số, dấu _ và bắt đầu bằng chữ",
                f"name '{name}'",
            )
        for column, value in row.items():
            yield from _survey_column_problems(number, str(column), _text(value), base)
        if base == "range":
            yield from _range_problems(number, _text(row.get("parameters")))
        if base == "audit":
            yield _audit_warning(number)
        for verdict in appearance_verdicts(_text(row.get("appearance"))):
            yield _verdict_problem("survey", number, "appearance", verdict)
        for column in EXPRESSION_COLUMNS:
            yield from _function_problems(number, column, _text(row.get(column)))


def _empty_metadata_problems(number: int, kind: str, required: str) -> Iterator[Problem]:
    if required and required.lower() not in ("no", "false", "false()"):
        yield Problem(
            "survey",
            number,
            "required",
            f"'{kind}' is always empty on the phone, so it cannot be required",
            f"'{kind}' luôn để trống trên điện thoại nên không thể bắt buộc",
            f"type '{kind}'",
        )
    yield Problem(
        "survey",
        number,
        "type",
        f"the metadata '{kind}' stays empty: a web app cannot read the phone's SIM, number or "
        "account (nor can ODK Collect on recent Android)",
        f"siêu dữ liệu '{kind}' luôn để trống: ứng dụng web không đọc được SIM, số điện thoại "
        "hay tài khoản của máy (ODK Collect trên Android mới cũng không)",
        f"type '{kind}'",
        warning=True,
    )


def _media_problems(
    survey: list[dict[str, Any]], choices: list[dict[str, Any]], media: Any
) -> Iterator[Problem]:
    """The ``media`` map is sound, and each label's file is in it; one it lacks is shown
    without, a warning (``schemas/media.py`` says when a missing file is refused instead)."""
    if reason := media_map_problems(media):
        yield Problem("survey", None, "media", reason, reason, "media")
        return
    given = media or {}
    for sheet, rows in (("survey", survey), ("choices", choices)):
        for number, column, name in references(rows):
            if name not in given:
                yield Problem(
                    sheet,
                    number,
                    column,
                    f"the file '{name}' was not given with the form: the label is shown "
                    "without it until a version with the file is published",
                    f"chưa tải tệp '{name}' lên cùng biểu mẫu: nhãn được hiển thị không có tệp "
                    "này cho đến khi phát hành phiên bản có tệp",
                    f"file '{name}'",
                    warning=True,
                )


_RANGE_REFUSALS = {
    "not_a_number": (
        "start, end and step must be numbers (for example start=0 end=10 step=1)",
        "start, end và step phải là số (ví dụ start=0 end=10 step=1)",
    ),
    "step_not_positive": ("step must be more than 0", "step phải lớn hơn 0"),
    "too_many_steps": (
        f"a slider cannot offer more than {MAX_RANGE_STEPS:,} steps: use a larger step, or an "
        "integer or decimal with a constraint",
        f"thanh trượt không thể có quá {MAX_RANGE_STEPS:,} bước".replace(",", ".")
        + ": hãy dùng step lớn hơn, hoặc integer hay decimal kèm constraint",
    ),
}


def range_refusal(parameters: str) -> tuple[str, str] | None:
    """Why a range's ``parameters`` cannot be used, in English and Vietnamese; None when they
    can (``schemas/xlsform.py`` says so too where pyxform refuses them in English only)."""
    bounds = range_parameters(parameters)
    if not isinstance(bounds, str):
        return None
    en, vi = _RANGE_REFUSALS[bounds]
    return (
        f"the range's parameters '{parameters}' cannot be used: {en}",
        f"không dùng được tham số '{parameters}' của range: {vi}",
    )


def _audit_warning(number: int) -> Problem:
    # Said at import, so that whoever publishes the form knows what the log holds and its bound.
    return Problem(
        "survey",
        number,
        "type",
        "the phone logs the volunteer's moves through the form as ODK Collect's audit.csv (form "
        f"start and resume, each question entered and left, save, finalize), at most "
        f"{MAX_AUDIT_EVENTS:,} events and {MAX_AUDIT_LOG_BYTES // 1_000_000} MB: past that "
        "the log stops with a last 'log full' row, and the record is sent all the same",
        "điện thoại ghi các thao tác của tình nguyện viên trên biểu mẫu thành tệp audit.csv như "
        "ODK Collect (bắt đầu và mở lại phiếu, vào và rời từng câu hỏi, lưu, hoàn tất), tối đa "
        f"{MAX_AUDIT_EVENTS:,} sự kiện".replace(",", ".")
        + f" và {MAX_AUDIT_LOG_BYTES // 1_000_000} MB: quá mức đó nhật ký dừng với một "
        "dòng cuối 'log full', phiếu vẫn được gửi",
        "type 'audit'",
        warning=True,
    )


def _rank_and_audit_problems(form: Form) -> Iterator[Problem]:
    """A rank orders its list's own choices (pyxform would add an 'other' it then always
    asks), and the audit log is one for the whole visit, never one per repeat entry."""
    for node in form.walk():
        if node.type == "rank" and "or_other" in node.get("type").split()[2:]:
            yield Problem(
                "survey",
                node.row_number,
                "type",
                "a rank orders its list's own choices, so 'or_other' cannot be used: add an "
                "'other' choice to the list, and a text question asked beside it",
                "câu rank sắp xếp các lựa chọn có sẵn trong danh sách nên không dùng được "
                "'or_other': hãy thêm lựa chọn 'other' vào danh sách, và một câu hỏi text bên cạnh",
                f"type '{node.get('type')}'",
            )
        if node.type == "audit" and node.repeats:
            yield Problem(
                "survey",
                node.row_number,
                "type",
                "the audit log is kept once for the whole form, as ODK keeps it in meta: move "
                "the audit row out of the repeat",
                "nhật ký audit được lưu một lần cho cả biểu mẫu, như ODK lưu trong meta: hãy "
                "chuyển dòng audit ra ngoài nhóm lặp",
                "type 'audit'",
            )


def _range_problems(number: int, parameters: str) -> Iterator[Problem]:
    if refusal := range_refusal(parameters):
        yield Problem("survey", number, "parameters", *refusal, "type 'range'")


def _survey_column_problems(
    number: int, column: str, value: str, base: str = ""
) -> Iterator[Problem]:
    if base == "background-geopoint" and column.lower() == "trigger":
        return  # the question it names is checked by _background_point_problems
    base_column, language = _split(column)
    known = base_column in TRANSLATED_COLUMNS if language else column in SURVEY_COLUMNS
    if known or not value or media_column(column):
        return
    if column.lower() == "parameters":
        if base == "audit":
            for verdict in audit_parameter_verdicts(value):
                yield _verdict_problem("survey", number, column, verdict)
            return
        if base == "range":
            # start, end and step are the range's own (checked by _range_problems).
            value = " ".join(
                f"{name}={text}"
                for name, text in RANGE_PARAMETER.findall(value)
                if name.lower() not in RANGE_DEFAULTS
            )
            if not value:
                return
        for verdict in parameter_verdicts(value):
            yield _verdict_problem("survey", number, column, verdict)
    else:
        yield _verdict_problem("survey", number, column, survey_column_verdict(column))


def _choice_row_problems(rows: list[dict[str, Any]]) -> Iterator[Problem]:
    for number, row in enumerate(rows, start=2):
        for column, value in row.items():
            column = str(column)
            base_column, language = _split(column)
            if not _text(value) or (language is not None and base_column == "label"):
                continue
            if media_column(column):
                continue  # a file shown beside the choice's label
            if language is not None or not _NAME.match(column):
                # Not a name a choice_filter could test: a note beside the lists.
                yield Problem(
                    "choices",
                    number,
                    column,
                    f"the column '{column}' is ignored: it is no label and no name a "
                    "choice_filter can use",
                    f"bỏ qua cột '{column}': đây không phải nhãn, cũng không phải tên mà "
                    "choice_filter dùng được",
                    f"column '{column}'",
                    warning=True,
                )


def functions(expression: str) -> set[str]:
    """The functions an expression calls (``"int(${a}) + count(${b})"`` → ``{int, count}``)."""
    bare = _REFERENCE.sub("x", _STRING.sub("''", expression))
    return {name for name in _CALL.findall(bare) if name not in _OPERATORS}


def _function_problems(row: int, column: str, value: str) -> Iterator[Problem]:
    if column in ("required", "read_only") and value.lower() in YES_NO_WORDS:
        return
    for name in sorted(functions(value) - FUNCTIONS.keys()):
        yield Problem(
            "survey",
            row,
            column,
            f"the function {name}() in {column} is not supported",
            f"không hỗ trợ hàm {name}() trong cột {column}",
            f"{name}()",
        )


_PULLDATA_CALL = re.compile(r"pulldata\s*\(")
_PULLDATA_COLUMNS = re.compile(
    r"""pulldata\s*\(\s*(?:'([^']*)'|"([^"]*)")\s*,\s*(?:'([^']*)'|"([^"]*)")"""
    r"""\s*,\s*(?:'([^']*)'|"([^"]*)")"""
)
MAX_PULLDATA_FILES = 20


def _table_is_sound(table: Any) -> bool:
    if not isinstance(table, dict) or set(table) != {"columns", "rows"}:
        return False
    columns, rows = table["columns"], table["rows"]
    if not isinstance(columns, list) or not 0 < len(columns) <= 200:
        return False
    if not all(isinstance(c, str) and 0 < len(c) <= 200 for c in columns):
        return False
    if not isinstance(rows, list) or len(rows) > MAX_ROWS:
        return False
    return all(
        isinstance(r, list)
        and len(r) == len(columns)
        and all(isinstance(v, str) and len(v) <= MAX_CELL for v in r)
        for r in rows
    )


def _pulldata_problems(survey: list[dict[str, Any]], files: Any) -> Iterator[Problem]:
    """pulldata() reads a file the definition holds (``pulldata``, schemas/file_choices.py),
    named as text, and columns the file has; the files themselves are bounded."""
    if files is not None and not (
        isinstance(files, dict)
        and len(files) <= MAX_PULLDATA_FILES
        and all(
            isinstance(k, str) and len(k) <= 200 and _table_is_sound(v) for k, v in files.items()
        )
    ):
        yield Problem(
            "pulldata",
            None,
            "",
            f"the form's pulldata files must be at most {MAX_PULLDATA_FILES}, each"
            f" {{columns, rows}} of text, at most {MAX_ROWS} rows",
            f"các tệp pulldata của biểu mẫu phải không quá {MAX_PULLDATA_FILES} tệp, mỗi tệp"
            f" là {{columns, rows}} dạng văn bản, không quá {MAX_ROWS} dòng",
            "pulldata",
        )
        return
    tables = files or {}
    for number, row in enumerate(survey, start=2):
        for column in _PARSED_COLUMNS:
            value = _text(row.get(column))
            if "pulldata" not in value:
                continue
            calls = len(_PULLDATA_CALL.findall(_STRING.sub("''", value)))
            if calls and column == "choice_filter":
                # A filter is worked out per choice, without the form's files at hand.
                yield Problem(
                    "survey",
                    number,
                    column,
                    "pulldata() is not supported in a choice_filter: work it out in a"
                    " calculate and compare with that",
                    "không hỗ trợ pulldata() trong choice_filter: hãy tính nó trong một"
                    " câu calculate rồi so sánh với câu đó",
                    "pulldata()",
                )
                continue
            named = [
                m.group(1) if m.group(1) is not None else m.group(2)
                for m in PULLDATA_FILE.finditer(value)
            ]
            if len(named) < calls:
                yield Problem(
                    "survey",
                    number,
                    column,
                    "name pulldata()'s file as text: pulldata('file', 'column', 'key_column', key)",
                    "hãy ghi tên tệp của pulldata() dạng văn bản:"
                    " pulldata('tệp', 'cột', 'cột_khoá', khoá)",
                    "pulldata()",
                )
                continue
            for name in (n.strip() for n in named):
                if name not in tables:
                    yield Problem(
                        "survey",
                        number,
                        column,
                        f"pulldata() reads the file '{name}.csv', which the form does not hold:"
                        " attach it with the form",
                        f"pulldata() đọc tệp '{name}.csv' mà biểu mẫu không có:"
                        " hãy tải tệp lên cùng biểu mẫu",
                        "pulldata()",
                    )
            for match in _PULLDATA_COLUMNS.finditer(value):
                groups = match.groups()
                name, wanted = (
                    (groups[0] if groups[0] is not None else groups[1]).strip(),
                    [(a if a is not None else b).strip() for a, b in (groups[2:4], groups[4:6])],
                )
                table = tables.get(name)
                for missing in (c for c in wanted if table and c not in table["columns"]):
                    yield Problem(
                        "survey",
                        number,
                        column,
                        f"the file '{name}.csv' has no column '{missing}'",
                        f"tệp '{name}.csv' không có cột '{missing}'",
                        "pulldata()",
                    )


# -- over the parsed form -----------------------------------------------------------------------
_TRIGGER = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_.-]*)\}$")


def _background_point_problems(form: Form) -> Iterator[Problem]:
    """A background-geopoint is taken by the phone each time the question its trigger names is
    answered: one question, outside any repeat, as the point itself is; a start-geopoint once,
    outside any repeat (a repeat's entries would each need their own point, which the phone
    does not take)."""
    for node in form.walk():
        if node.type == "start-geopoint" and node.repeats:
            yield Problem(
                "survey",
                node.row_number,
                "type",
                "a start-geopoint is taken once, as the form opens: put it outside any repeat",
                "start-geopoint chỉ được lấy một lần khi mở biểu mẫu: hãy đặt nó ngoài mọi nhóm "
                "lặp",
                "type 'start-geopoint'",
            )
        if node.type != "background-geopoint":
            continue
        trigger = _text(node.get("trigger")).strip()
        found = _TRIGGER.match(trigger)
        target = form.nodes.get(found[1]) if found else None
        if node.repeats or target is None or target.kind != "field" or target.repeats:
            yield Problem(
                "survey",
                node.row_number,
                "trigger",
                f"the trigger '{trigger}' cannot be used: a background-geopoint is taken when "
                "one question outside any repeat is answered, named as ${name}, and must be "
                "outside any repeat itself",
                f"không dùng được trigger '{trigger}': background-geopoint được lấy khi một câu "
                "hỏi nằm ngoài mọi nhóm lặp được trả lời, ghi là ${tên}, và chính nó cũng phải "
                "nằm ngoài mọi nhóm lặp",
                "type 'background-geopoint'",
            )


def _tree_problems(form: Form) -> Iterator[Problem]:
    languages = _languages(form)
    default = language_code(_text(form.settings.get("default_language")))
    for node in form.walk():
        if node.other_of:
            continue  # the form made it, from its select's row, which is checked
        yield from _reference_problems(form, node.row, node.row_number)
        yield from _expression_problems(node.row, node.row_number)
        yield from _language_problems(
            "survey",
            node.row,
            node.row_number,
            languages,
            default,
            _needs_label(node.type, node.kind),
        )
        if node.get("repeat_count") and node.kind != "repeat":
            yield Problem(
                "survey",
                node.row_number,
                "repeat_count",
                "repeat_count belongs on a begin_repeat row only",
                "cột repeat_count chỉ dùng ở dòng begin_repeat",
                "repeat_count",
            )
    for number, row in enumerate(form.definition.get("choices") or [], start=2):
        if isinstance(row, dict) and _text(row.get("list_name")):
            yield from _language_problems("choices", row, number, languages, default, True)
    if default and languages and default not in languages:
        yield Problem(
            "settings",
            2,
            "default_language",
            f"the default language '{default}' has no labels in the form: the phone starts "
            "in the form's first language",
            f"ngôn ngữ mặc định '{default}' không có nhãn nào trong biểu mẫu: điện thoại bắt "
            "đầu bằng ngôn ngữ đầu tiên của biểu mẫu",
            "default_language",
            warning=True,
        )


def _needs_label(node_type: str, kind: str) -> bool:
    return kind == "field" and node_type not in AUTOMATIC_TYPES and node_type != "hidden"


def _languages(form: Form) -> list[str]:
    """Every language a label of the form is written in, questions and choices alike."""
    seen = list(form.languages)
    for rows in form.choices.values():
        for row in rows:
            for column in row:
                base, language = _split(column)
                if base == "label" and language is not None and language_code(language) not in seen:
                    seen.append(language_code(language))
    return seen


def _language_problems(
    sheet: str,
    row: dict[str, Any],
    number: int,
    languages: list[str],
    default: str,
    needs_label: bool,
) -> Iterator[Problem]:
    present: dict[str, set[str]] = {}
    for column, value in row.items():
        base, language = _split(column)
        if base in TRANSLATED_COLUMNS and _text(value):
            # As in XLSForm, a column without a language is in the default language.
            present.setdefault(base, set()).add(language_code(language) if language else default)
    # A picture, a sound or a film may be the whole label, as pyxform allows.
    shown = any(_text(value) and media_column(str(column)) for column, value in row.items())
    if needs_label and "label" not in present and "hint" not in present and not shown:
        yield Problem(
            sheet,
            number,
            "label",
            "this question has no label",
            "câu hỏi này chưa có nhãn",
            "label",
        )
    for base, found in present.items():
        for language in languages:
            if language not in found:
                # As ODK Collect does, the phone shows the text in another language instead.
                yield Problem(
                    sheet,
                    number,
                    base,
                    f"the {base} has no '{language}' text, which other rows have: in "
                    f"'{language}' it is shown in another language",
                    f"cột {base} thiếu bản ngôn ngữ '{language}' mà các dòng khác có: khi "
                    f"chọn '{language}' sẽ hiển thị bằng ngôn ngữ khác",
                    f"{base}::{language}",
                    warning=True,
                )


def _reference_problems(form: Form, row: dict[str, Any], number: int) -> Iterator[Problem]:
    for column, value in row.items():
        base, _ = _split(column)
        if base not in EXPRESSION_COLUMNS and base not in TRANSLATED_COLUMNS:
            continue
        for name in _references(_text(value)):
            if "/" in name:
                # A path keys an answer; XLSForm refers to a question by its name alone.
                yield Problem(
                    "survey",
                    number,
                    column,
                    f"${{{name}}} in {column} is a path: refer to a question by its name",
                    f"${{{name}}} trong cột {column} là một đường dẫn: hãy gọi câu hỏi bằng tên",
                    f"${{{name}}}",
                )
            elif name in form.duplicated:
                # As pyxform refuses it: the answer meant is not known.
                yield Problem(
                    "survey",
                    number,
                    column,
                    f"${{{name}}} in {column} is ambiguous: the name '{name}' is used in more "
                    "than one group",
                    f"${{{name}}} trong cột {column} không rõ trỏ tới đâu: tên '{name}' được "
                    "dùng ở nhiều nhóm",
                    f"${{{name}}}",
                )
            elif name not in form.nodes:
                yield Problem(
                    "survey",
                    number,
                    column,
                    f"${{{name}}} in {column} names no field of the form",
                    f"${{{name}}} trong cột {column} không trỏ tới trường nào của biểu mẫu",
                    f"${{{name}}}",
                )


def _references(text: str) -> Iterable[str]:
    return (match.strip() for match in _REFERENCE.findall(text))


def _expression_problems(row: dict[str, Any], number: int) -> Iterator[Problem]:
    for column in _PARSED_COLUMNS:
        value = _text(row.get(column))
        if not value or (column in ("required", "read_only") and value.lower() in YES_NO_WORDS):
            continue
        if functions(value) - FUNCTIONS.keys():
            continue  # already reported, by name, in the row pass
        if column == "choice_filter":
            value = choice_filter_expression(value)[0]  # bare names are the choices' columns
        try:
            parse(value)
        except ExpressionError as error:
            yield Problem(
                "survey",
                number,
                column,
                f"the expression in {column} cannot be read: {error} — {value}",
                f"biểu thức trong cột {column} không đọc được "
                f"({_EXPRESSION_ERRORS_VI.get(error.code, error.code)}) — {value}",
                f"expression in {column}",
            )


_EXPRESSION_ERRORS_VI = {
    "syntax": "sai cú pháp",
    "unknown_function": "có hàm không được hỗ trợ",
    "arity": "sai số lượng tham số của hàm",
    "type": "tham số phải là một ${tham chiếu}",
    "regex": "biểu thức chính quy không hợp lệ",
}


# -- Form's own refusals, in Vietnamese too ----------------------------------------------------
# Form's English sentences, their Vietnamese, and the feature each one is about.
_FORM_ERRORS = [
    (
        re.compile(r"^settings must name form_id and version$"),
        "phần cài đặt phải có form_id và version",
        "form_id, version",
    ),
    (
        re.compile(r"^a choice needs both list_name and name$"),
        "mỗi lựa chọn cần có cả list_name và name",
        "list_name, name",
    ),
    (
        re.compile(r"^choice '(.*)' appears twice in list '(.*)'$"),
        r"lựa chọn '\1' xuất hiện hai lần trong danh sách '\2'",
        r"choice '\1'",
    ),
    (
        re.compile(r"^'(.*)' has no matching begin$"),
        r"'\1' không có dòng begin tương ứng",
        r"type '\1'",
    ),
    (re.compile(r"^a '(.*)' row needs a name$"), r"dòng '\1' cần có tên (name)", "name"),
    (re.compile(r"^the name '(.*)' is used twice$"), r"tên '\1' bị dùng hai lần", r"name '\1'"),
    (
        re.compile(r"^the name '(.*)' is used twice in one group$"),
        r"tên '\1' bị dùng hai lần trong cùng một nhóm",
        r"name '\1'",
    ),
    (
        re.compile(r"^'(.*)' uses the choice list '(.*)', which the choices sheet does not have$"),
        r"'\1' dùng danh sách lựa chọn '\2' nhưng trang choices không có danh sách này",
        r"list '\2'",
    ),
    (
        re.compile(r"^question type '(.*)' is not supported$"),
        r"không hỗ trợ kiểu câu hỏi '\1'",
        r"type '\1'",
    ),
    (
        re.compile(r"^'(.*)' is opened but never closed$"),
        r"'\1' được mở nhưng không được đóng",
        r"'\1'",
    ),
]


def _form_error_problem(error: FormError) -> Problem:
    where = f"{error.sheet} row {error.row}: " if error.row is not None else ""
    english = str(error).removeprefix(where)
    for pattern, vietnamese, feature in _FORM_ERRORS:
        if match := pattern.match(english):
            return Problem(
                error.sheet, error.row, "", english, match.expand(vietnamese), match.expand(feature)
            )
    return Problem(
        error.sheet, error.row, "", english, f"biểu mẫu không đọc được: {english}", "form"
    )

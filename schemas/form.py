"""The form model: an XLSForm written as JSON (survey, choices and settings rows) read into a tree.

A form definition is data (``schemas/forms/*.json``); this module turns its flat rows into a
tree of groups, repeats and questions that the validator, the XLSForm importer and the CLI walk.
A record's ``data`` is flat by key except for repeats, which hold a list of objects, one per
instance. A question's key is its name; XLSForm lets one name be used in several groups (never
twice in one group), and a question whose name is used more than once in the form is keyed by its
path instead: the names of the groups and repeats around it and its own, joined by ``/``
(``hh/a/age`` and ``hh/b/age``), as ODK writes its place in the record. A form whose names are all
different keeps its keys exactly. ``node.name`` is the key; ``node.row["name"]`` the name as
written (``schemas/key_cases.json`` holds the rule equal in ``pwa/js/form.js``).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMS_DIR = Path(__file__).parent / "forms"
DEFAULT_FORM = FORMS_DIR / "household_survey.json"

# Types that hold an answer, and those that only shape the form.
QUESTION_TYPES = {
    "text",
    "integer",
    "decimal",
    "range",
    "select_one",
    "select_multiple",
    "rank",
    "date",
    "time",
    "datetime",
    "geopoint",
    "geotrace",
    "geoshape",
    "image",
    "osm",
    "audio",
    "video",
    "file",
    "barcode",
    "note",
    "calculate",
    "acknowledge",
    "hidden",
    "start",
    "end",
    "today",
    "deviceid",
    "username",
    "phonenumber",
    "email",
    "simserial",
    "subscriberid",
    "audit",
    "start-geopoint",
    "background-geopoint",
}
# XLSForm's metadata the phone fills with no question shown: start when the visit opens, end
# at finalize, today, deviceid (the phone's enrolled device id), username (the volunteer's),
# start-geopoint (where the phone was when the visit opened: empty without a fix),
# background-geopoint (where it was when the question its trigger names was last answered).
METADATA_TYPES = {
    "start",
    "end",
    "today",
    "deviceid",
    "username",
    "start-geopoint",
    "background-geopoint",
}
# Metadata a web app cannot read (as ODK Collect on recent Android cannot): the volunteer's SIM,
# number or account. Accepted, always left empty, a warning at import.
EMPTY_METADATA_TYPES = {"phonenumber", "email", "simserial", "subscriberid"}
# Types whose value the form computes or the phone fills in itself: never asked, never required.
# ``audit`` is the log of the volunteer's moves through the form (audit.csv), a file the phone
# writes at save and finalize (pwa/js/audit.js).
AUTOMATIC_TYPES = {"calculate", "audit"} | METADATA_TYPES | EMPTY_METADATA_TYPES

_LANG_CODE = re.compile(r"\(([A-Za-z-]+)\)\s*$")
# A choice_filter names the choices sheet's columns bare (``state = ${state}``): strings,
# ${references}, function calls and operators stay, every other name is a column.
_FILTER_TOKEN = re.compile(r"""'[^']*'|"[^"]*"|\$\{[^}]*\}|[A-Za-z_][\w.-]*(\s*\()?|[\s\S]""")
_OPERATOR_WORDS = {"and", "or", "div", "mod"}
CHOICE_PREFIX = "__choice_"
# The words of the question XLSForm adds after a select ... or_other.
OTHER_LABELS = {"vi": "Ghi rõ lựa chọn khác", "en": "Specify other"}
OTHER_CHOICE = {"vi": "Khác", "en": "Other"}


# A range question's parameters (``start=0 end=5 step=0.5``), ODK's defaults when left out. ODK
# Collect lets end be below start (the slider runs the other way); a step of 0 or below, a word
# where a number belongs, or more steps than a slider can show are refused at import.
RANGE_DEFAULTS = {"start": 1.0, "end": 10.0, "step": 1.0}
MAX_RANGE_STEPS = 10_000
RANGE_PARAMETER = re.compile(r"([A-Za-z0-9_-]+)[ \t]*=[ \t]*([^ \t\r\n]*)")
_RANGE_NUMBER = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$")


def range_parameters(parameters: str) -> tuple[float, float, float] | str:
    """``(start, end, step)`` of a range question, or what is wrong with its parameters:
    ``not_a_number``, ``step_not_positive`` or ``too_many_steps`` (``pwa/js/form.js:
    rangeParameters``, the same; ``schemas/range_cases.json`` holds them equal)."""
    found = dict(RANGE_DEFAULTS)
    for name, text in RANGE_PARAMETER.findall(parameters):
        if name.lower() in found:
            if not _RANGE_NUMBER.match(text) or len(text) > 30:
                return "not_a_number"
            found[name.lower()] = float(text)
    start, end, step = found["start"], found["end"], found["step"]
    if step <= 0:
        return "step_not_positive"
    if abs(end - start) / step > MAX_RANGE_STEPS:
        return "too_many_steps"
    return start, end, step


def range_is_whole(bounds: tuple[float, float, float]) -> bool:
    """A range whose start, end and step are whole numbers answers with an integer."""
    return all(float(b).is_integer() for b in bounds)


def range_problem(bounds: tuple[float, float, float], value: float) -> str | None:
    """``out_of_range`` for a number outside start..end, ``off_step`` for one not a whole number
    of steps from start."""
    start, end, step = bounds
    if not min(start, end) <= value <= max(start, end):
        return "out_of_range"
    # Steps like 0.1 are not exact in binary: a value on a step lies within a billionth of one.
    steps = (value - start) / step
    return None if abs(steps - round(steps)) <= 1e-9 * max(1.0, abs(steps)) else "off_step"


class FormError(ValueError):
    """A form definition that cannot be read: names the row and what is wrong with it."""

    def __init__(self, message: str, row: int | None = None, sheet: str = "survey") -> None:
        self.row = row
        self.sheet = sheet
        where = f"{sheet} row {row}: " if row is not None else ""
        super().__init__(where + message)


@dataclass
class Node:
    """One survey row that matters: a question, a group or a repeat (with its children)."""

    kind: str  # "field", "group" or "repeat"
    name: str  # the key of its answer: the row's name, or its path when the name is used twice
    type: str  # base type: "integer", "select_one", "group", "repeat", ...
    row: dict[str, Any]
    row_number: int  # 1-based data row on the survey sheet (the header is row 1 in Excel)
    repeats: tuple[str, ...] = ()  # enclosing repeats, outermost first (not itself)
    list_name: str | None = None
    or_other: bool = False
    # The text question XLSForm adds after a select ... or_other: no row of the form wrote it.
    other_of: str | None = None
    children: list[Node] = field(default_factory=list)
    parent: Node | None = field(default=None, repr=False)
    _columns: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def get(self, column: str) -> str:
        # Read for every record the server checks: rows never change, so strip each once.
        try:
            return self._columns[column]
        except KeyError:
            value = self.row.get(column)
            text = "" if value is None else str(value).strip()
            self._columns[column] = text
            return text

    @property
    def appearance(self) -> str:
        return self.get("appearance")


def parse_type(raw: str) -> tuple[str, str | None, bool]:
    """``"select_multiple devices or_other"`` → ``("select_multiple", "devices", True)``."""
    parts = raw.split()
    if not parts:
        return "", None, False
    if parts[0] in ("begin", "end") and len(parts) > 1:
        return f"{parts[0]}_{parts[1]}", None, False
    base = parts[0]
    if base in ("select_one", "select_multiple"):
        list_name = parts[1] if len(parts) > 1 else None
        or_other = len(parts) > 2 and parts[2] == "or_other"
        return base, list_name, or_other
    if base == "rank":  # ODK's rank has no or_other
        return base, parts[1] if len(parts) > 1 else None, False
    return base, None, False


def duplicated_names(rows: list[dict[str, Any]]) -> set[str]:
    """The names more than one group, repeat or question row uses: their answers are keyed by
    path (``pwa/js/form.js: duplicatedNames``, the same)."""
    counts: Counter[str] = Counter()
    for row in rows:
        base = parse_type(str(row.get("type") or "").strip())[0]
        if base and base not in ("end_group", "end_repeat"):
            counts[str(row.get("name") or "").strip()] += 1
    return {name for name, count in counts.items() if count > 1 and name}


def choice_filter_expression(expr: str) -> tuple[str, list[str]]:
    """``"state = ${state}"`` → ``("${__choice_state} = ${state}", ["state"])``: the bare
    column names become references the expression engine resolves per choice."""
    out: list[str] = []
    columns: list[str] = []
    for match in _FILTER_TOKEN.finditer(expr):
        token = match.group(0)
        if (
            (token[0].isalpha() or token[0] == "_")
            and not match.group(1)
            and token not in _OPERATOR_WORDS
        ):
            if token not in columns:
                columns.append(token)
            token = "${" + CHOICE_PREFIX + token + "}"
        out.append(token)
    return "".join(out), columns


def language_code(column_suffix: str) -> str:
    """``"Tiếng Việt (vi)"`` → ``"vi"``; a suffix without a code is its own name."""
    match = _LANG_CODE.search(column_suffix)
    return match.group(1) if match else column_suffix.strip()


class Form:
    """A parsed form definition; ``Form.load(path)`` or ``Form(definition_dict)``."""

    def __init__(self, definition: dict[str, Any]) -> None:
        self.definition = definition
        settings = definition.get("settings") or {}
        if isinstance(settings, list):  # the settings sheet as rows: the first row counts
            settings = settings[0] if settings else {}
        self.settings: dict[str, Any] = settings
        self.form_id = str(settings.get("form_id") or "").strip()
        self.version = str(settings.get("version") or "").strip()
        if not self.form_id or not self.version:
            raise FormError("settings must name form_id and version", sheet="settings")
        self.title = settings.get("form_title") or self.form_id
        # XLSForm's own switch: a cascading list may repeat a name under another parent.
        self.allow_duplicates = str(
            settings.get("allow_choice_duplicates") or ""
        ).strip().lower() in ("yes", "true", "true()")
        self.choices = self._read_choices(definition.get("choices") or [])
        self.root = Node(kind="group", name="", type="group", row={}, row_number=0)
        self.nodes: dict[str, Node] = {}
        # Names used by more than one row, in different groups: keyed by path, never referenced.
        self.duplicated: set[str] = set()
        self._build(definition.get("survey") or [])
        self.languages = self._languages()
        self.default_language = language_code(str(settings.get("default_language") or "")) or (
            self.languages[0] if self.languages else ""
        )

    @classmethod
    def load(cls, path: str | Path = DEFAULT_FORM) -> Form:
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))

    # -- reading ----------------------------------------------------------------------------
    def _read_choices(self, rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        lists: dict[str, list[dict[str, Any]]] = {}
        for number, row in enumerate(rows, start=2):
            list_name = str(row.get("list_name") or "").strip()
            name = str(row.get("name") if row.get("name") is not None else "").strip()
            if not list_name and not name:
                continue
            if not list_name or not name:
                raise FormError("a choice needs both list_name and name", number, "choices")
            if not self.allow_duplicates and any(
                str(c["name"]) == name for c in lists.get(list_name, [])
            ):
                raise FormError(
                    f"choice '{name}' appears twice in list '{list_name}'", number, "choices"
                )
            lists.setdefault(list_name, []).append({**row, "name": name})
        return lists

    def _build(self, rows: list[dict[str, Any]]) -> None:
        self.duplicated = duplicated_names(rows)
        stack = [self.root]
        paths: list[tuple[str, ...]] = [()]
        for number, row in enumerate(rows, start=2):
            raw_type = str(row.get("type") or "").strip()
            if not raw_type:
                continue
            base, list_name, or_other = parse_type(raw_type)
            parent = stack[-1]
            if base in ("end_group", "end_repeat"):
                if parent is self.root or parent.kind != base[4:]:
                    raise FormError(f"'{raw_type}' has no matching begin", number)
                stack.pop()
                paths.pop()
                continue
            written = str(row.get("name") or "").strip()
            if not written:
                raise FormError(f"a '{raw_type}' row needs a name", number)
            path = (*paths[-1], written)
            name = "/".join(path) if written in self.duplicated else written
            if name in self.nodes:
                raise FormError(f"the name '{written}' is used twice in one group", number)
            repeats = parent.repeats + ((parent.name,) if parent.kind == "repeat" else ())
            if base in ("begin_group", "begin_repeat"):
                kind = base[6:]
                node = Node(kind, name, kind, row, number, repeats, parent=parent)
                stack.append(node)
                paths.append(path)
            elif base in QUESTION_TYPES:
                listed = base.startswith("select_") or base == "rank"
                if listed and (not list_name or list_name not in self.choices):
                    raise FormError(
                        f"'{name}' uses the choice list '{list_name}', "
                        "which the choices sheet does not have",
                        number,
                    )
                node = Node(
                    "field", name, base, row, number, repeats, list_name, or_other, parent=parent
                )
                if or_other:
                    parent.children.append(node)
                    self.nodes[name] = node
                    node = self._other_question(node, parent)
                    name = node.name
            else:
                raise FormError(f"question type '{raw_type}' is not supported", number)
            parent.children.append(node)
            self.nodes[name] = node
        if len(stack) > 1:
            raise FormError(f"'{stack[-1].name}' is opened but never closed", stack[-1].row_number)

    def written_name(self, node: Node) -> str:
        """The name as the form writes it (``age``), where ``node.name`` may be its path."""
        return str(node.row.get("name") or node.name).strip()

    def _other_question(self, select: Node, parent: Node) -> Node:
        """The text question XLSForm adds after ``select_... or_other``, asked on 'other'."""
        # Beside a select keyed by path (``a/color``) its companion is too (``a/color_other``):
        # that is where pyxform puts it in the XForm, and where ODK Collect sends it.
        written = f"{self.written_name(select)}_other"
        name = f"{select.name}_other"
        if name in self.nodes or written in self.duplicated:
            raise FormError(f"the name '{written}' is used twice", select.row_number)
        row: dict[str, Any] = {
            "type": "text",
            "name": written,
            "relevant": f"selected(${{{select.name}}}, 'other')",
        }
        for column in select.row:
            if column.startswith("label::"):
                code = language_code(column.split("::", 1)[1])
                row[column] = OTHER_LABELS.get(code, OTHER_LABELS["en"])
        if not any(c.startswith("label::") for c in select.row):
            row["label"] = OTHER_LABELS["en"]
        return Node(
            "field",
            name,
            "text",
            row,
            select.row_number,
            select.repeats,
            other_of=select.name,
            parent=parent,
        )

    def choice_list(self, node: Node) -> list[dict[str, Any]]:
        """The choices a select offers, with XLSForm's 'other' last for ``or_other``."""
        choices = self.choices.get(node.list_name or "", [])
        if not node.or_other:
            return choices
        other = {"list_name": node.list_name, "name": "other"}
        for code, text in OTHER_CHOICE.items():
            other[f"label::{code}"] = text
        return [*choices, other]

    def choice_labels(self) -> dict[str, dict[str, str]]:
        """Field → choice name → label: what ``jr:choice-name`` reads (pwa/js/form.js: the same).

        Labels are in the default language, never the one on screen, so that a calculation
        stores the same answer on every phone and on the server."""
        return {
            node.name: {
                str(c["name"]): self.text(c, "label") or str(c["name"])
                for c in self.choice_list(node)
            }
            for node in self.nodes.values()
            if node.list_name
        }

    def osm_tags(self, node: Node) -> list[dict[str, Any]]:
        """The tags an ``osm LIST`` question asks for: the rows of LIST on XLSForm's osm sheet,
        kept under the definition's ``osm`` (pwa/js/form.js: osmTags, the same)."""
        parts = node.get("type").split()
        rows = self.definition.get("osm")
        if len(parts) < 2 or not isinstance(rows, list):
            return []
        return [r for r in rows if isinstance(r, dict) and r.get("list_name") == parts[1]]

    def pulldata_files(self) -> dict[str, Any]:
        """What ``pulldata()`` reads: the definition's ``pulldata``, file name → its columns and
        rows (``schemas/file_choices.py``; pwa/js/form.js: the same)."""
        files = self.definition.get("pulldata")
        return files if isinstance(files, dict) else {}

    def _languages(self) -> list[str]:
        seen: list[str] = []
        for node in self.nodes.values():
            for column in node.row:
                if column.startswith("label::"):
                    code = language_code(column.split("::", 1)[1])
                    if code not in seen:
                        seen.append(code)
        return seen

    # -- asking -----------------------------------------------------------------------------
    def walk(self, node: Node | None = None) -> Iterator[Node]:
        """Every group, repeat and question, in form order."""
        for child in (node or self.root).children:
            yield child
            if child.kind != "field":
                yield from self.walk(child)

    def entry_name_field(self, repeat: Node) -> Node | None:
        """The question that names an entry of ``repeat`` (a member's name): its first text
        question, in a group or not, outside inner repeats. The same rule as pwa/js/form.js:
        entryNameField, held equal by schemas/entry_name_cases.json."""
        for child in repeat.children:
            if child.kind == "field" and child.type == "text":
                return child
            if child.kind == "group" and (inner := self.entry_name_field(child)):
                return inner
        return None

    def entry_name(self, repeat: Node, entry: Any) -> str:
        """What names one entry of ``repeat``: that question's answer, trimmed; "" while it is
        unanswered (the phone then says *Thành viên N*)."""
        named = self.entry_name_field(repeat)
        if named is None or not isinstance(entry, dict):
            return ""
        value = entry.get(named.name)
        return "" if value is None else str(value).strip()

    def field_repeats(self) -> dict[str, list[str]]:
        """Name → enclosing repeats: the ``fields`` map the expression engine resolves with."""
        return {name: list(node.repeats) for name, node in self.nodes.items()}

    def text(self, source: dict[str, Any], column: str, lang: str | None = None) -> str:
        """A translated column (``label``, ``hint``, ``constraint_message``...) of a row."""
        wanted = [lang, self.default_language] if lang else [self.default_language]
        by_lang: dict[str, str] = {}
        plain = ""
        for key, value in source.items():
            if value is None or str(value).strip() == "":
                continue
            if key == column:
                plain = str(value)
            elif key.startswith(column + "::"):
                by_lang.setdefault(language_code(key.split("::", 1)[1]), str(value))
        for code in wanted:
            if code and code in by_lang:
                return by_lang[code]
        return plain or next(iter(by_lang.values()), "")

    def label(self, node: Node, lang: str | None = None) -> str:
        return self.text(node.row, "label", lang) or node.name

    def choice_label(self, list_name: str, value: str, lang: str | None = None) -> str:
        for choice in self.choices.get(list_name, []):
            if choice["name"] == value:
                return self.text(choice, "label", lang) or value
        return value

"""Choices from an attached CSV file (``select_one_from_file`` / ``select_multiple_from_file``).

The file travels with the form when it is uploaded (the admin's Forms page). Its rows become a
choice list of the form itself, as if they had been typed on the choices sheet: the phone and
the server then read, check and show them as every other list (offline, with no file to fetch),
and a version holds its choices for ever. As ODK reads such a file: the ``name`` column is the
answer stored and ``label`` (or ``label::Language (xx)``) what is shown, unless the question's
``parameters`` name others (``value=code label=ten``); every other column can be tested by a
``choice_filter``. A file that is not UTF-8 CSV, lacks those columns, repeats a name or is past
the limits is refused, naming the file and its line.

A CSV file a ``pulldata('file', ...)`` names (``file.csv``) is kept whole in the definition,
under ``pulldata``: file name (without ``.csv``) → ``{"columns": [...], "rows": [[...], ...]}``,
the cells as text. Both expression engines read it there, so the phone looks values up
offline, and the server's check of a record reads the same table.

An XML file (``.xml``) is a secondary instance as ODK reads one: under its root element, each
``<item>`` is a row and the elements in it its columns (``<item><name>h1</name><label>Hộ
1</label><thon>dong</thon></item>``). It gives a ``select_one_from_file x.xml`` its choices as a
CSV file does, and ODK's lookups in it, ``instance('x')/root/item[key = value]/column`` in any
expression (declared by an ``xml-external x`` row or by a select from ``x.xml``), become
``pulldata('x', 'column', 'key', value)`` over its rows kept under ``pulldata``: the first
item whose ``key`` is the value, compared as text, gives its ``column``, else nothing, on the
phone and on the server alike. It is read with defusedxml, refusing a DTD and entities, and
bounded in size, depth (root, item, value) and items; a problem names the file and the item.

A GeoJSON file (``.geojson``) is read as ODK Collect reads one: a ``FeatureCollection`` whose
features are the choices. The feature's ``id`` (its own, else its ``id`` property) is the answer
and its ``title`` property the label, unless ``parameters`` name other properties; every other
property of text, number or truth value is a column a ``choice_filter`` can test. The feature's
geometry becomes the ``geometry`` column in ODK's own form, points as ``lat lon 0 0`` joined by
``; `` (a ``Point``, ``LineString`` or ``Polygon``'s outer ring), so that it is a ``geopoint``,
``geotrace`` or ``geoshape`` value ``distance()`` and ``area()`` read. The file is bounded in
size, nesting and points; a problem names the file and the feature (counted from 1).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as parse_xml

MAX_ROWS = 20_000
MAX_CELL = 2_000
# A GeoJSON file: its size, how deep its JSON nests, the points of one feature's geometry.
MAX_GEOJSON_BYTES = 10_000_000
MAX_DEPTH = 16
MAX_POINTS = 5_000
# An XML file: its size; it nests root, item, value and no deeper.
MAX_XML_BYTES = 10_000_000
XML_DEPTH = 3
_FROM_FILE = re.compile(
    r"^(select_one_from_file|select_multiple_from_file)\s+(\S+\.(?:csv|geojson|xml))$",
    re.IGNORECASE,
)
# pulldata's file: its first argument, when written as text (formcheck refuses any other).
PULLDATA_FILE = re.compile(r"""pulldata\s*\(\s*(?:'([^']*)'|"([^"]*)")""")
# The columns that hold expressions: pulldata() in a label is words, not a call.
_EXPRESSION_COLUMNS = frozenset(
    {
        "calculation",
        "relevant",
        "constraint",
        "required",
        "read_only",
        "choice_filter",
        "repeat_count",
        "default",
    }
)
_PARAMETER = re.compile(r"([\w-]+)\s*=\s*('[^']*'|\"[^\"]*\"|\S*)")
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_]+")


@dataclass(frozen=True)
class Attachment:
    """A file given with the form and what it gave: its size, its hash, its choices."""

    name: str
    size: int
    sha256: str
    list_name: str | None
    choices: int
    # Rows kept for pulldata(); 0 when no pulldata() names the file.
    lookup_rows: int = 0
    # Labels showing it beside their words (an image, a sound, a film: schemas/media.py).
    labels: int = 0


class FileChoicesError(ValueError):
    """A question's file cannot give its choices; ``line`` is the file's line (a GeoJSON
    file's feature), when known."""

    def __init__(self, row: int, file: str, line: int | None, en: str, vi: str) -> None:
        super().__init__(en)
        self.row, self.file, self.line, self.en, self.vi = row, file, line, en, vi

    @property
    def place(self) -> tuple[str, str]:
        """Where in the file, in Vietnamese and English (``''`` when the whole file)."""
        if self.line is None:
            return "", ""
        if self.file.lower().endswith(".geojson"):
            return f"đối tượng {self.line}", f"feature {self.line}"
        if self.file.lower().endswith(".xml"):
            return f"mục {self.line}", f"item {self.line}"
        return f"dòng {self.line}", f"line {self.line}"


def _parameters(value: str) -> dict[str, str]:
    return {k.lower(): v.strip("'\"") for k, v in _PARAMETER.findall(value or "")}


def _list_name(file: str, taken: set[str]) -> str:
    stem = _NAME_CHARS.sub("_", file.rsplit(".", 1)[0]).strip("_") or "file"
    base = f"file_{stem}"[:60]
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    return name


def _depth(value: Any) -> int:
    """How deep JSON nests: counted on the parsed value, without recursion."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:
                todo.extend(
                    (v, depth + 1) for v in (item.values() if isinstance(item, dict) else item)
                )
    return deepest


def _point(value: Any) -> str | None:
    if (
        isinstance(value, list)
        and len(value) >= 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value[:2])
        and all(math.isfinite(v) for v in value[:2])
    ):
        lon, lat = value[0], value[1]
        if -90 <= lat <= 90 and -180 <= lon <= 180:
            return f"{lat} {lon} 0 0"
    return None


def _geometry(geometry: Any) -> str | None:
    """ODK's text of a Point, LineString or Polygon (its outer ring); None if it is none."""
    if not isinstance(geometry, dict):
        return None
    kind, coordinates = geometry.get("type"), geometry.get("coordinates")
    if kind == "Point":
        return _point(coordinates)
    if kind == "Polygon" and isinstance(coordinates, list) and coordinates:
        kind, coordinates = "LineString", coordinates[0]
    if kind == "LineString" and isinstance(coordinates, list) and coordinates:
        if len(coordinates) > MAX_POINTS:
            return None
        points = [_point(c) for c in coordinates]
        if all(points):
            return "; ".join(p for p in points if p)
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    return None


def _bounded(file: str, row: int, data: bytes, limit: int) -> None:
    """Refuse an attachment over ``limit`` bytes before it is parsed."""
    if len(data) > limit:
        raise FileChoicesError(
            row,
            file,
            None,
            f"the file is larger than {limit // 1_000_000} MB",
            f"tệp lớn hơn {limit // 1_000_000} MB",
        )


def _geojson_rows(file: str, row: int, data: bytes) -> list[dict[str, str]]:
    def refuse(feature: int | None, en: str, vi: str) -> FileChoicesError:
        return FileChoicesError(row, file, feature, en, vi)

    _bounded(file, row, data, MAX_GEOJSON_BYTES)
    try:
        collection = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise refuse(None, "the file is not UTF-8 text", "tệp không phải văn bản UTF-8") from None
    except (ValueError, RecursionError) as error:
        raise refuse(
            None, f"not a GeoJSON file: {error}", f"không phải tệp GeoJSON: {error}"
        ) from None
    if _depth(collection) > MAX_DEPTH:
        raise refuse(
            None,
            f"the file nests deeper than {MAX_DEPTH} levels",
            f"tệp lồng sâu hơn {MAX_DEPTH} cấp",
        )
    features = collection.get("features") if isinstance(collection, dict) else None
    if not isinstance(features, list) or collection.get("type") != "FeatureCollection":
        raise refuse(
            None,
            "a GeoJSON file of choices is a FeatureCollection with a list of features",
            "tệp GeoJSON lựa chọn phải là một FeatureCollection có danh sách features",
        )
    if len(features) > MAX_ROWS:
        raise refuse(
            MAX_ROWS + 1,
            f"the file has more than {MAX_ROWS} choices",
            f"tệp có hơn {MAX_ROWS} lựa chọn",
        )
    out: list[dict[str, str]] = []
    for number, feature in enumerate(features, start=1):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise refuse(number, "this is not a Feature", "đây không phải một Feature")
        properties = feature.get("properties") or {}
        if not isinstance(properties, dict):
            raise refuse(
                number, "its properties are not an object", "properties không phải đối tượng"
            )
        cells = {str(k).strip(): t for k, v in properties.items() if (t := _text(v)) is not None}
        own_id = _text(feature.get("id"))
        if own_id:
            cells["id"] = own_id
        geometry = _geometry(feature.get("geometry"))
        if geometry is None:
            raise refuse(
                number,
                f"its geometry is not a Point, LineString or Polygon of at most {MAX_POINTS}"
                " points in longitude and latitude",
                f"geometry không phải Point, LineString hay Polygon tối đa {MAX_POINTS} điểm"
                " theo kinh độ và vĩ độ",
            )
        cells["geometry"] = geometry
        if any(len(v) > MAX_CELL for k, v in cells.items() if k != "geometry"):
            raise refuse(
                number,
                f"a property is longer than {MAX_CELL} characters",
                f"có thuộc tính dài hơn {MAX_CELL} ký tự",
            )
        out.append({**cells, "__line": str(number)})
    return out


def _local(tag: Any) -> str:
    return str(tag).rsplit("}", 1)[-1]


def _xml_rows(file: str, row: int, data: bytes) -> list[dict[str, str]]:
    def refuse(item: int | None, en: str, vi: str) -> FileChoicesError:
        return FileChoicesError(row, file, item, en, vi)

    _bounded(file, row, data, MAX_XML_BYTES)
    try:
        # No DTD, so no entity is ever expanded (a billion laughs) nor a file fetched.
        root = parse_xml(data, forbid_dtd=True)
    except DefusedXmlException:
        raise refuse(
            None,
            "the file declares a DTD or entities, which are not read",
            "tệp khai báo DTD hoặc thực thể (entity), những thứ không được đọc",
        ) from None
    except ET.ParseError as error:
        raise refuse(None, f"not an XML file: {error}", f"không phải tệp XML: {error}") from None
    items = list(root)
    if len(items) > MAX_ROWS:
        raise refuse(
            MAX_ROWS + 1, f"the file has more than {MAX_ROWS} items", f"tệp có hơn {MAX_ROWS} mục"
        )
    out: list[dict[str, str]] = []
    for number, item in enumerate(items, start=1):
        if _local(item.tag) != "item":
            raise refuse(
                number,
                f"<{_local(item.tag)}> is not an <item>: each row of the file is an <item>"
                " under its root",
                f"<{_local(item.tag)}> không phải <item>: mỗi dòng của tệp là một <item>"
                " ngay dưới gốc",
            )
        cells: dict[str, str] = {}
        for value in item:
            if len(value):
                raise refuse(
                    number,
                    f"the file nests deeper than {XML_DEPTH} levels (root, item, value)",
                    f"tệp lồng sâu hơn {XML_DEPTH} cấp (gốc, mục, giá trị)",
                )
            text = (value.text or "").strip()
            if len(text) > MAX_CELL:
                raise refuse(
                    number,
                    f"a value is longer than {MAX_CELL} characters",
                    f"có giá trị dài hơn {MAX_CELL} ký tự",
                )
            cells.setdefault(_local(value.tag), text)
        out.append({**cells, "__line": str(number)})
    return out


def _rows(file: str, row: int, data: bytes) -> list[dict[str, str]]:
    if file.lower().endswith(".geojson"):
        return _geojson_rows(file, row, data)
    if file.lower().endswith(".xml"):
        return _xml_rows(file, row, data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileChoicesError(
            row, file, None, "the file is not UTF-8 text", "tệp không phải văn bản UTF-8"
        ) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    out: list[dict[str, str]] = []
    try:
        for record in reader:
            if len(out) >= MAX_ROWS:
                raise FileChoicesError(
                    row,
                    file,
                    reader.line_num,
                    f"the file has more than {MAX_ROWS} choices",
                    f"tệp có hơn {MAX_ROWS} lựa chọn",
                )
            cells = {str(k).strip(): (v or "").strip() for k, v in record.items() if k}
            if any(len(v) > MAX_CELL for v in cells.values()):
                raise FileChoicesError(
                    row,
                    file,
                    reader.line_num,
                    f"a cell is longer than {MAX_CELL} characters",
                    f"có ô dài hơn {MAX_CELL} ký tự",
                )
            if any(cells.values()):
                out.append({**cells, "__line": str(reader.line_num)})
    except csv.Error as error:
        raise FileChoicesError(
            row, file, reader.line_num, f"not a CSV file: {error}", f"không phải tệp CSV: {error}"
        ) from None
    return out


def pulldata_tables(
    survey: list[dict[str, Any]], attachments: dict[str, bytes]
) -> tuple[dict[str, Any], list[Attachment]]:
    """The CSV files the survey's ``pulldata()`` calls name, as the definition keeps them
    (``pulldata``), and what each gave. ``FileChoicesError`` names the survey row (from 2) of
    the first call whose file is missing or cannot be read."""
    tables: dict[str, Any] = {}
    given: list[Attachment] = []
    for number, question in enumerate(survey, start=2):
        for column, value in question.items():
            if column not in _EXPRESSION_COLUMNS or not isinstance(value, str):
                continue
            if "pulldata" not in value:
                continue
            for match in PULLDATA_FILE.finditer(value):
                name = (match.group(1) if match.group(1) is not None else match.group(2)).strip()
                if name in tables:
                    continue
                file = f"{name}.csv"
                if file not in attachments:
                    raise FileChoicesError(
                        number,
                        file,
                        None,
                        f"pulldata() reads '{file}': attach the file with the form",
                        f"pulldata() đọc tệp '{file}': hãy tải tệp lên cùng biểu mẫu",
                    )
                data = attachments[file]
                rows = _rows(file, number, data)
                columns = list(dict.fromkeys(k for r in rows for k in r if k != "__line"))
                tables[name] = {
                    "columns": columns,
                    "rows": [[r.get(c, "") for c in columns] for r in rows],
                }
                given.append(
                    Attachment(
                        file, len(data), hashlib.sha256(data).hexdigest(), None, 0, len(rows)
                    )
                )
    return tables, given


# ODK's older search() appearance: choices from an attached CSV, optionally filtered on one or
# two of its columns ('matches' takes two).
_VALUE = r"""(\$\{\s*[A-Za-z_][\w.-]*\s*\}|'[^']*'|"[^"]*"|-?\d+(?:\.\d+)?)"""
_COLUMN = r"""'([A-Za-z_][A-Za-z0-9_]*)'"""
_SEARCH = re.compile(
    r"""search\(\s*'([^'/\\]+)'\s*(?:,\s*'(matches|contains|startswith|endswith)'\s*,\s*"""
    + _COLUMN
    + r"\s*,\s*"
    + _VALUE
    + r"(?:\s*,\s*"
    + _COLUMN
    + r"\s*,\s*"
    + _VALUE
    + r")?)?\s*\)"
)
_SEARCH_TESTS = {
    "matches": "{column} = {value}",
    "contains": "contains({column}, {value})",
    "startswith": "starts-with({column}, {value})",
    "endswith": "ends-with({column}, {value})",
}
_SELECT = re.compile(r"^(select_one|select_multiple)\s+(\S+)$")


def inline_search_choices(
    survey: list[dict[str, Any]], choices: list[dict[str, Any]], attachments: dict[str, bytes]
) -> list[Attachment]:
    """Turn each ``select_one L`` with ODK's ``search('file', ...)`` appearance into a select of
    the rows of ``file.csv``: as ODK reads it, the one choice of list L names the file's column
    that is the answer (``name``) and the column shown (``label``, each language its own); the
    search's ``matches``/``contains``/``startswith``/``endswith`` test becomes the question's
    ``choice_filter``. A search() written otherwise is left for the check to refuse."""
    taken = {str(c.get("list_name", "")) for c in choices}
    given: list[Attachment] = []
    lists: dict[tuple[str, str], str] = {}
    for number, question in enumerate(survey, start=2):
        appearance = str(question.get("appearance", ""))
        found = _SEARCH.search(appearance)
        select = _SELECT.match(" ".join(str(question.get("type", "")).split()))
        if not found or not select or question.get("choice_filter"):
            continue
        file = f"{found.group(1).strip()}.csv"
        spec = [c for c in choices if str(c.get("list_name", "")) == select.group(2)]
        if len(spec) != 1:
            raise FileChoicesError(
                number,
                file,
                None,
                f"with search(), the list '{select.group(2)}' has one choice: its name is the"
                " file's column of answers, its label the column shown",
                f"với search(), danh sách '{select.group(2)}' có đúng một lựa chọn: name là cột"
                " giá trị của tệp, label là cột hiển thị",
            )
        if file not in attachments:
            raise FileChoicesError(
                number,
                file,
                None,
                f"search() reads '{file}': attach the file with the form",
                f"search() đọc tệp '{file}': hãy tải tệp lên cùng biểu mẫu",
            )
        key = (file, select.group(2))
        if key in lists:
            _search_question(question, select.group(1), lists[key], found, appearance)
            continue
        data = attachments[file]
        rows = _rows(file, number, data)
        value_column = str(spec[0].get("name", ""))
        label_columns = {
            k: str(v).strip() for k, v in spec[0].items() if k == "label" or k.startswith("label::")
        }
        list_name = lists[key] = _list_name(file, taken)
        taken.add(list_name)
        seen: set[str] = set()
        for record in rows:
            line = int(record.pop("__line"))
            name = record.get(value_column, "")
            if not name or any(c not in record for c in label_columns.values()):
                raise FileChoicesError(
                    number,
                    file,
                    line,
                    f"every row needs the column '{value_column}' and the columns shown"
                    f" ({', '.join(sorted(set(label_columns.values())))})",
                    f"mỗi dòng cần cột '{value_column}' và các cột hiển thị"
                    f" ({', '.join(sorted(set(label_columns.values())))})",
                )
            if name in seen:
                continue  # search() offers a value once, as ODK's lookup does
            seen.add(name)
            labels = {k: " ".join(record[c] for c in v.split()) for k, v in label_columns.items()}
            others = {
                k: v
                for k, v in record.items()
                if k not in ("name", "label", "list_name")
                and not k.startswith("label::")
                and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k)
            }
            choices.append({"list_name": list_name, **others, "name": name, **labels})
        _search_question(question, select.group(1), list_name, found, appearance)
        given.append(
            Attachment(file, len(data), hashlib.sha256(data).hexdigest(), list_name, len(seen))
        )
    return given


def _search_question(
    question: dict[str, Any], kind: str, list_name: str, found: re.Match[str], appearance: str
) -> None:
    question["type"] = f"{kind} {list_name}"
    if found.group(2):
        tests = [(found.group(3), found.group(4))]
        if found.group(5):
            tests.append((found.group(5), found.group(6)))
        question["choice_filter"] = " and ".join(
            _SEARCH_TESTS[found.group(2)].format(column=c, value=v) for c, v in tests
        )
    rest = (appearance[: found.start()] + appearance[found.end() :]).split()
    if rest:
        question["appearance"] = " ".join(rest)
    else:
        question.pop("appearance", None)


_EXTERNAL = re.compile(r"^select_one_external\s+(\S+)$", re.IGNORECASE)


class ExternalChoicesError(ValueError):
    """A ``select_one_external`` whose list cannot be taken: ``sheet`` and ``row`` say where
    (the survey row of the question, or the external_choices row of a bad choice)."""

    def __init__(self, sheet: str, row: int, en: str, vi: str) -> None:
        super().__init__(en)
        self.sheet, self.row, self.en, self.vi = sheet, row, en, vi


def inline_external_choices(
    survey: list[dict[str, Any]],
    choices: list[dict[str, Any]],
    external: list[dict[str, Any]],
    survey_rows: list[int],
    external_rows: list[int],
) -> int:
    """Turn each ``select_one_external L`` into a ``select_one`` of the external_choices sheet's
    rows of list L, added to ``choices`` (``survey`` and ``choices`` are changed in place), as
    pyxform makes them an itemsets.csv the phone holds; its ``choice_filter`` then works as on
    any list. A list name the choices sheet also has gets a name of its own. The ``*_rows`` are
    the Excel numbers of the rows; how many questions were turned."""
    taken = {str(c.get("list_name", "")) for c in choices}
    made: dict[str, str] = {}
    turned = 0
    for question, number in zip(survey, survey_rows, strict=True):
        match = _EXTERNAL.match(" ".join(str(question.get("type", "")).split()))
        if not match:
            continue
        wanted = match.group(1)
        if wanted not in made:
            rows = [
                (r, n)
                for r, n in zip(external, external_rows, strict=True)
                if str(r.get("list_name", "")).strip() == wanted
            ]
            if not rows:
                raise ExternalChoicesError(
                    "survey",
                    number,
                    f"the external_choices sheet has no list '{wanted}'",
                    f"trang external_choices không có danh sách '{wanted}'",
                )
            list_name = wanted if wanted not in taken else _list_name(f"external_{wanted}", taken)
            taken.add(list_name)
            seen: set[str] = set()
            for row, excel in rows:
                name = str(row.get("name", "")).strip()
                if not name:
                    raise ExternalChoicesError(
                        "external_choices",
                        excel,
                        "every choice needs a name",
                        "mỗi lựa chọn cần có name",
                    )
                if name in seen:
                    raise ExternalChoicesError(
                        "external_choices",
                        excel,
                        f"the choice '{name}' is in the list '{wanted}' twice",
                        f"lựa chọn '{name}' có hai lần trong danh sách '{wanted}'",
                    )
                seen.add(name)
                choices.append({**row, "list_name": list_name, "name": name})
            made[wanted] = list_name
        question["type"] = f"select_one {made[wanted]}"
        turned += 1
    return turned


# ODK's lookup in a secondary instance: instance('x')/root/item[key = value]/column.
_NAME = r"[A-Za-z_][A-Za-z0-9_.-]*"
_XML_LOOKUP = re.compile(
    r"""instance\(\s*(?:'([^'/\\]+)'|"([^"/\\]+)")\s*\)\s*/\s*root\s*/\s*item\s*"""
    rf"\[\s*({_NAME})\s*=\s*" + _VALUE + rf"\s*\]\s*/\s*({_NAME})"
)


def xml_lookups(
    survey: list[dict[str, Any]], attachments: dict[str, bytes], tables: dict[str, Any]
) -> list[Attachment]:
    """Turn each ``instance('x')/root/item[key = value]/column`` of the survey's expressions
    into ``pulldata('x', 'column', 'key', value)`` over ``x.xml``'s items, added to ``tables``
    (``survey`` is changed in place); what each file gave. ``FileChoicesError`` names the
    survey row (from 2) of a lookup whose file is missing or unreadable or lacks the columns.
    An ``instance()`` written otherwise is left for the check to refuse."""
    given: list[Attachment] = []
    for number, question in enumerate(survey, start=2):
        for column, value in list(question.items()):
            if column not in _EXPRESSION_COLUMNS or not isinstance(value, str):
                continue
            if "instance" not in value:
                continue

            def lookup(match: re.Match[str], number: int = number, column: str = column) -> str:
                name = (match.group(1) or match.group(2)).strip()
                file = f"{name}.xml"
                if column == "choice_filter":
                    raise FileChoicesError(
                        number,
                        file,
                        None,
                        "a lookup in an attached file is not supported in a choice_filter:"
                        " work it out in a calculate and compare with that",
                        "không hỗ trợ tra cứu tệp đính kèm trong choice_filter: hãy tính nó"
                        " trong một câu calculate rồi so sánh với câu đó",
                    )
                if file not in attachments:
                    raise FileChoicesError(
                        number,
                        file,
                        None,
                        f"instance('{name}') reads '{file}': attach the file with the form",
                        f"instance('{name}') đọc tệp '{file}': hãy tải tệp lên cùng biểu mẫu",
                    )
                if name not in tables:
                    data = attachments[file]
                    rows = _rows(file, number, data)
                    columns = list(dict.fromkeys(k for r in rows for k in r if k != "__line"))
                    tables[name] = {
                        "columns": columns,
                        "rows": [[r.get(c, "") for c in columns] for r in rows],
                        "xml": True,
                    }
                    given.append(
                        Attachment(
                            file, len(data), hashlib.sha256(data).hexdigest(), None, 0, len(rows)
                        )
                    )
                table = tables[name]
                if not table.get("xml"):
                    raise FileChoicesError(
                        number,
                        file,
                        None,
                        f"'{name}' names both {name}.csv and {file}: rename one of them",
                        f"'{name}' là tên của cả {name}.csv và {file}: hãy đổi tên một tệp",
                    )
                key, wanted = match.group(3), match.group(5)
                for needed in (key, wanted):
                    if needed not in table["columns"]:
                        raise FileChoicesError(
                            number,
                            file,
                            None,
                            f"no item of the file has a <{needed}>",
                            f"không mục nào của tệp có <{needed}>",
                        )
                return f"pulldata('{name}', '{wanted}', '{key}', {match.group(4)})"

            question[column] = _XML_LOOKUP.sub(lookup, value)
    for table in tables.values():
        table.pop("xml", None)
    return given


def inline_file_choices(
    survey: list[dict[str, Any]],
    choices: list[dict[str, Any]],
    attachments: dict[str, bytes],
    tables: dict[str, Any] | None = None,
) -> list[Attachment]:
    """Turn each question choosing from an attached CSV into a ``select_one``/``select_multiple``
    of a new list holding the file's rows (``survey`` and ``choices`` are changed in place);
    what each file gave, files no question uses included. ``FileChoicesError`` names the
    survey row (counted from 2, as the definition's rows are) of a question whose file is
    missing or cannot be read. The files ``pulldata()`` reads are added to ``tables``."""
    pulled, looked_up = pulldata_tables(survey, attachments)
    # After pulldata()'s own files: the calls these lookups become read XML files, not CSV.
    looked_up += xml_lookups(survey, attachments, pulled)
    searched = {a.name: a for a in inline_search_choices(survey, choices, attachments)}
    if tables is not None:
        tables.update(pulled)
    lookups = {a.name: a for a in looked_up}
    taken = {str(c.get("list_name", "")) for c in choices}
    made: dict[str, Attachment] = {}
    for number, question in enumerate(survey, start=2):
        match = _FROM_FILE.match(" ".join(str(question.get("type", "")).split()))
        if not match:
            continue
        kind, file = match.group(1).lower(), match.group(2)
        if file not in attachments:
            raise FileChoicesError(
                number,
                file,
                None,
                f"attach the file '{file}' with the form",
                f"hãy tải tệp '{file}' lên cùng biểu mẫu",
            )
        params = _parameters(str(question.get("parameters", "")))
        geojson = file.lower().endswith(".geojson")
        value_column = params.pop("value", "id" if geojson else "name")
        label_column = params.pop("label", "title" if geojson else "label")
        if file not in made:
            rows = _rows(file, number, attachments[file])
            list_name = _list_name(file, taken)
            taken.add(list_name)
            seen: set[str] = set()
            for record in rows:
                line = int(record.pop("__line"))
                name = record.get(value_column, "")
                labels = {
                    (k if k != label_column else "label"): v
                    for k, v in record.items()
                    if k == label_column or k.startswith(f"{label_column}::")
                }
                if label_column != "label":
                    labels = {
                        k.replace(f"{label_column}::", "label::", 1): v for k, v in labels.items()
                    }
                if not name or not any(labels.values()):
                    raise FileChoicesError(
                        number,
                        file,
                        line,
                        f"every row needs a '{value_column}' and a '{label_column}'",
                        f"mỗi dòng cần cột '{value_column}' và cột '{label_column}'",
                    )
                if name in seen:
                    raise FileChoicesError(
                        number,
                        file,
                        line,
                        f"the choice '{name}' is there twice",
                        f"lựa chọn '{name}' có hai lần",
                    )
                seen.add(name)
                others = {
                    k: v
                    for k, v in record.items()
                    if k not in (value_column, label_column, "name", "label", "list_name")
                    and not k.startswith((f"{label_column}::", "label::"))
                    and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k)
                }
                choices.append({"list_name": list_name, "name": name, **labels, **others})
            data = attachments[file]
            made[file] = Attachment(
                file, len(data), hashlib.sha256(data).hexdigest(), list_name, len(rows)
            )
        base = "select_one" if kind == "select_one_from_file" else "select_multiple"
        question["type"] = f"{base} {made[file].list_name}"
        rest = " ".join(f"{k}={v}" for k, v in params.items())
        if rest:
            question["parameters"] = rest
        else:
            question.pop("parameters", None)
    for name, attachment in searched.items():
        made.setdefault(name, attachment)
    for name, attachment in lookups.items():
        if name in made:
            made[name] = replace(made[name], lookup_rows=attachment.lookup_rows)
    unused = [
        lookups.get(name) or Attachment(name, len(data), hashlib.sha256(data).hexdigest(), None, 0)
        for name, data in attachments.items()
        if name not in made
    ]
    return [*made.values(), *unused]

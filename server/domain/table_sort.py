"""The staff table's submissions sorted by any column, a page at a time by a cursor.

A column's order follows what its answers are: numbers as numbers, dates and times as moments,
a choice by its place in the form's list (``never, sometimes, often`` stays in that order), text
in the Vietnamese alphabet's order (``a ă â b c d đ e ê …``, then the tones ``a à ả ã á ạ``,
then lower case before upper), and empty answers last in either direction. An answer that does
not read as its type (a word in a number's column, kept from an older version of the form)
comes after the ones that do, in text order: shown, never dropped.

Answers are stored deflated (``domain/answers.py``), so no index holds them: each page reads
every record of the view once for its sort key (SQL's ``answers(data)`` and ``json_extract``,
then ``table_key`` below), keeps the page's record ids, and reads only those records whole.
``bench/table_sort.py`` measures it at 10,000 records.

Pages follow a cursor, never an offset: the last row's (empty, key, rowid). The rowid breaks
ties between equal keys, so every record is on exactly one page whatever the sort; it is not
the record's id, so a viewer's cursor names no record. (The records table has no ``VACUUM``,
which alone could renumber rowids.)
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import Any

import sqlite_utils

from schemas.form import Form, Node
from server.domain import odata
from server.domain.reports import exports

# Review states in the order a record goes through them (rejected records are not exported).
STATES = ("received", "has_issues", "edited", "approved")
# The record's own columns a table sorts by besides its arrival: (SQL value, kind, choices).
_META = {
    "__system/village": ("v.name", "text", None),
    "__system/reviewState": ("r.review_state", "select_one", json.dumps(STATES)),
    "__system/submitterName": ("u.display_name", "text", None),
}
_NUMBERS = {"integer", "decimal", "range"}
_MOMENTS = {"date", "dateTime", "time", "start", "end", "today"}
TEXT_PREFIX = 64  # characters of a text that order it; equal beyond them, the rowid decides
MAX_CURSOR = 1500  # characters of a cursor
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")


@dataclass
class Sort:
    column: str  # a question's key or a ``__system/`` member of _META
    descending: bool = False


def sortable(name: str, root: odata.EntitySet, pseudonymised: bool) -> bool:
    """Whether the table sorts by this column: one of its questions, or a record's own column
    the table shows (a viewer's table has no volunteer)."""
    if name in _META:
        return not (pseudonymised and name == "__system/submitterName")
    return any(n == name for n, _, _ in root.columns)


# ---- the sort key of one value ---------------------------------------------------------------

# The Vietnamese alphabet, with the letters other languages add where Latin has them.
_ALPHABET = "aăâbcdđeêfghijklmnoôơpqrstuưvwxyz"
_RANK = {letter: chr(0x100 + i) for i, letter in enumerate(_ALPHABET)}
# A base letter and the mark that makes another letter of the alphabet of it.
_LETTER_MARKS = {
    ("a", "\u0306"): "ă",
    ("a", "\u0302"): "â",
    ("e", "\u0302"): "ê",
    ("o", "\u0302"): "ô",
    ("o", "\u031b"): "ơ",
    ("u", "\u031b"): "ư",
}
# The tones in dictionary order: none, huyền, hỏi, ngã, sắc, nặng.
_TONES = {"\u0300": "1", "\u0309": "2", "\u0303": "3", "\u0301": "4", "\u0323": "5"}
_SPACE = re.compile(r"\s+")


def collation_key(value: str) -> str:
    """Text as a key that sorts, by plain code point comparison, in Vietnamese order: letters
    first by the alphabet, then by their tones, then lower case before upper. Marks other than
    Vietnamese ones order after the tones; characters outside the alphabet keep their own
    code point (digits and punctuation before letters)."""
    # NFC first: a letter typed as a base and its marks is the one letter it makes.
    value = unicodedata.normalize("NFC", _SPACE.sub(" ", value).strip())[:TEXT_PREFIX]
    letters: list[str] = []
    tones: list[str] = []
    cases: list[str] = []
    for char in value:
        parts = _parts(char)
        if parts is None:
            if tones:
                tones[-1] = char  # a mark no letter composes with: after every tone
            continue
        letters.append(parts[0])
        tones.append(parts[1])
        cases.append(parts[2])
    # \x01 ends each part, below every character a part holds: "an" before "anh".
    return "".join(letters) + "\x01" + "".join(tones) + "\x01" + "".join(cases)


@lru_cache(maxsize=4096)
def _parts(char: str) -> tuple[str, str, str] | None:
    """A character's letter, tone and case in the key; None for a mark on its own."""
    if unicodedata.combining(char):
        return None
    lower = char.lower()
    # đ is a letter of its own, not d with a mark: NFD leaves it whole.
    base, *marks = unicodedata.normalize("NFD", lower) if lower != "đ" else lower
    tone = "0"
    for mark in marks:
        if (base, mark) in _LETTER_MARKS:
            base = _LETTER_MARKS[(base, mark)]
        elif mark in _TONES:
            tone = _TONES[mark]
        else:
            tone = mark  # a mark the alphabet has not: after every tone
    return _RANK.get(base, base), tone, "1" if char != lower else "0"


def _moment(value: str, kind: str) -> float | None:
    try:
        if kind == "time":
            found = time.fromisoformat(value.replace("Z", "+00:00"))
            offset = found.utcoffset()
            seconds = found.hour * 3600 + found.minute * 60 + found.second
            return seconds + found.microsecond / 1e6 - (offset.total_seconds() if offset else 0)
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), UTC).timestamp()
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


@lru_cache(maxsize=64)
def _ranks(choices: str) -> dict[str, int]:
    ranks: dict[str, int] = {}
    for place, code in enumerate(json.loads(choices)):
        ranks.setdefault(str(code), place)  # a code listed twice (cascades) at its first place
    return ranks


def table_key(kind: str, value: Any, choices: str | None) -> float | str | None:
    """The sort key of one answer (SQL's ``table_key(kind, value, choices)``): a number for
    what reads as the column's type, the text's collation key for anything else (SQLite sorts
    every number before every text), NULL for an empty answer."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if kind in _MOMENTS or kind == "select_one":
            value = str(value)
        else:
            return float(value) if math.isfinite(value) else None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value).strip()
    if kind in ("select_multiple", "rank") and text.startswith("["):
        with contextlib.suppress(ValueError, TypeError):  # not a list: sorted as it reads
            text = " ".join(str(code) for code in json.loads(text))
    if not text:
        return None
    found: float | None = None
    if kind == "select_one" and choices:
        place = _ranks(choices).get(text)
        found = None if place is None else float(place)
    elif kind in _MOMENTS:
        found = _moment(text, kind)
    elif (kind in _NUMBERS or kind == "calculate") and _NUMBER.fullmatch(text):
        found = float(text)
    if found is not None and math.isfinite(found):
        return found
    return collation_key(text)


def register(db: sqlite_utils.Database) -> None:
    db.conn.create_function("table_key", 3, table_key, deterministic=True)


# ---- the cursor --------------------------------------------------------------------------------


def _cursor(empty: int, key: float | str | None, rowid: int) -> str:
    text = json.dumps([empty, "" if key is None else key, rowid], ensure_ascii=False)
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode().rstrip("=")


def read_cursor(token: str) -> tuple[int, float | str, int]:
    """A cursor back as (empty, key, rowid); anything else is an ODataError (400)."""
    try:
        if len(token) > MAX_CURSOR:
            raise ValueError(token[:10])
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("utf-8")
        empty, key, rowid = json.loads(raw)
    except (ValueError, TypeError, UnicodeDecodeError, binascii.Error) as error:
        raise odata.ODataError(400, "bad_option", "odata.error_skiptoken") from error
    well_formed = (
        empty in (0, 1)
        and not isinstance(empty, bool)
        and isinstance(rowid, int)
        and not isinstance(rowid, bool)
        and (isinstance(key, str) or (isinstance(key, int | float) and not isinstance(key, bool)))
        and (not isinstance(key, float) or math.isfinite(key))
        and abs(rowid) < 2**63
    )
    if not well_formed:
        raise odata.ODataError(400, "bad_option", "odata.error_skiptoken")
    return empty, key, rowid


# ---- one page ----------------------------------------------------------------------------------


def _value_sql(
    form: Form, entity_set: odata.EntitySet, column: str
) -> tuple[str, list[Any], str, str | None]:
    """The SQL that gives the column's value, its parameters, its kind and its choices."""
    if column in _META:
        sql, kind, choices = _META[column]
        return sql, [], kind, choices
    # The column is named as the feed names it; the answer is stored under the question's key.
    node: Node | None = next((q for n, _, q in entity_set.columns if n == column), None)
    key = node.name if node is not None else column
    kind = node.type if node is not None else "text"
    choices = None
    if node is not None and kind == "select_one":
        codes = [c.get("name") for c in form.choices.get(node.list_name or "", [])]
        choices = json.dumps(codes, ensure_ascii=False)
    # The key is one of the form's names (XLSForm's letters, digits, _ - . and a group path's
    # /), quoted so that a dot or a slash is part of it.
    return "json_extract(answers(r.data), ?)", [f'$."{key}"'], kind, choices


def page_rows(
    db: sqlite_utils.Database,
    form: Form,
    entity_set: odata.EntitySet,
    options: exports.ExportOptions,
    where: tuple[str, list[Any]] | None,
    sort: Sort,
    after: tuple[int, float | str, int] | None,
    top: int,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the table's entities (the OData feed's, ``odata.entity``) in the sort's
    order after the cursor, and the cursor of the next page when rows remain."""
    register(db)
    scope, params = exports.scope(db, form, options)
    if where:
        scope, params = f"{scope} AND ({where[0]})", [*params, *where[1]]
    value, value_params, kind, choices = _value_sql(form, entity_set, sort.column)
    direction = "DESC" if sort.descending else "ASC"
    later = "<" if sort.descending else ">"
    condition, after_params = "1", []
    if after is not None:
        empty, key, rowid = after
        # Empty answers come last either way: after a cursor among them, only empties remain.
        condition = f"(empty > ? OR (empty = ? AND (coalesce(key, ''), rid) {later} (?, ?)))"
        after_params = [empty, empty, key, rowid]
    # MATERIALIZED: each record's key is worked out once, not again for WHERE and ORDER BY.
    rows = db.execute(
        "WITH keyed AS MATERIALIZED ("
        f" SELECT r.rowid AS rid, r.id AS id, table_key(?, {value}, ?) AS key"
        " FROM records r JOIN villages v ON v.id = r.village_id"
        f" LEFT JOIN users u ON u.id = r.user_id WHERE {scope}"
        "), ordered AS (SELECT rid, id, key, key IS NULL AS empty FROM keyed)"
        f" SELECT rid, id, key, empty FROM ordered WHERE {condition}"
        f" ORDER BY empty, key {direction}, rid {direction} LIMIT ?",
        [kind, *value_params, choices, *params, *after_params, top + 1],
    ).fetchall()
    more = len(rows) > top
    rows = rows[:top]
    ids = [row["id"] for row in rows]
    found: dict[str, dict[str, Any]] = {}
    header = exports.header(form, entity_set.table, options)
    if ids:
        marks = ",".join("?" * len(ids))
        for record in exports.records(db, form, options, (f"r.id IN ({marks})", ids)):
            for cells in exports.rows(form, entity_set.table, record, options):
                found[record["record_id"]] = odata.entity(entity_set, header, cells)
    entities = [found[i] for i in ids if i in found]
    if not more:
        return entities, None
    last = rows[-1]
    return entities, _cursor(int(last["empty"]), last["key"], int(last["rid"]))

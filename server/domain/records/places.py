"""Where the records were made and what they show: the staff site's map (every geopoint and
start-geopoint answer of a record, and its lines and shapes, in any form and any repeat) and its
gallery of photos (every image answer).

Both read the records the submissions list reads, through its own filter
(``query.matching``) and by its keyset, newest first, so that the map, the gallery and the
list never disagree on which records a filter means. Answers are kept deflated
(``answers.py``), so the points and photos are found in Python, a record at a time, only for
the form versions that have such questions; a page reads at most ``limit`` records, so no
request grows with the commune.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from schemas.form import Form, Node
from schemas.geo import GEO_TYPES, read_points
from server.domain import answers
from server.domain.blobs import file_answers
from server.domain.forms import get_form
from server.domain.records.query import Filters, matching

MAX_POINT_RECORDS = 5_000  # records a page of map points reads at most
DEFAULT_POINT_RECORDS = 2_000
PHOTOS_PER_PAGE = 24
_PHOTO_SCAN = 200  # records read at a time while filling a page of photos
_PHOTO_SCAN_MAX = 2_000  # and at most this many a page: a sparse filter gives shorter pages


@dataclass(frozen=True)
class Scope:
    """Whose records and which: the commune, the list's filters, and one form or every one."""

    commune_id: str
    filters: Filters
    form_id: str = ""


# The questions whose answers are on the map: points, and lines and shapes drawn as such.
PLACE_TYPES = frozenset({"geopoint", "start-geopoint", "background-geopoint"}) | GEO_TYPES
# A line or shape drawn with at most this many corners: a walk of 1,000 points weighs a page
# 5,000 records long; thinned evenly (its ends kept), it still shows where it went.
MAP_LINE_VERTICES = 100


def geopoint_nodes(form: Form) -> list[Node]:
    # Forms are immutable per version, so the list is computed once per Form object.
    cached = getattr(form, "_geopoint_nodes", None)
    if cached is None:
        cached = [n for n in form.nodes.values() if n.kind == "field" and n.type in PLACE_TYPES]
        form._geopoint_nodes = cached  # type: ignore[attr-defined]
    return cached


def map_line(value: Any) -> list[list[float]] | None:
    """A line's or shape's points as ``[[lat, lon], …]``, at most ``MAP_LINE_VERTICES`` of
    them, or None when the answer is not one."""
    points = read_points(value)
    if not points or len(points) < 2:
        return None
    step = math.ceil(len(points) / MAP_LINE_VERTICES)
    kept = points[::step] if step > 1 else points
    if kept[-1] is not points[-1]:
        kept = [*kept[: MAP_LINE_VERTICES - 1], points[-1]]
    return [[round(p[0], 7), round(p[1], 7)] for p in kept]


def parse_point(value: Any) -> tuple[float, float] | None:
    """``"lat lon alt acc"`` (ODK's geopoint; altitude and accuracy optional) as (lat, lon),
    or None when it is not a point on Earth."""
    if not isinstance(value, str):
        return None
    parts = value.split()
    if len(parts) < 2 or len(value) > 200:
        return None
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        return None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return round(lat, 7), round(lon, 7)


def _rows(
    db: sqlite_utils.Database, scope: Scope, after: tuple[str, str] | None, limit: int
) -> list[Any]:
    where, params = matching(db, scope.commune_id, scope.filters)
    if scope.form_id:
        where += " AND r.form_id = ?"
        params.append(scope.form_id)
    if after:
        where += " AND (r.received_at, r.id) < (?, ?)"
        params += list(after)
    return db.execute(
        "SELECT r.id, r.form_id, r.form_version, r.data, r.received_at, r.household_id,"
        " h.code AS household_code, h.head_name, v.name AS village FROM records r"
        " JOIN villages v ON v.id = r.village_id LEFT JOIN households h ON h.id = r.household_id"
        f" WHERE {where} ORDER BY r.received_at DESC, r.id DESC LIMIT ?",
        [*params, limit],
    ).fetchall()


def _form(db: sqlite_utils.Database, cache: dict[tuple[str, str], Form | None], row: Any) -> Any:
    key = (row["form_id"], row["form_version"])
    if key not in cache:
        found = get_form(db, *key)
        cache[key] = found[0] if found else None
    return cache[key]


def _who(row: Any, data: dict[str, Any]) -> dict[str, Any]:
    head = row["head_name"] or data.get("head_name") or ""
    return {
        "id": row["id"],
        "household": row["household_id"],
        "code": row["household_code"] or "",
        "name": head if isinstance(head, str) else "",
        "village": row["village"],
        "received_at": row["received_at"],
    }


def _geopoint_names(db: sqlite_utils.Database) -> tuple[list[str], list[str]]:
    """The keys of every stored form version's geopoint questions: those at the top of a
    record, and those inside a repeat (a few names; each version is parsed once, cached)."""
    top: set[str] = set()
    nested: set[str] = set()
    file = db.execute("PRAGMA database_list").fetchone()[2]
    for form_id, version in db.execute("SELECT form_id, version FROM forms").fetchall():
        key = (file, form_id, version)
        if key not in _GEOPOINT_KEYS:
            found = get_form(db, form_id, version)
            _GEOPOINT_KEYS[key] = [
                (n.name, bool(n.repeats)) for n in (geopoint_nodes(found[0]) if found else [])
            ]
        for name, in_repeat in _GEOPOINT_KEYS[key]:
            (nested if in_repeat else top).add(name)
    return sorted(top), sorted(nested)


# (database file, form_id, version) → its geopoints' (key, inside a repeat): a version never
# changes, so a page reads no form definition once its process has seen each version.
_GEOPOINT_KEYS: dict[tuple[str, str, str], list[tuple[str, bool]]] = {}


def _point_rows(
    db: sqlite_utils.Database, scope: Scope, after: tuple[str, str] | None, limit: int
) -> list[Any]:
    """The page's records with every answer that could be one of their points: the top-level
    ones by ``json_extract`` and those in repeats by ``json_tree``, in SQLite, which reads a
    record's answers many times faster than Python parses all of them."""
    where, params = matching(db, scope.commune_id, scope.filters)
    if scope.form_id:
        where += " AND r.form_id = ?"
        params.append(scope.form_id)
    if after:
        where += " AND (r.received_at, r.id) < (?, ?)"
        params += list(after)
    top, nested = _geopoint_names(db)
    tops = "json_array(" + ", ".join(["?", "json_extract(p.doc, ?)"] * len(top)) + ")"
    found_params: list[Any] = [x for name in top for x in (name, f'$."{name}"')]
    inner = "NULL"
    if nested:
        inner = (
            "(SELECT json_group_array(json_array(j.key, j.atom)) FROM json_tree(p.doc) j"
            f" WHERE j.type = 'text' AND j.key IN ({','.join('?' * len(nested))}))"
        )
        found_params += nested
    # MATERIALIZED: each record's answers are inflated once, not once per use below.
    return db.execute(
        "WITH page AS MATERIALIZED (SELECT r.id, r.form_id, r.form_version, r.received_at,"
        " r.household_id, r.village_id, answers(r.data) AS doc FROM records r"
        f" WHERE {where} ORDER BY r.received_at DESC, r.id DESC LIMIT ?)"
        " SELECT p.id, p.form_id, p.form_version, p.received_at, p.household_id,"
        " h.code AS household_code, coalesce(nullif(h.head_name, ''),"
        " json_extract(p.doc, '$.head_name')) AS head_name, v.name AS village,"
        f" {tops} AS tops, {inner} AS nested"
        " FROM page p JOIN villages v ON v.id = p.village_id"
        " LEFT JOIN households h ON h.id = p.household_id"
        " ORDER BY p.received_at DESC, p.id DESC",
        [*params, limit, *found_params],
    ).fetchall()


def map_points(
    db: sqlite_utils.Database, scope: Scope, after: tuple[str, str] | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the map: up to ``limit`` records (newest first), those with a place each
    as ``{id, household, code, name, village, received_at, points: [[lat, lon, key]],
    lines: [[key, type, [[lat, lon], …]]]}`` (a line's or shape's points by ``map_line``),
    and the cursor of the next page (None at the end)."""
    limit = max(1, min(limit, MAX_POINT_RECORDS))
    rows = _point_rows(db, scope, after, limit + 1)
    forms: dict[tuple[str, str], Form | None] = {}
    out = []
    for row in rows[:limit]:
        form = _form(db, forms, row)
        kinds = {n.name: n.type for n in geopoint_nodes(form)} if form is not None else {}
        if not kinds:
            continue
        tops = json.loads(row["tops"])
        found = list(zip(tops[::2], tops[1::2], strict=True))
        found += json.loads(row["nested"] or "[]")
        points, lines = [], []
        for key, value in found:
            if kinds.get(key) in GEO_TYPES:
                if (line := map_line(value)) is not None:
                    lines.append([key, kinds[key], line])
            elif key in kinds and (point := parse_point(value)) is not None:
                points.append([*point, key])
        if points or lines:
            out.append({**_who(row, {}), "points": points, "lines": lines})
    more = len(rows) > limit
    last = rows[limit - 1] if more else None
    return out, (f"{last['received_at']}~{last['id']}" if last else None)


def photos(
    db: sqlite_utils.Database, scope: Scope, after: tuple[str, str] | None, lang: str
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the gallery: the photos of records (newest first) until PHOTOS_PER_PAGE
    (a record's photos never split across pages), each ``{sha256, question, label, record…}``;
    and the cursor of the next page (None at the end)."""
    out: list[dict[str, Any]] = []
    forms: dict[tuple[str, str], Form | None] = {}
    scanned = 0
    cursor = after
    while True:
        rows = _rows(db, scope, cursor, _PHOTO_SCAN)
        for row in rows:
            scanned += 1
            cursor = (row["received_at"], row["id"])
            form = _form(db, forms, row)
            if form is not None and any(
                n.type == "image" for n in form.nodes.values() if n.kind == "field"
            ):
                data = answers.load(row["data"])
                if isinstance(data, dict):
                    who = _who(row, data)
                    for path, value in _photos(form, data):
                        if isinstance(value, str) and _is_sha256(value):
                            key = path.rsplit(".", 1)[-1]
                            node = form.nodes.get(key)
                            label = form.label(node, lang) if node is not None else key
                            out.append({**who, "sha256": value, "question": path, "label": label})
            if len(out) >= PHOTOS_PER_PAGE or scanned >= _PHOTO_SCAN_MAX:
                more = row is not rows[-1] or len(rows) == _PHOTO_SCAN
                return out, (f"{cursor[0]}~{cursor[1]}" if more and cursor else None)
        if len(rows) < _PHOTO_SCAN:
            return out, None


def _photos(form: Form, data: dict[str, Any]) -> list[tuple[str, Any]]:
    """The answers that are photos (image questions), as (path, value): recordings, films and
    documents are files too, but the gallery shows pictures."""
    return [(path, value) for path, value, kind in file_answers(form, data) if kind == "image"]


def _is_sha256(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)

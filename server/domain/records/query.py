"""What the commune office reads: the submissions list (filters, keyset paging) and one record.

The list stays fast at 100,000 records because every filter is a column with its own index
ending in ``(received_at, id)`` (migration m003_review), and pages are found by that pair — the
last row of a page is the cursor of the next — never by OFFSET.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from schemas import labels
from schemas.expr_library import area, distance
from schemas.form import Form, Node
from schemas.geo import GEO_TYPES, read_points
from schemas.media import FILE_ANSWER_TYPES
from server.domain import answers, clock
from server.domain.blobs import file_answers
from server.domain.forms import get_form
from server.domain.register import village_ids_under

PAGE_SIZE = 50
CORRECTED = "corrected"
# The states the office filters on and reads: the stored ones, and CORRECTED.
REVIEW_STATES = ("received", CORRECTED, "has_issues", "edited", "approved", "rejected")
# A record whose last decision was "has_issues" and that the volunteer has sent again since (a
# push makes it "received" once more, on a new rev) is waiting for its second look: the office
# reads it as CORRECTED, not as one more new record. Derived here, the one place, from the
# stored state and the last review (reviews_record index), so that nothing else changes: the
# phones, the replication and the exports keep the stored state.
_CORRECTED_SQL = (
    "(r.review_state = 'received' AND coalesce((SELECT w.review_state = 'has_issues'"
    " AND w.rev != r.rev FROM reviews w WHERE w.record_id = r.id ORDER BY w.id DESC LIMIT 1),"
    " 0))"
)
_SHOWN_STATE_SQL = f"CASE WHEN {_CORRECTED_SQL} THEN '{CORRECTED}' ELSE r.review_state END"
OUTCOMES = ("completed", "nobody_home", "refused", "empty_house", "come_back")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ID = re.compile(r"[0-9]{1,18}")  # ASCII digits that always fit SQLite's 64-bit integers
_CURSOR = re.compile(r"^(\d{4}-\d{2}-\d{2}T[\d:]+Z)~([0-9a-f-]{1,64})$")


@dataclass
class Filters:
    """The list's filters as read from the query string; unknown values are dropped."""

    village: str = ""
    volunteer: int | None = None
    date_from: str = ""
    date_to: str = ""
    state: str = ""
    outcome: str = ""
    needs_help: bool = False
    after: tuple[str, str] | None = None
    problems: list[str] = field(default_factory=list)
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))  # whose days date_from/to are

    @classmethod
    def from_args(cls, args: Any, zone: ZoneInfo | None = None) -> Filters:
        f = cls(village=args.get("village", "").strip())
        if zone is not None:
            f.zone = zone
        volunteer = args.get("volunteer", "").strip()
        if _ID.fullmatch(volunteer):
            f.volunteer = int(volunteer)
        for name in ("date_from", "date_to"):
            value = args.get(name, "").strip()
            if value and not _real_day(value, f.zone):
                f.problems.append(name)
            elif value:
                setattr(f, name, value)
        state, outcome = args.get("state", ""), args.get("outcome", "")
        f.state = state if state in REVIEW_STATES else ""
        f.outcome = outcome if outcome in OUTCOMES else ""
        f.needs_help = args.get("needs_help") == "1"
        match = _CURSOR.match(args.get("after", ""))
        f.after = (match.group(1), match.group(2)) if match else None
        return f

    def query(self, **changes: Any) -> dict[str, Any]:
        """The query string of these filters (for links), without the cursor unless given."""
        out = {
            "village": self.village,
            "volunteer": self.volunteer or "",
            "date_from": self.date_from,
            "date_to": self.date_to,
            "state": self.state,
            "outcome": self.outcome,
            "needs_help": "1" if self.needs_help else "",
        }
        out.update(changes)
        return {k: v for k, v in out.items() if v not in ("", None)}


def _real_day(value: str, zone: ZoneInfo) -> bool:
    """A day of the calendar whose start and end exist in UTC: 2026-13-45 is none, and
    neither is 0001-01-01 nor 9999-12-31 in a zone east or west of UTC."""
    if not _DATE.match(value):
        return False
    try:
        clock.day_start_utc(value, zone)
        clock.day_end_utc(value, zone)
    except (ValueError, OverflowError):
        return False
    return True


def volunteers(db: sqlite_utils.Database, commune_id: str) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in db.execute(
            "SELECT id, display_name, username FROM users WHERE commune_id = ?"
            " AND role = 'volunteer' ORDER BY display_name",
            [commune_id],
        )
    ]


def _where(db: sqlite_utils.Database, commune_id: str, f: Filters) -> tuple[str, list[Any]]:
    where, params = ["r.commune_id = ?"], [commune_id]
    if f.village:
        ids = village_ids_under(db, f.village)
        where.append(
            f"r.village_id IN ({','.join('?' * len(ids))})" if len(ids) > 1 else "r.village_id = ?"
        )
        params += ids
    if f.volunteer is not None:
        where.append("r.user_id = ?")
        params.append(f.volunteer)
    # The days are the server zone's (what the list shows); received_at is UTC.
    if f.date_from:
        where.append("r.received_at >= ?")
        params.append(clock.day_start_utc(f.date_from, f.zone))
    if f.date_to:
        where.append("r.received_at < ?")
        params.append(clock.day_end_utc(f.date_to, f.zone))
    if f.state == CORRECTED:
        where.append(_CORRECTED_SQL)
    elif f.state == "received":
        where.append(f"r.review_state = 'received' AND NOT {_CORRECTED_SQL}")
    elif f.state:
        where.append("r.review_state = ?")
        params.append(f.state)
    if f.outcome:
        where.append("r.outcome = ?")
        params.append(f.outcome)
    if f.needs_help:
        where.append("r.needs_help = 1")
    return " AND ".join(where), params


def matching(db: sqlite_utils.Database, commune_id: str, f: Filters) -> tuple[str, list[Any]]:
    """The list's WHERE clause over ``records r`` and its parameters: the one filter that the
    map and the gallery (``records/places.py``) share with the list."""
    return _where(db, commune_id, f)


def shown_states(db: sqlite_utils.Database, record_ids: list[str]) -> dict[str, str]:
    """Record id → the state the office reads (CORRECTED included), for pages that list
    records from elsewhere (a household's visits)."""
    if not record_ids:
        return {}
    marks = ",".join("?" * len(record_ids))
    return {
        row[0]: row[1]
        for row in db.execute(
            f"SELECT r.id, {_SHOWN_STATE_SQL} FROM records r WHERE r.id IN ({marks})", record_ids
        )
    }


def list_records(
    db: sqlite_utils.Database, commune_id: str, f: Filters
) -> tuple[list[dict[str, Any]], str | None]:
    """One page, newest first; returns (rows, the cursor of the next page or None)."""
    where, params = _where(db, commune_id, f)
    if f.after:
        where += " AND (r.received_at, r.id) < (?, ?)"
        params += list(f.after)
    rows = db.execute(
        f"SELECT r.id, r.form_id, r.received_at, r.visit_date, r.review_state, {_SHOWN_STATE_SQL}"
        " AS shown_state, r.outcome, r.needs_help,"
        " v.name AS village, r.household_id, h.code AS household_code,"
        " coalesce(h.head_name, json_extract(answers(r.data), '$.head_name')) AS head_name,"
        " u.display_name AS volunteer FROM records r JOIN villages v ON v.id = r.village_id"
        " LEFT JOIN households h ON h.id = r.household_id LEFT JOIN users u ON u.id = r.user_id"
        f" WHERE {where} ORDER BY r.received_at DESC, r.id DESC LIMIT ?",
        [*params, PAGE_SIZE + 1],
    ).fetchall()
    page = [dict(r) for r in rows[:PAGE_SIZE]]
    more = len(rows) > PAGE_SIZE
    cursor = f"{page[-1]['received_at']}~{page[-1]['id']}" if more and page else None
    return page, cursor


COUNT_CAP = 10_000


def count_records(db: sqlite_utils.Database, commune_id: str, f: Filters) -> int:
    """How many records match, counted up to COUNT_CAP + 1: past that "more than 10,000" says
    enough, and two filters that no single index covers would cost a lookup per record."""
    where, params = _where(db, commune_id, f)
    return int(
        db.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM records r WHERE {where} LIMIT ?)",
            [*params, COUNT_CAP + 1],
        ).fetchone()[0]
    )


def get_record(db: sqlite_utils.Database, commune_id: str, record_id: str) -> dict[str, Any] | None:
    """One record of this commune (None when it is not: the caller answers 404 either way)."""
    row = db.execute(
        "SELECT r.id, r.rev, r.form_id, r.form_version, r.data, r.meta, r.received_at,"
        f" r.updated_at, r.review_state, {_SHOWN_STATE_SQL} AS shown_state, r.village_id,"
        " v.name AS village, r.household_id,"
        " h.code AS household_code,"
        " coalesce(h.head_name, json_extract(answers(r.data), '$.head_name')) AS head_name,"
        " r.user_id,"
        " u.display_name AS volunteer, u.username AS volunteer_username, r.device_id,"
        " r.visit_date, r.commune_id FROM records r"
        " JOIN villages v ON v.id = r.village_id LEFT JOIN households h ON h.id = r.household_id"
        " LEFT JOIN users u ON u.id = r.user_id WHERE r.id = ? AND r.commune_id = ?",
        [record_id, commune_id],
    ).fetchone()
    if row is None:
        return None
    record = dict(row)
    record["data"] = answers.load(record["data"])
    record["meta"] = json.loads(record["meta"])
    found = get_form(db, record["form_id"], record["form_version"])
    record["form"], record["checker"] = found if found else (None, None)
    return record


def named_file(
    db: sqlite_utils.Database,
    commune_id: str,
    record_id: str,
    sha256: str,
    form_id: str | None = None,
) -> str | None:
    """The type of the question (``image``, ``audio``, ``video``, ``file``) whose answer in
    the commune's record names this file, or None when no answer does: the one rule before a
    record's file is sent to the staff site, from the record page or the gallery. Only the
    current revision counts, so a file a later version replaced or dropped is sent no more;
    no page shows an older revision's file (its history shows the hash as text). With
    ``form_id`` (an address naming the form, as OData's does), only a record of that form."""
    if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
        return None
    row = db.execute(
        "SELECT form_id, form_version, data FROM records WHERE id = ? AND commune_id = ?",
        [record_id[:64], commune_id],
    ).fetchone()
    if row is None or (form_id is not None and row["form_id"] != form_id):
        return None
    found = get_form(db, row["form_id"], row["form_version"])
    data = answers.load(row["data"])
    if found is None or not isinstance(data, dict):
        return None
    return next((kind for _, value, kind in file_answers(found[0], data) if value == sha256), None)


def revisions(db: sqlite_utils.Database, record_id: str) -> list[dict[str, Any]]:
    """Every revision of a record, oldest first, with who sent or made it."""
    rows = db.execute(
        "SELECT x.rev, x.base_rev, x.status, x.data, x.meta, x.device_id, x.user_id,"
        ' x.received_at, x.resolved_at, x.resolution, u.display_name AS "by", u.role'
        " FROM revisions x LEFT JOIN users u ON u.id = x.user_id WHERE x.record_id = ?"
        " ORDER BY x.received_at, x.rowid",
        [record_id],
    ).fetchall()
    out = []
    for r in rows:
        item = dict(r)
        item["data"] = answers.load(item["data"])
        item["meta"] = json.loads(item["meta"])
        # Sent by a commune server (a province's copy): neither a phone nor a staff account
        # of this server made it, and a conflict among them is settled on the commune.
        item["replicated"] = item["device_id"] is None and item["user_id"] is None
        out.append(item)
    return out


def reviews(db: sqlite_utils.Database, record_id: str) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in db.execute(
            "SELECT rev, review_state, comment, display_name, username, at FROM reviews"
            " WHERE record_id = ? ORDER BY id",
            [record_id],
        )
    ]


def visit_facts(record: dict[str, Any]) -> dict[str, Any]:
    """When, where and by whom: the start and end the form stamped, and the GPS point."""
    data, meta = record["data"], record["meta"]
    gps = str(data.get("gps") or "").split()
    point = None
    if len(gps) >= 2:
        point = {"lat": gps[0], "lon": gps[1], "accuracy": gps[3] if len(gps) > 3 else None}
    return {
        "start": data.get("start") or meta.get("started_at"),
        "end": data.get("end"),
        "visit_date": meta.get("visit_date") or record.get("visit_date"),
        "gps": point,
    }


class FileAnswer(str):
    """A file answer (its SHA-256) as the record page reads it: still the hash as text, and the
    kind of file, so the page shows the photo or plays the recording or film."""

    kind: str

    def __new__(cls, sha256: str, kind: str) -> FileAnswer:
        made = super().__new__(cls, sha256)
        made.kind = kind
        return made


class GeoAnswer(str):
    """A line's or shape's answer as the record page reads it: still its text, and its points
    (lat, lon, accuracy) with the length in metres (a line) or the area in m² (a shape), worked
    out by the form language's own ``distance()`` and ``area()``, as the phone shows them."""

    shape: bool  # a geoshape (an area), else a geotrace (a length)
    points: list[tuple[float, float, float | None]]
    size: float

    def __new__(cls, value: str, kind: str) -> GeoAnswer:
        made = super().__new__(cls, value)
        made.shape = kind == "geoshape"
        made.points = [(p[0], p[1], p[3]) for p in read_points(value) or []]
        made.size = (area if kind == "geoshape" else distance)(value)
        if made.shape and made.points:
            made.points.pop()  # the ring's closing point: the first again
        return made


def answer_text(
    form: Form,
    node: Node,
    value: Any,
    lang: str,
    data: dict[str, Any] | None = None,
    position: labels.Position = (),
) -> str:
    """An answer as a person reads it: choice labels instead of codes, their
    ``${references}`` filled in from the record's ``data`` at ``position`` when given."""
    if value is None or value == "" or value == []:
        return ""

    def choice(name: Any) -> str:
        text = form.choice_label(node.list_name or "", str(name), lang)
        return text if data is None else labels.fill(text, form, data, position)

    if node.type == "select_one":
        return choice(value)
    if node.type == "select_multiple" and isinstance(value, list):
        return ", ".join(choice(v) for v in value)
    if node.type == "rank" and isinstance(value, list):
        return ", ".join(f"{place}. {choice(v)}" for place, v in enumerate(value, start=1))
    if node.type in FILE_ANSWER_TYPES and isinstance(value, str):
        return FileAnswer(value, node.type)
    if node.type in GEO_TYPES and isinstance(value, str) and read_points(value):
        return GeoAnswer(value, node.type)
    return str(value)


def sections(form: Form, data: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """The answered part of a record, in form order: rows of (label, answer), and each repeat
    (the household's members, or any form's) as one block per instance, its own answered
    questions as (label, answer) rows: a desk reads a member down the page, where a table of
    every question across needed scrolling sideways. Labels have their ``${references}``
    filled in from the record (schemas/labels.py), inside a block from that instance's."""
    out: list[dict[str, Any]] = []
    _collect(form, form.root, data, lang, out, "")
    return [s for s in out if s["rows"] or s["repeats"]]


def _collect(
    form: Form, node: Node, data: dict[str, Any], lang: str, out: list[dict[str, Any]], title: str
) -> None:
    section: dict[str, Any] = {"title": title, "rows": [], "repeats": []}
    out.append(section)
    for child in node.children:
        if child.kind == "group":
            _collect(form, child, data, lang, out, labels.label(form, child, lang, data))
            # What follows the group belongs to this level again, below the group.
            section = {"title": "", "rows": [], "repeats": []}
            out.append(section)
        elif child.kind == "repeat":
            block = _repeat(form, child, data.get(child.name), data, lang, ())
            if block is not None:
                section["repeats"].append(block)
        elif child.type != "note" and child.name in data:
            section["rows"].append(
                (
                    labels.label(form, child, lang, data),
                    answer_text(form, child, data[child.name], lang, data),
                )
            )


def _repeat(
    form: Form,
    repeat: Node,
    instances: Any,
    data: dict[str, Any],
    lang: str,
    outer: tuple[tuple[str, int], ...],
) -> dict[str, Any] | None:
    """One repeat's blocks: ``{"title", "name", "instances": [{"number", "heading", "rows",
    "repeats"}]}``, a repeat inside it nested in its instance's block; None when unanswered."""
    if not isinstance(instances, list) or not instances:
        return None
    inner = [n for n in form.walk(repeat) if n is not repeat and n.repeats[-1:] == (repeat.name,)]
    fields = [n for n in inner if n.kind == "field" and n.type != "note"]
    nested = [n for n in inner if n.kind == "repeat"]
    every = (*outer, (repeat.name, labels.NO_INSTANCE))
    blocks = []
    for index, instance in enumerate(instances):
        if not isinstance(instance, dict):
            continue
        position = (*outer, (repeat.name, index))
        answered = [f for f in fields if instance.get(f.name) not in (None, "", [])]
        rows = [
            (
                labels.label(form, f, lang, data, position),
                answer_text(form, f, instance[f.name], lang, data, position),
            )
            for f in answered
        ]
        # Whose block it is, by the phone's rule (a member's name).
        name = form.entry_name(repeat, instance)
        blocks.append(
            {
                "number": index + 1,
                "heading": labels.label(form, repeat, lang, data, position),
                "name": name,
                "rows": rows,
                "repeats": [
                    b
                    for n in nested
                    if (b := _repeat(form, n, instance.get(n.name), data, lang, position))
                ],
            }
        )
    return {
        "title": labels.label(form, repeat, lang, data, every),
        "name": repeat.name,
        "instances": blocks,
    }

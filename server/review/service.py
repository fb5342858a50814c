"""What the commune office reads: record lists and one record shown with its form's labels."""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from schemas.form import Form, Node
from server.forms import get_form

PAGE_SIZE = 50


def villages(db: sqlite_utils.Database, commune_id: str) -> list[dict[str, Any]]:
    return [dict(zip(("id", "name", "records"), r, strict=True)) for r in db.execute(
        "SELECT v.id, v.name, (SELECT count(*) FROM records r WHERE r.village_id = v.id)"
        " FROM villages v WHERE v.commune_id = ? ORDER BY v.name", [commune_id])]


def list_records(db: sqlite_utils.Database, commune_id: str, village_id: str | None,
                 page: int = 1) -> list[dict[str, Any]]:
    where, params = "r.commune_id = ?", [commune_id]
    if village_id:
        where += " AND r.village_id = ?"
        params.append(village_id)
    rows = db.execute(
        "SELECT r.id, r.received_at, r.review_state, v.name, h.code,"
        " coalesce(h.head_name, json_extract(r.data, '$.head_name')),"
        " u.display_name FROM records r JOIN villages v ON v.id = r.village_id"
        " LEFT JOIN households h ON h.id = r.household_id LEFT JOIN users u ON u.id = r.user_id"
        f" WHERE {where} ORDER BY r.received_at DESC, r.id LIMIT ? OFFSET ?",
        [*params, PAGE_SIZE, (max(page, 1) - 1) * PAGE_SIZE]).fetchall()
    keys = ("id", "received_at", "review_state", "village", "household_code", "head_name",
            "volunteer")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def get_record(db: sqlite_utils.Database, commune_id: str,
               record_id: str) -> dict[str, Any] | None:
    """One record of this commune (None when it is not: the caller answers 404 either way)."""
    row = db.execute(
        "SELECT r.id, r.rev, r.form_id, r.form_version, r.data, r.meta, r.received_at,"
        " r.review_state, v.name, h.code,"
        " coalesce(h.head_name, json_extract(r.data, '$.head_name')), u.display_name FROM records r"
        " JOIN villages v ON v.id = r.village_id LEFT JOIN households h ON h.id = r.household_id"
        " LEFT JOIN users u ON u.id = r.user_id WHERE r.id = ? AND r.commune_id = ?",
        [record_id, commune_id]).fetchone()
    if row is None:
        return None
    keys = ("id", "rev", "form_id", "form_version", "data", "meta", "received_at",
            "review_state", "village", "household_code", "head_name", "volunteer")
    record = dict(zip(keys, row, strict=True))
    record["data"] = json.loads(record["data"])
    record["meta"] = json.loads(record["meta"])
    record["revisions"] = [dict(zip(("rev", "status", "received_at"), r, strict=True))
                           for r in db.execute(
        "SELECT rev, status, received_at FROM revisions WHERE record_id = ?"
        " ORDER BY received_at, rev", [record_id])]
    found = get_form(db, record["form_id"], record["form_version"])
    record["form"] = found[0] if found else None
    return record


def answer_text(form: Form, node: Node, value: Any, lang: str) -> str:
    """An answer as a person reads it: choice labels instead of codes."""
    if value is None or value == "" or value == []:
        return ""
    if node.type == "select_one":
        return form.choice_label(node.list_name or "", str(value), lang)
    if node.type == "select_multiple" and isinstance(value, list):
        return ", ".join(form.choice_label(node.list_name or "", str(v), lang) for v in value)
    return str(value)


def sections(form: Form, data: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """The answered part of a record, in form order: rows of (label, answer), and each repeat
    as a table with one row per instance."""
    out: list[dict[str, Any]] = []
    _collect(form, form.root, data, lang, out, "")
    return [s for s in out if s["rows"] or s["tables"]]


def _collect(form: Form, node: Node, data: dict[str, Any], lang: str,
             out: list[dict[str, Any]], title: str) -> None:
    section: dict[str, Any] = {"title": title, "rows": [], "tables": []}
    out.append(section)
    for child in node.children:
        if child.kind == "group":
            _collect(form, child, data, lang, out, form.label(child, lang))
            # What follows the group belongs to this level again, below the group.
            section = {"title": "", "rows": [], "tables": []}
            out.append(section)
        elif child.kind == "repeat":
            columns = [n for n in form.walk(child) if n.kind == "field" and n.type != "note"
                       and n.repeats[-1:] == (child.name,)]
            instances = data.get(child.name) or []
            section["tables"].append({
                "title": form.label(child, lang),
                "columns": [form.label(c, lang) for c in columns],
                "rows": [[answer_text(form, c, inst.get(c.name), lang) for c in columns]
                         for inst in instances if isinstance(inst, dict)],
            })
        elif child.type != "note" and child.name in data:
            section["rows"].append((form.label(child, lang),
                                    answer_text(form, child, data[child.name], lang)))

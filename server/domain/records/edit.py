"""Editing a record on the server: the edit form's fields, reading it back, checking it with the
form's own rules, and settling a conflict between two revisions question by question."""

from __future__ import annotations

import copy
import math
from typing import Any

import sqlite_utils

from schemas import labels
from schemas.form import AUTOMATIC_TYPES, Form, Node, range_parameters
from schemas.geo import GEO_TYPES, tidy
from schemas.media import FILE_ANSWER_TYPES
from schemas.settle import settle, stored_number
from schemas.validate import Errors
from server.domain.db import now_iso
from server.domain.errors import Refused
from server.domain.records.query import answer_text
from server.domain.records.store import new_revision, tell_resolution
from sync.protocol import visit_day

# Filled in by the phone or the form itself (metadata: start, deviceid …), or taken from a
# file (a photo, a recording, an .osm file …): shown, never typed by staff.
_NOT_TYPED = {"note", "osm", "acknowledge", "hidden"} | FILE_ANSWER_TYPES | AUTOMATIC_TYPES


# A choice list longer than this is searched, not drawn whole: the phone's threshold
# (pwa/js/render.js: LONG_LIST; tests/unit/test_edit_form_lists.py holds them equal). Its
# choices are one <datalist> per list on the edit page, which the browser searches as staff
# type and never lays out; a list of 10,000 households stays a light page.
LONG_LIST = 60


def _editable(node: Node) -> bool:
    return node.kind == "field" and node.type not in _NOT_TYPED and len(node.repeats) <= 1


def field_view(
    form: Form,
    node: Node,
    value: Any,
    name: str,
    lang: str,
    data: dict[str, Any],
    position: labels.Position = (),
) -> dict[str, Any]:
    """One question of the edit form: its input name, label, type, value and choices, their
    ``${references}`` filled in from ``data`` at ``position`` (the question's instance)."""
    view: dict[str, Any] = {
        "name": name,
        "label": labels.label(form, node, lang, data, position),
        "type": node.type,
        "value": value,
        "path": _path(name),
        "choices": [],
    }
    if node.list_name:
        view["choices"] = [
            (c["name"], labels.text(form, c, "label", lang, data, position))
            for c in form.choice_list(node)  # with 'other' for or_other: kept when edited
        ]
    if node.type == "select_multiple":
        view["selected"] = value if isinstance(value, list) else []
    if node.type == "rank":
        view["ranked"] = _rank_rows(view["choices"], value)
    if node.type == "range" and isinstance(
        bounds := range_parameters(node.get("parameters")), tuple
    ):
        # The number input takes what the slider offers. A browser counts steps from min, ODK
        # from start: with end below start, min is the last step reached, not end itself.
        start, end, step = bounds
        count = math.floor(abs(end - start) / step + 1e-9)
        last = float(f"{start + math.copysign(count * step, end - start):.12g}")
        view["range"] = {
            "min": stored_number(min(start, last)),
            "max": stored_number(max(start, last)),
            "step": stored_number(step),
        }
    if len(view["choices"]) > LONG_LIST and node.type != "rank":
        # Searched through the list's <datalist>: only the answers given are drawn, each with
        # its label, so nothing is lost and nothing is laid out by the thousand.
        shown = dict(view["choices"])
        chosen = view.get("selected", []) if node.type == "select_multiple" else [value]
        view["long"] = f"choices-{node.list_name}" + ("-other" if node.or_other else "")
        view["chosen"] = [(v, shown.get(v, "")) for v in chosen if v not in (None, "")]
        view["choices"] = []
    return view


def _rank_rows(choices: list[tuple[str, str]], value: Any) -> list[tuple[str, str, int | None]]:
    """A rank on the edit page: (name, label, place) for each choice, the answer's order first,
    then the choices it does not hold, without a place."""
    order = [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
    labels_of = dict(choices)
    rows: list[tuple[str, str, int | None]] = [
        (name, labels_of.get(name, name), place) for place, name in enumerate(order, start=1)
    ]
    return rows + [(name, label, None) for name, label in choices if name not in order]


def _read_rank(
    node: Node, scope: dict[str, Any], name: str, path: str, formdata: Any, errors: Errors
) -> None:
    """Staff give each choice its place (1, 2 …). At an equal place, a choice whose place was
    changed goes first (maize set to 1 goes before the choice that was 1), then the order they
    had. A choice left without a place is left out, which the form's check then names."""
    if f"{name}:present" not in formdata:
        return
    before = scope.get(node.name)
    order = before if isinstance(before, list) else []
    placed: list[tuple[int, bool, int, str]] = []
    for key in formdata:
        if not key.startswith(f"{name}:") or key == f"{name}:present":
            continue
        choice = key[len(name) + 1 :]
        raw = formdata.get(key, "").strip()
        if raw == "":
            continue
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 4:
            errors.setdefault(path, []).append({"code": "not_integer"})
            return
        was = order.index(choice) if choice in order else len(order)
        placed.append((int(raw), int(raw) == was + 1, was, choice))
    _put(scope, node.name, [choice for *_, choice in sorted(placed)] or None)


def edit_datalists(form: Form, lang: str) -> dict[str, list[tuple[str, str]]]:
    """The choices of each long list an editable question offers, by the ``long`` id its
    field view names: one <datalist> per list on the page, however many questions use it."""
    lists: dict[str, list[tuple[str, str]]] = {}
    for node in form.walk():
        if not _editable(node) or not node.list_name:
            continue
        choices = form.choice_list(node)
        key = f"choices-{node.list_name}" + ("-other" if node.or_other else "")
        if len(choices) > LONG_LIST and key not in lists:
            lists[key] = [(c["name"], labels.text(form, c, "label", lang, {}, ())) for c in choices]
    return lists


def _path(name: str) -> str:
    """``q:members:0:birth_year`` → ``members[0].birth_year``: the checker's error keys."""
    parts = name.split(":")[1:]
    return parts[0] if len(parts) == 1 else f"{parts[0]}[{parts[1]}].{parts[2]}"


def edit_view(form: Form, data: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """The edit form, in form order: sections of questions; a repeat is one table per
    instance the record has (staff change answers, not the number of members)."""
    out: list[dict[str, Any]] = []
    _edit_level(form, form.root, data, lang, out, "")
    return [s for s in out if s["fields"] or s["instances"]]


def _edit_level(
    form: Form, node: Node, data: dict[str, Any], lang: str, out: list[dict[str, Any]], title: str
) -> None:
    section: dict[str, Any] = {"title": title, "fields": [], "instances": []}
    out.append(section)
    for child in node.children:
        if child.kind == "group":
            _edit_level(form, child, data, lang, out, labels.label(form, child, lang, data))
            section = {"title": "", "fields": [], "instances": []}
            out.append(section)
        elif child.kind == "repeat":
            fields = [
                n for n in form.walk(child) if _editable(n) and n.repeats[-1:] == (child.name,)
            ]
            for index, inst in enumerate(data.get(child.name) or []):
                if isinstance(inst, dict):
                    at = [(child.name, index)]
                    section["instances"].append(
                        {
                            "title": f"{labels.label(form, child, lang, data, at)} {index + 1}",
                            "fields": [
                                field_view(
                                    form,
                                    n,
                                    inst.get(n.name),
                                    f"q:{child.name}:{index}:{n.name}",
                                    lang,
                                    data,
                                    at,
                                )
                                for n in fields
                            ],
                        }
                    )
        elif _editable(child):
            section["fields"].append(
                field_view(form, child, data.get(child.name), f"q:{child.name}", lang, data)
            )


def read_form(form: Form, base: dict[str, Any], formdata: Any) -> tuple[dict[str, Any], Errors]:
    """The edit form read back into record data, starting from ``base`` (so that what staff
    cannot type — calculations, photos, times — is kept). An empty input removes the answer.
    Returns (data, errors of values that are not even of the right kind)."""
    data = copy.deepcopy(base)
    errors: Errors = {}
    for node in form.walk():
        if not _editable(node):
            continue
        if not node.repeats:
            _read_one(node, data, f"q:{node.name}", node.name, formdata, errors)
            continue
        instances = data.get(node.repeats[0])
        for index, inst in enumerate(instances if isinstance(instances, list) else []):
            if isinstance(inst, dict):
                _read_one(
                    node,
                    inst,
                    f"q:{node.repeats[0]}:{index}:{node.name}",
                    f"{node.repeats[0]}[{index}].{node.name}",
                    formdata,
                    errors,
                )
    return data, errors


def _read_one(
    node: Node, scope: dict[str, Any], name: str, path: str, formdata: Any, errors: Errors
) -> None:
    if node.type == "rank":
        _read_rank(node, scope, name, path, formdata, errors)
        return
    if node.type == "select_multiple":
        if f"{name}:present" not in formdata:
            return
        # A long list's search box adds a choice beside the boxes: one already ticked is one.
        values = list(dict.fromkeys(v.strip() for v in formdata.getlist(name) if v.strip()))
        _put(scope, node.name, values or None)
        return
    if name not in formdata:
        return  # not on the form that was sent: leave the answer as it was
    raw = formdata.get(name, "").strip()
    if raw == "":
        _put(scope, node.name, None)
    elif node.type == "integer":
        try:
            _put(scope, node.name, int(raw))
        except ValueError:
            errors.setdefault(path, []).append({"code": "not_integer"})
    elif node.type in ("decimal", "range"):
        try:
            number = float(raw.replace(",", "."))
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            errors.setdefault(path, []).append({"code": "not_number"})
        else:
            _put(
                scope, node.name, int(number) if number.is_integer() and "." not in raw else number
            )
    elif node.type in GEO_TYPES:
        # The edit page shows a point a line; stored as the phone writes it (a shape closed).
        _put(scope, node.name, tidy(node.type, raw.replace("\n", ";")) or None)
    else:
        _put(scope, node.name, raw)


def _put(scope: dict[str, Any], name: str, value: Any) -> None:
    if value is None:
        scope.pop(name, None)
    else:
        scope[name] = value


def settled(record: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Edited answers settled by the form's rules as the phone settles them (calculations,
    relevance, choice filters, repeat counts), with today() the day of the visit."""
    return settle(record["form"], data, today=visit_day(record))


def check(record: dict[str, Any], data: dict[str, Any]) -> Errors:
    """The same rules the phone and the push path apply."""
    if record["checker"] is None:
        raise Refused("review.error_no_form", status=409)
    return record["checker"].check(data, today=visit_day(record))


def save_edit(
    db: sqlite_utils.Database,
    staff: dict[str, Any],
    record: dict[str, Any],
    data: dict[str, Any],
    comment: str,
) -> str:
    """Store a checked edit as a new revision; the caller holds the write transaction."""
    if data == record["data"]:
        raise Refused("review.error_no_change")
    return new_revision(db, staff, record, data, comment)


# -- conflicts -------------------------------------------------------------------------------


def question_units(form: Form) -> list[Node]:
    """What a reviewer chooses between in a conflict: each top-level question, and each
    repeat as a whole (its instances belong together: members and their count)."""
    return [
        n
        for n in form.walk()
        if not n.repeats and (n.kind == "repeat" or (n.kind == "field" and n.type != "note"))
    ]


def compare(
    form: Form, current: dict[str, Any], other: dict[str, Any], lang: str
) -> list[dict[str, Any]]:
    rows = []
    for node in question_units(form):
        if node.name not in current and node.name not in other:
            continue
        # A repeat is compared whole: its label speaks for every instance.
        at = [(node.name, labels.NO_INSTANCE)] if node.kind == "repeat" else []
        rows.append(
            {
                "name": node.name,
                "label": labels.label(form, node, lang, current, at),
                "current": _unit_text(form, node, current, lang),
                "other": _unit_text(form, node, other, lang),
                "same": current.get(node.name) == other.get(node.name),
            }
        )
    return rows


def _unit_text(form: Form, node: Node, data: dict[str, Any], lang: str) -> list[str]:
    value = data.get(node.name)
    if node.kind != "repeat":
        return [answer_text(form, node, value, lang, data)]
    columns = [
        n
        for n in form.walk(node)
        if n.kind == "field" and n.type != "note" and n.repeats[-1:] == (node.name,)
    ]
    lines = []
    for index, inst in enumerate(value if isinstance(value, list) else []):
        if isinstance(inst, dict):
            parts = [
                answer_text(form, c, inst.get(c.name), lang, data, [(node.name, index)])
                for c in columns[:4]
            ]
            lines.append(f"{index + 1}. " + " · ".join(p for p in parts if p))
    return lines


def merged(
    form: Form, current: dict[str, Any], other: dict[str, Any], choices: dict[str, str]
) -> dict[str, Any]:
    """Current answers, with the other revision's for every question chosen so."""
    data = copy.deepcopy(current)
    for node in question_units(form):
        if choices.get(node.name) == "other":
            if node.name in other:
                data[node.name] = copy.deepcopy(other[node.name])
            else:
                data.pop(node.name, None)
    return data


def open_conflicts(db: sqlite_utils.Database, record_id: str) -> list[dict[str, Any]]:
    """The conflict revisions still to settle, oldest first; ``replicated``: it came from a
    commune server (no device, no user here), and is settled there, not on this server."""
    return [
        {"rev": r[0], "replicated": bool(r[1])}
        for r in db.execute(
            "SELECT rev, device_id IS NULL AND user_id IS NULL FROM revisions"
            " WHERE record_id = ? AND status = 'conflict' AND resolved_at IS NULL"
            " ORDER BY received_at",
            [record_id],
        )
    ]


def resolve(
    db: sqlite_utils.Database,
    staff: dict[str, Any],
    record: dict[str, Any],
    conflict_rev: str,
    data: dict[str, Any],
    resolution: str,
) -> str | None:
    """Settle a conflict: the conflict revision stays (marked resolved, and how); the chosen
    or merged answers become a new revision based on the current one, unless they are the
    current answers already. Either way both phones hear of it: the one that sent the current
    revision and the one that sent the conflict revision. Returns the new rev or None."""
    conflict = db.execute(
        "SELECT user_id, device_id FROM revisions WHERE record_id = ? AND rev = ?"
        " AND status = 'conflict' AND resolved_at IS NULL",
        [record["id"], conflict_rev],
    ).fetchone()
    if conflict is None:
        raise Refused("review.error_stale", status=409)
    if conflict["user_id"] is None and conflict["device_id"] is None:
        # Replicated from a commune server: settled there, and the answer comes back up.
        raise Refused("review.error_conflict_replicated", status=409)
    resolved = {"rev": conflict_rev, "resolution": resolution, "user_id": conflict["user_id"]}
    rev = None
    if data != record["data"]:
        rev = new_revision(db, staff, record, data, resolved=resolved)
    else:
        tell_resolution(db, staff, record, resolved)
    db.execute(
        "UPDATE revisions SET resolved_at = ?, resolved_by = ?, resolution = ?"
        " WHERE record_id = ? AND rev = ? AND status = 'conflict'",
        [now_iso(), staff["id"], resolution, record["id"], conflict_rev],
    )
    return rev

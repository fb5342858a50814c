"""A person's rights over ODK Collect submissions that are not records yet: those waiting on
``/collect`` for a household or their files, or refused by the check, whose XML is kept in
``openrosa_submissions`` (``service.waiting``). A person named in one is found, exported and
erased as in a record (``records/rights.py``), in the same three roles, prefixed ``collect_``.

The erasure scrubs the kept XML as a record's answers are scrubbed (the names ``ERASED``, the
phone, notes and GPS point emptied: an empty element is an unanswered question), so attaching
the submission later makes a record without them. The form's files, places and names go as
``records/rights.py`` takes them from a record (``_scrub_kinds``), and the files no answer
names any more leave the submission's ``files``, for ``blobs.sweep``. Its ``xml_sha256``
stays the hash of what Collect sent, so the same XML sent again is known and brings nothing
back (``service.submit`` keeps the XML it has for a known hash).
"""

from __future__ import annotations

import json
from typing import Any
from xml.etree.ElementTree import Element, tostring

import sqlite_utils
from defusedxml.ElementTree import fromstring

from schemas.media import FILE_ANSWER_TYPES as FILE_TYPES
from schemas.text import fold
from server.domain.blobs import EMPTY_SHA256
from server.domain.db import now_iso
from server.domain.forms import get_form
from server.domain.openrosa.instance import InstanceRefused, map_instance, read_instance
from server.domain.records.rights import (
    ERASED,
    MEMBER_MARKED,
    PERSONAL,
    ROSTER,
    form_kinds,
    head_names,
    is_required,
    part,
    says_head,
)

PREFIX = "collect_"
ROLES = tuple(PREFIX + r for r in ("head", "respondent", "member"))
# The states of a submission whose XML is kept, waiting on /collect (service.waiting).
WAITING = ("partial", "rejected", "unattached")
MAX_WAITING = 2000  # submissions a search reads; a commune has a handful waiting


def _rows(db: sqlite_utils.Database, commune_id: str, instance_id: str | None = None) -> list[Any]:
    states = ",".join("?" * len(WAITING))
    sql = (
        "SELECT s.instance_id, s.form_id, s.form_version, s.xml, s.files, s.received_at,"
        " u.display_name AS volunteer FROM openrosa_submissions s JOIN users u"
        f" ON u.id = s.user_id WHERE s.commune_id = ? AND s.state IN ({states})"
        " AND s.xml != ''"
    )
    params: list[Any] = [commune_id, *WAITING]
    if instance_id is not None:
        sql, params = sql + " AND s.instance_id = ?", [*params, instance_id]
    return db.execute(sql + f" ORDER BY s.received_at LIMIT {MAX_WAITING}", params).fetchall()


def _data(db: sqlite_utils.Database, row: Any) -> dict[str, Any]:
    """A kept submission's answers as its record's ``data`` would hold them."""
    form = get_form(db, row["form_id"], row["form_version"])
    try:
        instance = read_instance(row["xml"].encode("utf-8"))
    except InstanceRefused:
        return {}
    return map_instance(form[0], instance.root).data if form else {}


def _name_places(
    db: sqlite_utils.Database, row: Any, data: dict[str, Any]
) -> list[tuple[str, int | None, Any]]:
    """Where a waiting submission names people, as a record's search finds them
    (``records/rights.py: find``): the survey's names, and the submission's form's own name
    questions, outside any repeat when the name says it is the head's, in the roster a
    member's."""
    members = data.get(ROSTER) if isinstance(data.get(ROSTER), list) else []
    entries = [(i, m) for i, m in enumerate(members) if isinstance(m, dict)]
    places: list[tuple[str, int | None, Any]] = [
        ("head", None, data.get("head_name")),
        ("respondent", None, data.get("respondent_name")),
    ]
    places += [("member", i, m.get("member_name")) for i, m in entries]
    found = get_form(db, row["form_id"], row["form_version"])
    for node in form_kinds(found[0] if found else None).names:
        if node.name in ("head_name", "respondent_name", *MEMBER_MARKED):
            continue
        if not node.repeats and says_head(node.name):
            places.append(("head", None, data.get(node.name)))
        elif node.repeats == (ROSTER,):
            places += [("member", i, m.get(node.name)) for i, m in entries]
    return places


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def find(db: sqlite_utils.Database, commune_id: str, needle: str) -> list[dict[str, Any]]:
    """Every place a name containing ``needle`` (folded) appears in a waiting submission."""
    out = []
    for row in _rows(db, commune_id):
        data = _data(db, row)
        seen: set[tuple[str, int | None]] = set()
        for role, index, name in _name_places(db, row, data):
            if not isinstance(name, str) or name == ERASED or needle not in fold(name):
                continue
            if (role, index) in seen:
                continue  # a member named twice (two name questions) is one occurrence
            seen.add((role, index))
            out.append(
                {
                    "key": f"{PREFIX}{role}:{row['instance_id']}:{'' if index is None else index}",
                    "role": PREFIX + role,
                    "target": row["instance_id"],
                    "index": index,
                    "name": name,
                    "village": None,
                    "household_code": None,
                    "detail": _text(data.get("address")),
                    "visit_date": str(data.get("start") or row["received_at"])[:10],
                }
            )
    return out


def waiting(db: sqlite_utils.Database, commune_id: str, instance_id: str) -> bool:
    return bool(_rows(db, commune_id, instance_id))


def export(db: sqlite_utils.Database, commune_id: str, sel: dict[str, Any]) -> dict[str, Any]:
    """What a waiting submission holds about the person, for the person's export."""
    (row,) = _rows(db, commune_id, sel["target"])
    role = sel["role"].removeprefix(PREFIX)
    return {
        "kind": "collect_submission_waiting",
        "instance_id": row["instance_id"],
        "role": role,
        "member_number": None if sel["index"] is None else sel["index"] + 1,
        "form": f"{row['form_id']} {row['form_version']}",
        "received_at": row["received_at"],
        "volunteer": row["volunteer"],
        "answers": part(_data(db, row), role, sel["index"]),
    }


def erase(
    db: sqlite_utils.Database,
    commune_id: str,
    instance_id: str,
    roles: set[str],
    indexes: set[int],
    files: set[str] | None = None,
) -> set[str]:
    """Scrub one waiting submission's kept XML (inside the caller's transaction); returns
    the erased names, folded, and adds the files it no longer names to ``files``."""
    (row,) = _rows(db, commune_id, instance_id)
    data = _data(db, row)
    members = data.get("members") if isinstance(data.get("members"), list) else []
    names = {
        fold(str(members[i].get("member_name") or ""))
        for i in indexes
        if i < len(members) and isinstance(members[i], dict)
    } - {""}
    erased = set(names)
    for role in roles & PERSONAL.keys():
        erased |= {fold(str(data.get(k) or "")) for k in PERSONAL[role][0] if k.endswith("_name")}
    root = fromstring(row["xml"].encode("utf-8"), forbid_dtd=True)
    _scrub(root, roles, names, indexes)
    found = get_form(db, row["form_id"], row["form_version"])
    held = json.loads(row["files"] or "{}")
    if found is not None and isinstance(held, dict):
        held = _scrub_kinds(root, found[0], roles, names, indexes, held)
        if files is not None:
            # The empty file too, when a required file's answer now names it: it must be held.
            files |= set(json.loads(row["files"]).values()) - set(held.values()) - {EMPTY_SHA256}
            files |= {EMPTY_SHA256} & set(held.values())
    db.execute(
        "UPDATE openrosa_submissions SET xml = ?, files = ?, updated_at = ? WHERE instance_id = ?",
        [tostring(root, encoding="unicode"), json.dumps(held), now_iso(), instance_id],
    )
    return erased - {"", fold(ERASED)}


def _local(element: Element) -> str:
    return element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""


def _scrub(root: Element, roles: set[str], names: set[str], indexes: set[int]) -> None:
    """``records/rights.py: _scrub`` on an OpenRosa instance; the roster's entries are the
    ``members`` elements in document order, as the record's list has them."""
    marked: set[str] = set()
    dropped: set[str] = set()
    for role in roles & PERSONAL.keys():
        marked |= set(PERSONAL[role][0])
        dropped |= set(PERSONAL[role][1])
    members = []
    for element in root.iter():
        name = _local(element)
        if name == "members":
            members.append(element)
        elif len(element) == 0 and name in marked:
            element.text = ERASED
        elif len(element) == 0 and name in dropped:
            element.text = None
    for index, member in enumerate(members):
        for element in member.iter():
            if _local(element) in MEMBER_MARKED and (
                index in indexes or fold(element.text or "") in names
            ):
                element.text = ERASED


ERASED_FILE = "erased"  # the name a required file's answer takes: the empty file's, in ``files``


def _scrub_kinds(
    root: Element,
    form: Any,
    roles: set[str],
    names: set[str],
    indexes: set[int],
    held: dict[str, str],
) -> dict[str, str]:
    """The form's files, places and names erased in the XML as ``records/rights.py`` erases
    them in a record's answers (questions matched by their names, as the XML has them);
    returns the files the XML still names."""
    kinds = form_kinds(form)
    top = (ROSTER,)

    def clear(scope: Element, nodes: Any) -> None:
        wanted = {str(n.row.get("name")): n for n in nodes}
        for element in scope.iter():
            node = wanted.get(_local(element))
            if node is None or len(element) or not (element.text or "").strip():
                continue
            if not is_required(node):
                element.text = None
            elif node.type in FILE_TYPES:
                element.text = ERASED_FILE  # a required file: the empty one
            else:
                element.text = ERASED

    def mark(scope: Element, nodes: Any) -> None:
        wanted = {str(n.row.get("name")) for n in nodes}
        for element in scope.iter():
            if _local(element) in wanted and not len(element) and (element.text or "").strip():
                element.text = ERASED

    members = [e for e in root.iter() if _local(e) == ROSTER]
    if "head" in roles:
        clear(root, kinds.files + kinds.places)
        _mark_outside(root, {str(n.row.get("name")) for n in head_names(kinds)})
    if "respondent" in roles:
        clear(root, [n for n in kinds.files if not n.repeats])
    for index, member in enumerate(members):
        named = any(_local(e) in MEMBER_MARKED and (e.text or "") == ERASED for e in member.iter())
        if index in indexes or named:
            clear(member, [n for n in kinds.files + kinds.places if n.repeats[:1] == top])
            mark(member, [n for n in kinds.names if n.repeats[:1] == top])
    named_files = {e.text for e in root.iter() if not len(e) and e.text}
    kept = {name: sha for name, sha in held.items() if name in named_files}
    if ERASED_FILE in named_files:
        kept[ERASED_FILE] = EMPTY_SHA256
    return kept


def _mark_outside(scope: Element, wanted: set[str]) -> None:
    """Mark these names, but not inside the roster's entries (each member's own)."""
    for element in scope:
        if _local(element) == ROSTER:
            continue
        if _local(element) in wanted and not len(element) and (element.text or "").strip():
            element.text = ERASED
        _mark_outside(element, wanted)

"""A person's rights under Law 91/2025, records' and the register's part: find them, export
what is held about them, erase it. The staff pages call it through ``domain/personal_data.py``,
which adds the ODK Collect submissions still waiting (``openrosa/rights.py``).

A person appears in records as the head of household, the respondent, or a member of the
roster, and in the register as a household's head. Staff find the occurrences by name
(accents and case ignored), tick the ones that are this person, then export them (a JSON
file) or erase them. Correcting goes through the ordinary edit page.

Erasing keeps each record's shape — every question still answered, the statistics intact —
and removes the personal answers: names become ``ERASED``, the phone, notes and GPS point go.
It is a new revision made by the staff account, and every older revision of the record (and
the register's row, and the pull feed's copies of it) is scrubbed the same way, so no copy
remains. Stored previews of register imports that list the person are dropped (``forget``).
The erasure reaches the province with the next ``gocua sync push``: rewritten revisions travel
as ``rewrites``, an erased household as an ``erasures`` entry, and the province scrubs its own
copies and feed the same way (``erase_household``). The audit log names who did it, when,
which records, and why — never the name. The caller then runs ``db.purge_erased`` after the
commit, so the name is not left behind in the WAL file either.

Any form, not only the default survey: its definition says which answers are files, places and
names (``form_kinds``). Erasing a record's head (the record is about the household) removes every
file answer (photo, recording, film, document, audit log) and every place (geopoint, line,
shape, start and background point, OpenStreetMap answer), repeats included, and marks the
name questions but the roster's and the respondent's; erasing the respondent removes the files
outside the repeats (a recording of the visit holds their voice) and ``respondent_name``; a member
loses the files and places of their entry of the ``members`` repeat, and its names.
A question the form requires keeps an answer: a name or place becomes ``ERASED``, a file the
empty file (``blobs.EMPTY_SHA256``). The files no longer named go from the disk once the
erasure has committed (``blobs.sweep``, over ``Erasure.files``).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from schemas.form import Form, Node
from schemas.media import FILE_ANSWER_TYPES
from schemas.text import fold, like_pattern
from schemas.validate import ERASED, PLACE_TYPES
from server.domain import answers
from server.domain.blobs import EMPTY_SHA256
from server.domain.db import now_iso
from server.domain.errors import Refused
from server.domain.feeds import by_entity
from server.domain.followups import dicts, feed_copies, send_household
from server.domain.forms import get_form
from server.domain.household_import import forget
from server.domain.records.query import get_record
from server.domain.records.store import new_revision

# Personal answers by the role the person has in a record: (marked ERASED, removed). The
# notes are free text that may name anyone, so they go whoever asks.
PERSONAL = {
    "head": (("head_name", "address"), ("phone", "gps", "notes")),
    "respondent": (("respondent_name",), ("notes",)),
}
MEMBER_MARKED = ("member_name",)
ROLES = ("head", "respondent", "member", "register")
ROSTER = "members"  # the repeat whose entries are the household's people, as in the survey
# An entry of the roster read in SQL (``m``, of ``json_each``): NULL unless it is an object, as
# a repeat's entries are; another question named so (a select_multiple) holds texts, which are
# no JSON to read a name in ("malformed JSON" failed the whole search).
MEMBER = "CASE WHEN m.type = 'object' THEN m.value END"
# A `text` question is a name when a word of its name (split at "_") is one of these: `name`,
# `head_name`, `ten` (tên), `ho_ten`, `ten_chu_ho`. Simple enough for an admin to follow when
# writing a form, and the default survey's names all match.
NAME_WORDS = frozenset({"name", "ten"})


@dataclass
class Erasure:
    """What an erasure touched: record and household ids for the audit log, and the files
    (SHA-256) the erased answers named, for ``blobs.sweep`` once it has committed."""

    touched: list[str] = field(default_factory=list)
    files: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class _Kinds:
    """A form's questions whose answers say who or where: files, places and names."""

    files: tuple[Node, ...]
    places: tuple[Node, ...]
    names: tuple[Node, ...]


def form_kinds(form: Form | None) -> _Kinds:
    if form is None:
        return _Kinds((), (), ())
    # Forms are immutable per version, so the split is made once per Form object.
    cached = getattr(form, "_erasure_kinds", None)
    if cached is None:
        fields = [n for n in form.nodes.values() if n.kind == "field"]
        cached = _Kinds(
            tuple(n for n in fields if n.type in FILE_ANSWER_TYPES),
            tuple(n for n in fields if n.type in PLACE_TYPES),
            tuple(n for n in fields if n.type == "text" and _is_name(n)),
        )
        form._erasure_kinds = cached  # type: ignore[attr-defined]
    return cached


def _roster_names(kinds: _Kinds, member: dict[str, Any]) -> set[str]:
    """A member's names, folded: the survey's ``member_name`` and the form's roster names."""
    keys = {*MEMBER_MARKED, *(n.name for n in kinds.names if n.repeats[:1] == (ROSTER,))}
    return {fold(str(member.get(k) or "")) for k in keys} - {""}


def head_names(kinds: _Kinds) -> tuple[Node, ...]:
    """The names a household head's erasure marks: all but the roster's, each member's own
    (erased with that member), and the respondent's, theirs (erased when they ask)."""
    theirs = PERSONAL["respondent"][0]
    return tuple(n for n in kinds.names if n.repeats[:1] != (ROSTER,) and n.name not in theirs)


def _is_name(node: Node) -> bool:
    return bool(set(str(node.row.get("name") or "").lower().split("_")) & NAME_WORDS)


def is_required(node: Node) -> bool:
    # An expression may hold: the answer is kept answered, as for "yes".
    return node.get("required").lower() not in ("", "no", "false", "false()")


def _holders(scope: Any, repeats: tuple[str, ...], key: str) -> Iterator[dict[str, Any]]:
    """Each object of ``scope`` (down ``repeats``) that holds an answer under ``key``."""
    if not isinstance(scope, dict):
        return
    if not repeats:
        if scope.get(key) not in (None, ""):
            yield scope
        return
    instances = scope.get(repeats[0])
    for instance in instances if isinstance(instances, list) else []:
        yield from _holders(instance, repeats[1:], key)


def _clear(holder: dict[str, Any], node: Node, blank: str, files: set[str]) -> None:
    """Remove one answer; a required one keeps ``blank`` so the record keeps its shape."""
    value = holder[node.name]
    if node.type in FILE_ANSWER_TYPES and isinstance(value, str) and value != EMPTY_SHA256:
        files.add(value)
    if is_required(node):
        holder[node.name] = blank
    else:
        del holder[node.name]


def _blank(node: Node) -> str:
    return EMPTY_SHA256 if node.type in FILE_ANSWER_TYPES else ERASED


def _clear_all(
    scope: dict[str, Any], nodes: Iterator[Node], depth: tuple[str, ...], files: set[str]
) -> None:
    """Clear these answers under ``scope``, an object inside the repeats ``depth``."""
    for node in nodes:
        for holder in list(_holders(scope, node.repeats[len(depth) :], node.name)):
            _clear(holder, node, _blank(node), files)


def _mark_all(scope: dict[str, Any], nodes: Iterator[Node], depth: tuple[str, ...]) -> None:
    for node in nodes:
        for holder in _holders(scope, node.repeats[len(depth) :], node.name):
            holder[node.name] = ERASED


def find(db: sqlite_utils.Database, commune_id: str, query: str) -> list[dict[str, Any]]:
    """Every place a name containing ``query`` appears, in current records and the register."""
    needle = fold(query)
    if len(needle) < 2:
        raise Refused("review.people_query_short")
    like = like_pattern(query)
    parts, params = _form_name_parts(db)
    rows = db.execute(
        "SELECT r.id AS target, 'head' AS role, NULL AS member_index,"
        " json_extract(answers(r.data), '$.head_name') AS name FROM records r"
        " WHERE r.commune_id = :c AND fold(json_extract(answers(r.data), '$.head_name'))"
        "  LIKE :q ESCAPE '\\'"
        " UNION ALL SELECT r.id, 'respondent', NULL,"
        " json_extract(answers(r.data), '$.respondent_name')"
        " FROM records r WHERE r.commune_id = :c"
        "  AND fold(json_extract(answers(r.data), '$.respondent_name')) LIKE :q ESCAPE '\\'"
        f" UNION ALL SELECT r.id, 'member', m.key, json_extract({MEMBER}, '$.member_name')"
        " FROM records r, json_each(answers(r.data), '$.members') m WHERE r.commune_id = :c"
        f"  AND fold(json_extract({MEMBER}, '$.member_name')) LIKE :q ESCAPE '\\'"
        + "".join(parts)
        + " UNION ALL SELECT h.id, 'register', NULL, h.head_name FROM households h"
        " WHERE h.commune_id = :c AND fold(h.head_name) LIKE :q ESCAPE '\\'"
        " LIMIT 500",
        {"c": commune_id, "q": like, **params},
    ).fetchall()
    out, seen = [], set()
    for r in rows:
        role, target, index = r["role"], r["target"], r["member_index"]
        key = f"{role}:{target}:{'' if index is None else index}"
        if r["name"] == ERASED or key in seen:  # two names of one person: one place to tick
            continue
        seen.add(key)
        out.append(
            {
                "key": key,
                "role": role,
                "target": target,
                "index": index,
                "name": r["name"],
                **_where(db, role, target),
            }
        )
    return out


def _form_name_parts(db: sqlite_utils.Database) -> tuple[list[str], dict[str, str]]:
    """The search's parts for the name questions of imported forms that the default survey's
    names above do not cover (``NAME_WORDS``): outside any repeat, one whose name says it is
    the head's (``says_head``), erased as the head, files and places with it; in the roster,
    a member's. Another name (a contact, a village's name, a helper in a repeat of its own) is
    no role's to erase alone: the head's erasure marks it."""
    parts: list[str] = []
    params: dict[str, str] = {}
    for form_id, version in db.execute("SELECT form_id, version FROM forms").fetchall():
        found = get_form(db, form_id, version)
        for node in form_kinds(found[0] if found else None).names:
            if node.name in ("head_name", "respondent_name", "member_name"):
                continue  # searched in every record already
            n = len(params) // 3
            params.update({f"f{n}": form_id, f"v{n}": version, f"p{n}": f'$."{node.name}"'})
            of_form = f" AND r.form_id = :f{n} AND r.form_version = :v{n}"
            if not node.repeats:
                if not says_head(node.name):
                    continue  # a contact, a village's name: erasing "the head" would be wrong
                parts.append(
                    f" UNION ALL SELECT r.id, 'head', NULL, json_extract(answers(r.data), :p{n})"
                    f" FROM records r WHERE r.commune_id = :c{of_form}"
                    f"  AND fold(json_extract(answers(r.data), :p{n})) LIKE :q ESCAPE '\\'"
                )
            elif node.repeats == (ROSTER,):
                parts.append(
                    f" UNION ALL SELECT r.id, 'member', m.key, json_extract({MEMBER}, :p{n})"
                    f" FROM records r, json_each(answers(r.data), '$.{ROSTER}') m"
                    f" WHERE r.commune_id = :c{of_form}"
                    f"  AND fold(json_extract({MEMBER}, :p{n})) LIKE :q ESCAPE '\\'"
                )
    return parts, params


def says_head(name: str) -> bool:
    """Whether a name question outside any repeat is the household head's: its name has
    ``head``, or ``chu`` and ``ho`` (chủ hộ)."""
    words = set(name.lower().split("_"))
    return "head" in words or {"chu", "ho"} <= words  # chủ hộ


def _where(db: sqlite_utils.Database, role: str, target: str) -> dict[str, Any]:
    if role == "register":
        row = db.execute(
            "SELECT v.name AS village, h.code AS household_code,"
            " h.address AS detail FROM households h JOIN villages v"
            " ON v.id = h.village_id WHERE h.id = ?",
            [target],
        ).fetchone()
        return {**dict(row), "visit_date": None}
    row = db.execute(
        "SELECT v.name AS village, h.code AS household_code, r.visit_date,"
        " json_extract(answers(r.data), '$.address') AS detail"
        " FROM records r JOIN villages v ON v.id = r.village_id LEFT JOIN"
        " households h ON h.id = r.household_id WHERE r.id = ?",
        [target],
    ).fetchone()
    return dict(row)


def parse_keys(commune_id: str, db: sqlite_utils.Database, keys: list[str]) -> list[dict[str, Any]]:
    """The ticked occurrences, each checked to belong to this commune."""
    out = []
    for key in dict.fromkeys(keys):
        role, _, rest = key.partition(":")
        target, _, index = rest.partition(":")
        if role not in ROLES or not target or (index and not (index.isascii() and index.isdigit())):
            raise Refused("review.people_bad_selection")
        table = "households" if role == "register" else "records"
        if not db.execute(
            f"SELECT 1 FROM {table} WHERE id = ? AND commune_id = ?", [target, commune_id]
        ).fetchone():
            raise Refused("review.people_bad_selection")
        out.append({"role": role, "target": target, "index": int(index) if index else None})
    if not out:
        raise Refused("review.people_nothing_selected")
    return out


def part(data: dict[str, Any], role: str, index: int | None) -> dict[str, Any] | None:
    """The answers about this person in one version of a record."""
    if role == "member":
        members = data.get("members") if isinstance(data.get("members"), list) else []
        if index is None or index >= len(members) or not isinstance(members[index], dict):
            return None
        support = [
            s
            for s in data.get("support") or []
            if isinstance(s, dict) and s.get("support_member") == index + 1
        ]
        return {"member": members[index], "support_given": support}
    return {k: v for k, v in data.items() if not isinstance(v, list)}


def export(
    db: sqlite_utils.Database, commune_id: str, selected: list[dict[str, Any]]
) -> dict[str, Any]:
    """Everything held about the person in the ticked places, every revision included."""
    items = []
    for sel in selected:
        if sel["role"] == "register":
            row = db.execute(
                "SELECT h.id AS household_id, h.code, h.head_name, h.address,"
                " v.name AS village, h.created_at AS listed_at"
                " FROM households h JOIN villages v ON v.id = h.village_id"
                " WHERE h.id = ?",
                [sel["target"]],
            ).fetchone()
            items.append({"kind": "household_register", **dict(row)})
            continue
        items.append(_export_record(db, sel))
    return {
        "format": "gocua-person-export",
        "version": 1,
        "exported_at": now_iso(),
        "commune_id": commune_id,
        "controller": "Ủy ban nhân dân xã / Commune People's Committee",
        "items": items,
    }


def _export_record(db: sqlite_utils.Database, sel: dict[str, Any]) -> dict[str, Any]:
    record = db.execute(
        "SELECT r.id, r.form_id, r.form_version, r.visit_date, r.received_at, v.name AS village,"
        " h.code AS household_code, u.display_name AS volunteer"
        " FROM records r JOIN villages v ON v.id = r.village_id"
        " LEFT JOIN households h ON h.id = r.household_id LEFT JOIN users u ON u.id = r.user_id"
        " WHERE r.id = ?",
        [sel["target"]],
    ).fetchone()
    revisions = []
    for r in db.execute(
        "SELECT rev, status, received_at, data FROM revisions WHERE record_id = ?"
        " ORDER BY received_at, rowid",
        [sel["target"]],
    ):
        revisions.append(
            {
                "rev": r["rev"],
                "status": r["status"],
                "received_at": r["received_at"],
                "answers": part(answers.load(r["data"]), sel["role"], sel["index"]),
            }
        )
    comments = [
        dict(r)
        for r in db.execute(
            "SELECT review_state, comment, at FROM reviews WHERE record_id = ? ORDER BY id",
            [sel["target"]],
        )
    ]
    return {
        "kind": "survey_record",
        "record_id": record["id"],
        "role": sel["role"],
        "member_number": None if sel["index"] is None else sel["index"] + 1,
        "form": f"{record['form_id']} {record['form_version']}",
        "visit_date": record["visit_date"],
        "received_at": record["received_at"],
        "village": record["village"],
        "household_code": record["household_code"],
        "volunteer": record["volunteer"],
        "revisions": revisions,
        "review_comments": comments,
    }


def _scrub(
    data: dict[str, Any],
    roles: set[str],
    names: set[str],
    indexes: set[int],
    form: Form | None = None,
    files: set[str] | None = None,
) -> dict[str, Any]:
    """``data`` without this person's personal answers (its shape kept); the files the
    removed answers named are added to ``files``."""
    data = copy.deepcopy(data)
    files = set() if files is None else files
    kinds = form_kinds(form)
    for role in roles & PERSONAL.keys():
        marked, dropped = PERSONAL[role]
        for key in marked:
            if key in data:
                data[key] = ERASED
        for key in dropped:
            data.pop(key, None)
    top = (ROSTER,)
    if "head" in roles:
        _clear_all(data, iter(kinds.files + kinds.places), (), files)
        _mark_all(data, iter(head_names(kinds)), ())
    if "respondent" in roles:
        _clear_all(data, (n for n in kinds.files if not n.repeats), (), files)
    members = data.get(ROSTER) if isinstance(data.get(ROSTER), list) else []
    for index, member in enumerate(members):
        if not isinstance(member, dict):
            continue
        # In older revisions the roster may be in another order: the name finds them too.
        if index in indexes or _roster_names(kinds, member) & names:
            for key in MEMBER_MARKED:
                if key in member:
                    member[key] = ERASED
            mine = [n for n in kinds.files + kinds.places if n.repeats[:1] == top]
            _clear_all(member, iter(mine), top, files)
            _mark_all(member, (n for n in kinds.names if n.repeats[:1] == top), top)
    return data


def erase(
    db: sqlite_utils.Database,
    staff: dict[str, Any],
    commune_id: str,
    selected: list[dict[str, Any]],
) -> Erasure:
    """Erase the ticked occurrences (inside the caller's transaction); returns the record
    and household ids touched, for the audit log, and the files the erased answers named."""
    by_record: dict[str, dict[str, Any]] = {}
    for sel in selected:
        if sel["role"] == "register":
            continue
        entry = by_record.setdefault(
            sel["target"], {"roles": set(), "indexes": set(), "names": set()}
        )
        entry["roles"].add(sel["role"])
        if sel["index"] is not None:
            entry["indexes"].add(sel["index"])
    done, names = Erasure(), set()
    for record_id, entry in by_record.items():
        names |= _erase_record(db, staff, commune_id, record_id, entry, done.files)
        done.touched.append(record_id)
    for sel in selected:
        if sel["role"] == "register":
            names |= _erase_household(db, sel["target"])
            done.touched.append(sel["target"])
    # A stored import preview is a working copy of a file the admin still holds: dropped
    # whole, never scrubbed (a scrubbed pending row could be applied as a "[đã xóa]" head).
    forget(db, commune_id, names)
    return done


def _erase_record(
    db: sqlite_utils.Database,
    staff: dict[str, Any],
    commune_id: str,
    record_id: str,
    entry: dict[str, Any],
    files: set[str],
) -> set[str]:
    """Scrub one record everywhere; returns the erased names, folded, and adds the files
    the erased answers named to ``files``."""
    record = get_record(db, commune_id, record_id)
    assert record is not None
    members = record["data"].get("members") or []
    kinds = form_kinds(record["form"])
    entry["names"] = set().union(
        *(
            _roster_names(kinds, members[i])
            for i in entry["indexes"]
            if i < len(members) and isinstance(members[i], dict)
        )
    )
    erased = set(entry["names"])
    for role in entry["roles"] & PERSONAL.keys():
        erased |= {
            fold(str(record["data"].get(k) or "")) for k in PERSONAL[role][0] if k.endswith("_name")
        }
    form = record["form"]

    def scrub(data: dict[str, Any], of: Form | None = form) -> dict[str, Any]:
        return _scrub(data, entry["roles"], entry["names"], entry["indexes"], of, files)

    # The revisions the erasure scrubs: an edit a phone based on one of them and had not sent
    # yet is scrubbed the same way when it comes (``after_erasures``).
    scrubbed_revs = [
        r[0] for r in db.execute("SELECT rev FROM revisions WHERE record_id = ?", [record_id])
    ]
    scrubbed = scrub(record["data"])
    if scrubbed != record["data"]:
        new_revision(db, staff, record, scrubbed, "")
    else:
        # Nothing of the person in the current answers (erased before): an edit based on them
        # is as clean as they are.
        scrubbed_revs.remove(record["rev"])
    _remember(db, record_id, entry["roles"], scrubbed_revs)
    forms: dict[tuple[str, str], Form | None] = {(record["form_id"], record["form_version"]): form}
    for rev, data, form_id, version in db.execute(
        "SELECT rev, data, form_id, form_version FROM revisions WHERE record_id = ?", [record_id]
    ).fetchall():
        # A revision names its form version (an older one may have been made with another).
        key = (form_id or record["form_id"], version or record["form_version"])
        if key not in forms:
            found = get_form(db, *key)
            forms[key] = found[0] if found else None
        old = answers.load(data)
        # Indexes too: over-erasing an older roster beats leaving a renamed person in it.
        clean = scrub(old, forms[key])
        if clean != old:
            db.execute(
                "UPDATE revisions SET data = ? WHERE record_id = ? AND rev = ?",
                [answers.pack(clean), record_id, rev],
            )
    # An office correction travels to the phone with its answers: scrub those copies too.
    for seq, payload in by_entity(db, "review", record_id):
        change = json.loads(payload)
        if isinstance(change.get("data"), dict):
            clean = scrub(change["data"])
            if clean != change["data"]:
                change["data"] = clean
                db.execute(
                    "UPDATE changes SET payload = ? WHERE seq = ?",
                    [json.dumps(change, ensure_ascii=False, separators=(",", ":")), seq],
                )
    if "head" in entry["roles"] and record["household_id"]:
        erased |= _erase_household(db, record["household_id"])
    return erased - {"", fold(ERASED)}


# The roles ``record_erasures`` keeps (``register`` is the household's row, not a record's).
ERASED_ROLES = frozenset(ROLES) - {"register"}


def after_erasures(
    db: sqlite_utils.Database,
    record_id: str,
    base_rev: str | None,
    data: dict[str, Any],
    form: Form,
) -> tuple[dict[str, Any], set[str], set[str]] | None:
    """A pushed revision of an erased record that its phone based on a revision the erasure
    scrubbed (or on none the server holds): the phone held the person's answers through the
    erasure, so they are erased from it again, with the same roles; returns its answers so,
    the files the erased answers named, and the roles. None when no erasure concerns it.

    No name is kept to find an erased member by: the roster on the phone may have changed
    order, so every member the record's current answers do not name is erased in it (the
    erased member is ``ERASED`` there), someone the phone added or renamed too. The revision
    is a conflict kept beside the current one for the office; the phone keeps its own."""
    erasures = db.execute(
        "SELECT roles, revs FROM record_erasures WHERE record_id = ?", [record_id]
    ).fetchall()
    if not erasures:
        return None
    unknown = base_rev is None or not _stored(db, record_id, base_rev)
    roles: set[str] = set()
    for held, revs in erasures:
        if unknown or base_rev in json.loads(revs):
            roles |= set(json.loads(held))
    if not roles:
        return None
    names: set[str] = set()
    if "member" in roles:
        kinds = form_kinds(form)
        row = db.execute("SELECT data FROM records WHERE id = ?", [record_id]).fetchone()
        named = set().union(
            *(_roster_names(kinds, m) for m in dicts(answers.load(row[0]).get(ROSTER)))
        )
        names = set().union(*(_roster_names(kinds, m) for m in dicts(data.get(ROSTER)))) - named
    files: set[str] = set()
    return _scrub(data, roles, names, set(), form, files), files, roles


def held_through(db: sqlite_utils.Database, record_id: str, rev: str, roles: set[str]) -> None:
    """``rev``, a revision ``after_erasures`` scrubbed, is stored: its sender still holds the
    person's answers, and an edit it bases on ``rev`` is scrubbed the same way."""
    _remember(db, record_id, roles, [rev])


def _remember(db: sqlite_utils.Database, record_id: str, roles: set[str], revs: list[str]) -> None:
    db.execute(
        "INSERT INTO record_erasures (record_id, roles, revs, erased_at) VALUES (?, ?, ?, ?)",
        [record_id, json.dumps(sorted(roles & ERASED_ROLES)), json.dumps(revs), now_iso()],
    )


def _stored(db: sqlite_utils.Database, record_id: str, rev: str) -> bool:
    return bool(
        db.execute(
            "SELECT 1 FROM revisions WHERE record_id = ? AND rev = ?", [record_id, rev]
        ).fetchone()
    )


def _erase_household(db: sqlite_utils.Database, household_id: str) -> set[str]:
    """Scrub a household's row and feed copies, and have the erasure sent upstream; returns
    the head's folded name."""
    row = db.execute("SELECT head_name FROM households WHERE id = ?", [household_id]).fetchone()
    erase_household(db, household_id)
    # The outbox's triggers send the row as it is now; the province must also scrub the
    # copies its own feed keeps, so the erasure itself travels (replication.py: erasures).
    db.execute(
        "INSERT INTO outbox (kind, entity_id, commune_id) SELECT 'household_erased',"
        " id, commune_id FROM households WHERE id = ?",
        [household_id],
    )
    return {fold(row[0])} - {"", fold(ERASED)} if row and row[0] else set()


def erase_household(db: sqlite_utils.Database, household_id: str) -> None:
    """A household's head name and address erased in its row and every pull-feed copy, then
    the erased row sent to phones. Also how a province applies a commune's erasure."""
    db.execute(
        "UPDATE households SET head_name = ?, address = ?, updated_at = ? WHERE id = ?",
        [ERASED, ERASED, now_iso(), household_id],
    )
    # Phones that pull from the start must not find the old name in the feed either.
    for seq, payload in feed_copies(db, household_id):
        data = json.loads(payload)
        data.update({k: ERASED for k in ("head_name", "address") if k in data})
        db.execute(
            "UPDATE changes SET payload = ? WHERE seq = ?",
            [json.dumps(data, ensure_ascii=False, separators=(",", ":")), seq],
        )
    send_household(db, household_id)

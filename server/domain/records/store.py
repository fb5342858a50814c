"""Review decisions and staff-made revisions: the writes of the review workspace.

A decision (received / has issues / approved / rejected, with a comment) is kept in ``reviews``
and sent to the phones of the volunteers who sent the record's revisions — a ``review`` change
with ``user_id`` set, so that nobody else's phone pulls it. A settled conflict is told to them
too, whether or not it made a new revision. A staff revision (an edit, a resolved
conflict, an erasure) is a new current revision made by the staff account, with no device.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, NamedTuple

import sqlite_utils

from server.domain import answers
from server.domain.db import now_iso
from server.domain.errors import Refused
from server.domain.feeds import record_change
from server.domain.followups import Known, Said, refresh_household, said_by
from server.domain.migrations import RECORD_FACTS_OF
from server.domain.register import (
    add_household,
    clean_name,
)
from sync.protocol import (
    APPLIED,
    CONFLICT,
    MAX_ADDRESS,
    MAX_HEAD_NAME,
)

# States a reviewer sets by hand; "edited" comes from a staff revision.
DECISIONS = ("received", "has_issues", "approved", "rejected")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# Columns of a record that follow its current revision (and who last sent it, and its state).
_CURRENT_COLUMNS = frozenset(
    {
        "data",
        "meta",
        "form_id",
        "form_version",
        "village_id",
        "household_id",
        "device_id",
        "user_id",
        "review_state",
    }
)


def make_current(
    db: sqlite_utils.Database, record_id: str, rev: str, values: dict[str, Any], now: str
) -> None:
    """The one place a record's current revision changes (a phone's push, an office edit, a
    commune server's state): the revision that was current is superseded, and the record's
    row takes ``rev`` with ``values`` (``data`` packed by ``answers.pack``, ``meta`` JSON
    text). The caller writes the
    new revision as ``current``, or promotes a stored one (``promote``)."""
    unknown = set(values) - _CURRENT_COLUMNS
    if unknown:
        raise ValueError(f"not a column of the current revision: {sorted(unknown)}")
    db.execute(
        "UPDATE revisions SET status = 'superseded' WHERE record_id = ?"
        " AND status = 'current' AND rev != ?",
        [record_id, rev],
    )
    columns = ", ".join(f"{name} = ?" for name in values)
    db.execute(
        f"UPDATE records SET rev = ?, {columns}, updated_at = ? WHERE id = ?",
        [rev, *values.values(), now, record_id],
    )


def promote(db: sqlite_utils.Database, record_id: str, rev: str) -> bool:
    """Make a revision the server already holds current again (a commune server says which
    one is); False when it does not hold it yet."""
    revision = db.execute(
        "SELECT v.data, v.meta, coalesce(v.form_id, r.form_id) AS form_id,"
        " coalesce(v.form_version, r.form_version) AS form_version,"
        " coalesce(v.village_id, r.village_id) AS village_id,"
        " coalesce(v.household_id, r.household_id) AS household_id FROM revisions v"
        " JOIN records r ON r.id = v.record_id WHERE v.record_id = ? AND v.rev = ?",
        [record_id, rev],
    ).fetchone()
    if revision is None:
        return False
    make_current(db, record_id, rev, dict(revision), now_iso())
    db.execute(
        "UPDATE revisions SET status = 'current' WHERE record_id = ? AND rev = ?", [record_id, rev]
    )
    return True


def set_review_state(db: sqlite_utils.Database, record_id: str, state: str) -> None:
    """A review state decided elsewhere (on the commune server that replicates here)."""
    db.execute(
        "UPDATE records SET review_state = ?, updated_at = ? WHERE id = ?",
        [state, now_iso(), record_id],
    )


def mark_resolved(
    db: sqlite_utils.Database,
    commune_id: str,
    record_id: str,
    rev: str,
    resolution: str,
    resolved_at: str,
) -> None:
    """A conflict settled elsewhere (on the commune server that replicates here): its copy
    here is marked settled, by nobody of this server."""
    db.execute(
        "UPDATE revisions SET resolved_at = ?, resolution = ? WHERE record_id = ? AND rev = ?"
        " AND status = 'conflict' AND resolved_at IS NULL"
        " AND record_id IN (SELECT id FROM records WHERE commune_id = ?)",
        [resolved_at, resolution, record_id, rev, commune_id],
    )


def rewrite_answers(
    db: sqlite_utils.Database, commune_id: str, record_id: str, rev: str, data: dict[str, Any]
) -> None:
    """Answers erased in place elsewhere (a person's right to deletion), erased here too: in
    the revision, and in the record when that revision is current."""
    # Compared as JSON text: the same answers packed by another zlib need not be the same bytes.
    encoded, packed = answers.dumps(data), answers.pack(data)
    changed = db.execute(
        "UPDATE revisions SET data = ? WHERE record_id = ? AND rev = ? AND answers(data) != ?"
        " AND record_id IN (SELECT id FROM records WHERE commune_id = ?)",
        [packed, record_id, rev, encoded, commune_id],
    ).rowcount
    if changed:
        db.execute(
            "UPDATE records SET data = ?, updated_at = ? WHERE id = ? AND rev = ?",
            [packed, now_iso(), record_id, rev],
        )


def decide(
    db: sqlite_utils.Database,
    staff: dict[str, Any],
    record: dict[str, Any],
    state: str,
    comment: str,
    rev: str,
) -> dict[str, Any]:
    """Record a reviewer's decision on the current revision (inside the caller's
    transaction). ``rev`` is the revision the reviewer read: a decision on a revision that
    has since been replaced is refused, so nobody approves what they did not see."""
    comment = comment.strip()
    if state not in DECISIONS:
        raise Refused("review.error_state")
    if state in ("has_issues", "rejected") and not comment:
        raise Refused("review.error_comment_needed")
    if len(comment) > 2000:
        raise Refused("review.error_comment_long")
    if rev != record["rev"]:
        raise Refused("review.error_stale", status=409)
    return _write_review(db, staff, record, record["rev"], state, comment)


def _write_review(
    db: sqlite_utils.Database,
    staff: dict[str, Any],
    record: dict[str, Any],
    rev: str,
    state: str,
    comment: str,
    resolved: dict[str, Any] | None = None,
) -> dict[str, Any]:
    at = now_iso()
    db.execute(
        "INSERT INTO reviews (record_id, rev, review_state, comment, user_id, username,"
        " display_name, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            record["id"],
            rev,
            state,
            comment,
            staff["id"],
            staff["username"],
            staff["display_name"],
            at,
        ],
    )
    db.execute(
        "UPDATE records SET review_state = ?, updated_at = ? WHERE id = ?",
        [state, at, record["id"]],
    )
    payload = {
        "record_id": record["id"],
        "rev": rev,
        "review_state": state,
        "comment": comment,
        "by": staff["display_name"],
        "at": at,
    }
    if state == "edited":
        # The office changed the answers: the phone takes this version as its own copy.
        payload["data"] = _current_data(db, record["id"])
    _tell_phones(db, record, payload, resolved)
    return payload


def _current_data(db: sqlite_utils.Database, record_id: str) -> Any:
    return answers.load(
        db.execute("SELECT data FROM records WHERE id = ?", [record_id]).fetchone()[0]
    )


def _tell_phones(
    db: sqlite_utils.Database,
    record: dict[str, Any],
    payload: dict[str, Any],
    resolved: dict[str, Any] | None,
) -> None:
    """A ``review`` change for the phones of every volunteer who sent a revision of the record:
    the one who sent the current revision, and one whose revision conflicted (another
    volunteer, or another phone of the same one) -- each holds a copy whose fate the office
    decides. Nobody else's phone pulls it (``user_id`` on the change)."""
    users = [record.get("user_id")]
    if resolved is not None:
        payload["resolved"] = {"rev": resolved["rev"], "resolution": resolved["resolution"]}
        users.append(resolved.get("user_id"))
    users += [
        r[0]
        for r in db.execute(
            "SELECT DISTINCT user_id FROM revisions WHERE record_id = ?"
            " AND device_id IS NOT NULL AND user_id IS NOT NULL",
            [record["id"]],
        )
    ]
    for user_id in dict.fromkeys(u for u in users if u is not None):
        record_change(
            db,
            "review",
            record["id"],
            payload,
            commune_id=record["commune_id"],
            village_id=record["village_id"],
            user_id=user_id,
        )


def tell_resolution(
    db: sqlite_utils.Database,
    staff: dict[str, Any],
    record: dict[str, Any],
    resolved: dict[str, Any],
) -> dict[str, Any]:
    """A conflict settled by keeping the current revision: no new revision and no new review
    decision, but both phones learn of it -- the current answers and state, and which conflict
    revision was settled how -- so the phone whose revision lost stops showing a conflict and
    follows the record's later decisions. (A collector from before ``resolved`` takes ``data``
    and ``rev`` as it takes an office edit: it, too, leaves the conflict.)"""
    payload = {
        "record_id": record["id"],
        "rev": record["rev"],
        "review_state": record["review_state"],
        "comment": "",
        "by": staff["display_name"],
        "at": now_iso(),
        "data": _current_data(db, record["id"]),
    }
    _tell_phones(db, record, payload, resolved)
    return payload


def new_revision(
    db: sqlite_utils.Database,
    staff: dict[str, Any],
    record: dict[str, Any],
    data: dict[str, Any],
    comment: str = "",
    resolved: dict[str, Any] | None = None,
) -> str:
    """Store ``data`` as the record's new current revision made by ``staff`` (based on the
    current one), mark the record edited and tell the volunteer's phones (and, settling a
    conflict, ``resolved``: ``{rev, resolution, user_id}``, those of the conflict's sender).
    Returns the rev."""
    rev, now = str(uuid.uuid4()), now_iso()
    # The record stays the volunteer's (user_id, device_id): the revision says who edited.
    packed = answers.pack(data)
    make_current(db, record["id"], rev, {"data": packed}, now)
    db["revisions"].insert(
        {
            "record_id": record["id"],
            "rev": rev,
            "base_rev": record["rev"],
            "status": "current",
            "data": packed,
            "meta": _dumps(record["meta"]),
            "device_id": None,
            "user_id": staff["id"],
            "received_at": now,
            "form_id": record["form_id"],
            "form_version": record["form_version"],
            "village_id": record["village_id"],
            "household_id": record["household_id"],
        }
    )
    _write_review(db, staff, record, rev, "edited", comment.strip(), resolved)
    refresh_household(db, record.get("household_id"))
    return rev


# The list's facts of a record: outcome, needs help (0 or 1), visit date (list_facts).
Facts = tuple[str | None, int, str]


class Encoded(NamedTuple):
    """A pushed record as ``store_pushed`` writes it, worked out from its answers and meta
    alone (``encode_pushed``)."""

    text: str  # the answers as JSON text (the SQL's facts of an odd shape read it)
    packed: bytes  # the answers as the column holds them
    meta: str  # the meta as JSON text
    facts: Facts | None  # None: left to the write (they hang on its time, or on SQL)
    said: Said | None  # the follow-up its answers call for, when it names a household


def encode_pushed(record: dict[str, Any], data_text: str | None = None) -> Encoded:
    """A pushed record's answers and meta as ``store_pushed`` writes them; ``data_text``: the
    answers as ``answers.dumps`` writes them, when the caller has it already. Pure: a push
    does it before the write lock, so that the lock's holder only writes."""
    data, meta = record["data"], record["meta"]
    text = data_text if data_text is not None else answers.dumps(data)
    # A visit date comes from the meta, else from the time the record arrives: only the
    # first is known before the write.
    dated = type(meta) is dict and (
        meta.get("visit_date") is not None or meta.get("started_at") is not None
    )
    facts = list_facts(data, meta, "") if dated else None
    said = said_by(data) if record.get("household_id") else None
    return Encoded(text, answers.pack(text), _dumps(meta), facts, said)


def store_pushed(
    db: sqlite_utils.Database,
    caller: dict[str, Any],
    record: dict[str, Any],
    current_rev: str | None,
    household_known: bool,
    now: str,
    encoded: Encoded | None = None,
    known: Known | None = None,
) -> dict[str, Any]:
    """Write a checked record a phone or a commune server pushed: its revision, and the
    record's current state unless someone changed it since the sender's copy (a conflict,
    kept beside the current one for a reviewer). The push path: plain INSERTs. ``encoded``:
    the record as ``encode_pushed`` gives it, when the caller has it already; ``known``:
    what the caller read of the record's household before writing (``known_households``)."""
    rid, rev = record["id"], record["rev"]
    household_id = record["household_id"]
    if household_id and not household_known:
        # A household met on the lane: the phone made its id; it joins the register.
        add_household(db, record["village_id"], *_lane_household(record), household_id=household_id)
    encoded = encoded if encoded is not None else encode_pushed(record)
    data, meta = encoded.packed, encoded.meta
    conflict = current_rev is not None and current_rev != record["base_rev"]
    if not conflict:
        visit_date = _write_pushed(db, caller, record, encoded, current_rev is None, now)
        # A visit can put a household on (or take it off) the follow-up list.
        refresh_household(
            db,
            household_id,
            visit=(rid, record["data"]),
            known=known,
            key=(visit_date, now, rid) if visit_date is not None else None,
            said=encoded.said,
            now=now,
        )
    # Plain INSERTs: this is the hot path of every sync.
    db.execute(
        "INSERT INTO revisions (record_id, rev, base_rev, status, data, meta, device_id,"
        " user_id, received_at, form_id, form_version, village_id, household_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            rid,
            rev,
            record["base_rev"],
            "conflict" if conflict else "current",
            data,
            meta,
            caller["id"],
            caller["user_id"],
            now,
            record["form_id"],
            record["form_version"],
            record["village_id"],
            household_id,
        ],
    )
    if conflict:
        # Someone else changed the record since this phone's copy: the server's version
        # stays current, the phone's is kept beside it for a reviewer. Nothing is lost.
        return {"id": rid, "rev": rev, "status": CONFLICT, "server_rev": current_rev}
    return {"id": rid, "rev": rev, "status": APPLIED}


def _lane_household(record: dict[str, Any]) -> tuple[str, str]:
    """The head's name and the address of a household met on the lane: as the volunteer typed
    them in *Thêm hộ mới* (the record's ``household``), each else from the visit's answers (an
    older phone; only a completed visit asks them). Cleaned and bounded as the register's."""
    typed, answers = record.get("household") or {}, record["data"]

    def text(name: str, limit: int) -> str:
        for source in (typed, answers):
            value = source.get(name)
            if isinstance(value, str) and clean_name(value):
                return clean_name(value)[:limit]
        return ""

    return text("head_name", MAX_HEAD_NAME), text("address", MAX_ADDRESS)


def _write_pushed(
    db: sqlite_utils.Database,
    caller: dict[str, Any],
    record: dict[str, Any],
    encoded: Encoded,
    new: bool,
    now: str,
) -> str | None:
    """The record's row, inserted or made current; returns its visit date when it is a new
    row whose list facts were worked out here (None: left to SQL)."""
    data, text, meta = encoded.packed, encoded.text, encoded.meta
    values = [
        record["rev"],
        record["village_id"],
        record["household_id"],
        record["form_id"],
        record["form_version"],
        data,
        meta,
        caller["id"],
        caller["user_id"],
        now,
    ]
    if new:
        # The list's facts come with the row: the trigger would update the row just written
        # (and its list indexes) after unpacking its answers three times (migration m016).
        facts = encoded.facts or list_facts(record["data"], record["meta"], now)
        if facts is not None:
            db.execute(
                "INSERT INTO records (rev, village_id, household_id, form_id, form_version,"
                " data, meta, device_id, user_id, updated_at, id, commune_id, received_at,"
                " review_state, outcome, needs_help, visit_date)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'received', ?, ?, ?)",
                [*values, record["id"], caller["commune_id"], now, *facts],
            )
            return facts[2]
        # Answers of another shape: the trigger's own expressions, over the JSON text in hand.
        db.execute(
            "INSERT INTO records (rev, village_id, household_id, form_id, form_version,"
            " data, meta, device_id, user_id, updated_at, id, commune_id, received_at,"
            " review_state, outcome, needs_help, visit_date)"
            f" SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'received', {RECORD_FACTS_OF}"
            " FROM (SELECT ? AS data, ? AS meta, ? AS received_at) AS given",
            [*values, record["id"], caller["commune_id"], now, text, meta, now],
        )
        return None
    # A peer's record keeps the volunteer who made it on the sender: no device here.
    make_current(
        db,
        record["id"],
        record["rev"],
        {
            "village_id": record["village_id"],
            "household_id": record["household_id"],
            "form_id": record["form_id"],
            "form_version": record["form_version"],
            "data": data,
            "meta": meta,
            "device_id": caller["id"],
            "user_id": caller["user_id"],
            "review_state": "received",
        },
        now,
    )
    return None


def list_facts(data: dict[str, Any], meta: dict[str, Any], received_at: str) -> Facts | None:
    """The list's facts of a record (outcome, needs help, visit date) as the SQL of migration
    m003 (``RECORD_FACTS_OF``) gives them, worked out from the answers in hand: parsing their
    JSON three times in SQL cost a quarter of the record's INSERT. Only for the shapes a
    checked household visit has (text, lists of objects, lists of text); None for any other,
    whose facts the SQL then works out, with every JSON rule of its own."""
    if type(data) is not dict or type(meta) is not dict:
        return None
    outcome, visit_date, started_at = data.get("outcome"), meta.get("visit_date"), None
    if not _plain_text(outcome) or not _plain_text(visit_date):
        return None
    if visit_date is None:
        started_at = meta.get("started_at")
        if not _plain_text(started_at):
            return None
    members, support = data.get("members"), data.get("support")
    if not _objects(members) or not _objects(support):
        return None
    needs_help = False
    for member in members or ():
        topics = member.get("needs_help")
        if topics is None:
            continue
        if type(topics) is not list or not all(_plain_text(t) and t is not None for t in topics):
            return None
        needs_help = needs_help or any(t != "none" for t in topics)
    for entry in support or ():
        result = entry.get("support_result")
        if not _plain_text(result):
            return None
        needs_help = needs_help or result == "revisit"
    if visit_date is None:
        visit_date = (started_at if started_at is not None else received_at)[:10]
    return outcome, int(needs_help), visit_date


def _plain_text(value: Any) -> bool:
    # NUL would end SQLite's text early in places; JSON's other values have rules of their own.
    return value is None or (type(value) is str and "\x00" not in value)


def _objects(value: Any) -> bool:
    return value is None or (type(value) is list and all(type(v) is dict for v in value))

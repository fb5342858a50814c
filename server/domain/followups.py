"""Households to visit again, from the answers of their latest visit, and how phones learn them.

A household needs another visit when its latest visit (by visit date, then arrival) ended with
*come back later* (``revisit_date``), *nobody home*, or was completed while a member asked for
help (``needs_help`` other than *none*) or support was left for another visit
(``support_result = revisit``, ``support_revisit_date``). Refused and empty houses do not.

Phones learn it through the pull feed: a ``household`` change whose ``data`` carries
``followup`` — ``{"reason", "date", "topics"}`` or ``null`` — sent only when it changes.
``refresh_household()`` must run in the transaction of every write that can change it: the
staff site calls it itself; the push path calls it after storing a record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from server.domain import answers
from server.domain.db import now_iso
from server.domain.feeds import by_entity, record_change, replace_put
from server.domain.forms import get_form

REASONS = ("come_back", "nobody_home", "needs_help")


def followup_of(data: dict[str, Any]) -> dict[str, Any] | None:
    """The follow-up one visit's answers call for, or None."""
    outcome = data.get("outcome")
    if outcome == "come_back":
        return {"reason": "come_back", "date": data.get("revisit_date") or None, "topics": []}
    if outcome == "nobody_home":
        return {"reason": "nobody_home", "date": None, "topics": []}
    if outcome != "completed":
        return None
    topics: list[str] = []
    for member in dicts(data.get("members")):
        for topic in _topics(member.get("needs_help")):
            if topic != "none" and topic not in topics:
                topics.append(topic)
    dates = sorted(
        str(s.get("support_revisit_date"))
        for s in dicts(data.get("support"))
        if s.get("support_result") == "revisit" and s.get("support_revisit_date")
    )
    revisit = any(s.get("support_result") == "revisit" for s in dicts(data.get("support")))
    if not topics and not revisit:
        return None
    return {"reason": "needs_help", "date": dates[0] if dates else None, "topics": topics}


def _topics(value: Any) -> list[str]:
    """A member's help topics: the names of a select_multiple (a list), as the phone reads
    them (pwa/js/records.js: needsHelp); anything else a form's own question may hold there
    (a number, a text) names none."""
    return [t for t in value if isinstance(t, str)] if isinstance(value, list) else []


def dicts(value: Any) -> list[dict[str, Any]]:
    """The objects of a list answer (a repeat's entries); none of anything else."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


# A record's id and its answers, known to the caller (the push path has just stored them).
Visit = tuple[str, dict[str, Any]]


def latest_visit(
    db: sqlite_utils.Database, household_id: str, known: Visit | None = None
) -> dict[str, Any] | None:
    row = db.execute(
        "SELECT id, data, visit_date, form_id, form_version FROM records WHERE household_id = ?"
        " ORDER BY visit_date DESC, received_at DESC, id DESC LIMIT 1",
        [household_id],
    ).fetchone()
    if row is None:
        return None
    if known is not None and row["id"] == known[0]:
        # The visit just stored is the latest (nearly always): its answers are in hand, not
        # to be unpacked and parsed back.
        return {**dict(row), "data": known[1]}
    return {**dict(row), "data": answers.load(row["data"])}


def topic_labels(
    db: sqlite_utils.Database, form_id: str, version: str, topics: list[str], lang: str
) -> list[str]:
    """The help topics in the words of the form the visit used (phones label them too)."""
    found = get_form(db, form_id, version)
    node = found[0].nodes.get("needs_help") if found else None
    if not found or node is None or not node.list_name:
        return list(topics)
    return [found[0].choice_label(node.list_name, t, lang) for t in topics]


def household_followup(
    db: sqlite_utils.Database, household_id: str, known: Visit | None = None
) -> dict[str, Any] | None:
    visit = latest_visit(db, household_id, known)
    return followup_of(visit["data"]) if visit else None


def _household(db: sqlite_utils.Database, household_id: str) -> dict[str, Any] | None:
    row = db.execute(
        "SELECT id, commune_id, village_id, code, head_name, address, removed_at"
        " FROM households WHERE id = ?",
        [household_id],
    ).fetchone()
    if row is None or row["removed_at"]:
        return None
    return {k: row[k] for k in ("id", "commune_id", "village_id", "code", "head_name", "address")}


def _remember(
    db: sqlite_utils.Database, household_id: str, text: str, now: str, put: int | None
) -> None:
    """Keep the follow-up told and, when ``put`` is given, the seq of the household's put
    for its village (the one its next put replaces)."""
    db.execute(
        "INSERT INTO household_followups (household_id, followup, updated_at, put)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (household_id) DO UPDATE SET"
        " followup = excluded.followup, updated_at = excluded.updated_at,"
        " put = coalesce(excluded.put, put)",
        [household_id, text, now, put],
    )


# A household's latest put for its village: the greater of the register's (households.put)
# and the follow-up's (household_followups.put); 0 for none.
_LATEST_PUT = "max(coalesce(h.put, 0), coalesce(f.put, 0))"


def _sent(db: sqlite_utils.Database, household_id: str) -> tuple[str, int | None]:
    """The follow-up phones were last told of a household, and its latest put's seq."""
    row = db.execute(
        f"SELECT f.followup, {_LATEST_PUT} FROM households h"
        " LEFT JOIN household_followups f ON f.household_id = h.id WHERE h.id = ?",
        [household_id],
    ).fetchone()
    return (row[0] or "null", row[1] or None) if row else ("null", None)


def feed_copies(db: sqlite_utils.Database, household_id: str) -> list[tuple[int, str]]:
    """The seq and payload of a household's puts in the feed: its village's, those replaced
    but not swept yet (``feeds.sweep_replaced``), and those kept for one volunteer's phones."""
    copies = by_entity(db, "household", household_id)
    put = _sent(db, household_id)[1]
    if put is not None:
        copies += db.execute("SELECT seq, payload FROM changes WHERE seq = ?", [put]).fetchall()
    copies += db.execute(
        "SELECT seq, payload FROM changes WHERE seq IN (SELECT seq FROM feed_replaced)"
        " AND entity_id = ?",
        [household_id],
    ).fetchall()
    return copies


def forget_put(db: sqlite_utils.Database, household_id: str) -> None:
    """Take a household's put for its village out of the feed as its row leaves the register
    for good (a commune server deleted it): its phones get the deletion, and no copy of it is
    left that no seq names (that the household's next put would not replace, nor an erasure
    scrub, were the id ever sent again)."""
    put = _sent(db, household_id)[1]
    if put is not None:
        db.execute(
            "DELETE FROM changes WHERE seq = ? AND kind = 'household' AND entity_id = ?",
            [put, household_id],
        )


def register_put(
    db: sqlite_utils.Database, household: dict[str, Any], payload: dict[str, Any]
) -> int:
    """Put a household in its village's feed as ``payload`` says, in place of its older put,
    for a change of the register that carries no follow-up (a household added, one a commune
    server sent). Returns the put's seq, which the caller's write of the household's row
    keeps as ``households.put``: call it before that write."""
    return replace_put(
        db,
        "household",
        household["id"],
        payload,
        replaces=_sent(db, household["id"])[1],
        commune_id=household["commune_id"],
        village_id=household["village_id"],
    )


def send_household(
    db: sqlite_utils.Database, household_id: str, user_id: int | None = None
) -> int | None:
    """Put a household in the pull feed as phones store it: the register's fields and its
    follow-up (so that a rename never wipes the follow-up a phone holds). ``user_id`` limits
    the change to one volunteer's phones (catching up a newly given village)."""
    household = _household(db, household_id)
    if household is None:
        return None
    followup = household_followup(db, household_id)
    return _announce(db, household, followup, told(followup), _sent(db, household_id)[1], user_id)


def told(followup: dict[str, Any] | None) -> str:
    """A follow-up as phones were told it (``household_followups.followup``): what a new one
    is compared with, to tell them only of a change."""
    return json.dumps(followup, ensure_ascii=False, sort_keys=True)


# The follow-up a visit's answers call for and its ``told`` text, worked out before the write
# lock by a push (records.store.encode_pushed).
Said = tuple[dict[str, Any] | None, str]


def said_by(data: dict[str, Any]) -> Said:
    followup = followup_of(data)
    return followup, told(followup)


def _announce(
    db: sqlite_utils.Database,
    household: dict[str, Any],
    followup: dict[str, Any] | None,
    text: str,
    put: int | None,
    user_id: int | None = None,
    now: str | None = None,
) -> int:
    """Remember the follow-up told (``text``, its JSON) and put the household in the feed:
    for its village, in place of its put ``put``; or for one volunteer's phones."""
    now = now or now_iso()
    payload = {**household_payload(household), "followup": followup}
    if user_id is not None:
        _remember(db, household["id"], text, now, None)
        return record_change(
            db,
            "household",
            household["id"],
            payload,
            commune_id=household["commune_id"],
            village_id=household["village_id"],
            user_id=user_id,
            now=now,
        )
    seq = replace_put(
        db,
        "household",
        household["id"],
        payload,
        replaces=put,
        commune_id=household["commune_id"],
        village_id=household["village_id"],
        now=now,
    )
    _remember(db, household["id"], text, now, seq)
    return seq


# Where a visit stands among its household's: (visit date, arrival, record id), the order
# ``latest_visit`` reads them in.
VisitKey = tuple[str | None, str, str]


@dataclass
class Known:
    """What a push batch read of one of its households before writing (``known_households``):
    the register's row, the follow-up phones were last told, and where its latest visit
    stands. Kept up to date by ``refresh_household`` as the batch's visits are stored."""

    household: dict[str, Any]
    sent: str
    latest: VisitKey | None
    put: int | None = None  # the seq of its latest put for its village (_LATEST_PUT)
    fresh: bool = True  # False once a write was not followed here: read again from then on


def known_households(db: sqlite_utils.Database, household_ids: list[str]) -> dict[str, Known]:
    """The households of a batch on the register (removed ones left out), read in three
    queries for the batch rather than three for each of its visits."""
    if not household_ids:
        return {}
    marks = ",".join("?" * len(household_ids))
    found = {
        row["id"]: dict(row)
        for row in db.execute(
            "SELECT id, commune_id, village_id, code, head_name, address FROM households"
            f" WHERE id IN ({marks}) AND removed_at IS NULL",
            household_ids,
        )
    }
    if not found:
        return {}
    marks = ",".join("?" * len(found))
    sent = {
        row[0]: (row[1] or "null", row[2] or None)
        for row in db.execute(
            f"SELECT h.id, f.followup, {_LATEST_PUT} FROM households h"
            f" LEFT JOIN household_followups f ON f.household_id = h.id WHERE h.id IN ({marks})",
            list(found),
        )
    }
    latest: dict[str, VisitKey] = {}
    for row in db.execute(
        "SELECT household_id, visit_date, received_at, id FROM records WHERE id IN"
        " (SELECT (SELECT x.id FROM records x WHERE x.household_id = j.value"
        "   ORDER BY x.visit_date DESC, x.received_at DESC, x.id DESC LIMIT 1)"
        "  FROM json_each(?) j)",
        [json.dumps(list(found))],
    ):
        latest[row[0]] = (row[1], row[2], row[3])
    known = {}
    for hid, household in found.items():
        told_text, put = sent.get(hid, ("null", None))
        known[hid] = Known(household, told_text, latest.get(hid), put)
    return known


def _after(visit: VisitKey, latest: VisitKey | None) -> bool | None:
    """Whether a visit comes after ``latest`` in ``latest_visit``'s order (SQLite's: NULL
    first, then text by its bytes, as Python compares str); None when a key holds a value of
    another type (an old row's visit date as a number), left to SQLite to order."""
    if latest is None:
        return True
    if any(type(v) is not str for v in visit[1:] + latest[1:]):
        return None
    if not all(v is None or type(v) is str for v in (visit[0], latest[0])):
        return None

    def order(key: VisitKey) -> tuple[bool, str, str, str]:
        return (key[0] is not None, key[0] or "", key[1], key[2])

    return order(visit) > order(latest)


def refresh_household(
    db: sqlite_utils.Database,
    household_id: str | None,
    visit: Visit | None = None,
    known: Known | None = None,
    key: VisitKey | None = None,
    said: Said | None = None,
    now: str | None = None,
) -> int | None:
    """Tell phones of a household's follow-up when it changed; returns the change's seq.
    Must run inside the caller's write transaction. ``visit``: a record of the household the
    caller has just written, with its answers; ``known``: what the caller read of the
    household before writing it, and ``key`` where that new visit stands: when it is the
    household's latest, its answers alone give the follow-up, and nothing is read.
    ``said``: ``said_by`` the visit's answers, when the caller has it; ``now``: the time the
    caller writes as the transaction's."""
    if not household_id:
        return None
    if (
        known is not None
        and known.fresh
        and visit is not None
        and key is not None
        and _after(key, known.latest)
    ):
        household, sent, put = known.household, known.sent, known.put
        followup, text = said if said is not None else said_by(visit[1])
        known.latest = key
    else:
        if known is not None:
            known.fresh = False
        household = _household(db, household_id)
        if household is None:
            return None
        followup = household_followup(db, household_id, visit)
        sent, put = _sent(db, household_id)
        text = told(followup)
    if sent == text:
        return None
    seq = _announce(db, household, followup, text, put, now=now)
    if known is not None:
        known.sent, known.put = text, seq
    return seq


def village_followups(db: sqlite_utils.Database, village_ids: list[str]) -> list[dict[str, Any]]:
    """The follow-up list of a village (and the villages merged into it): one row per
    household whose latest visit calls for another, soonest date first."""
    if not village_ids:
        return []
    marks = ",".join("?" * len(village_ids))
    rows = db.execute(
        "SELECT h.id AS household_id, h.code, h.head_name, h.address, v.name AS village,"
        " r.id AS record_id, r.data, r.visit_date, u.display_name AS volunteer, r.form_id,"
        " r.form_version FROM households h"
        " JOIN villages v ON v.id = h.village_id"
        " JOIN records r ON r.id = (SELECT x.id FROM records x WHERE x.household_id = h.id"
        "   ORDER BY x.visit_date DESC, x.received_at DESC, x.id DESC LIMIT 1)"
        " LEFT JOIN users u ON u.id = r.user_id"
        f" WHERE h.village_id IN ({marks}) AND h.removed_at IS NULL"
        " AND (r.outcome IN ('come_back', 'nobody_home') OR r.needs_help = 1)",
        village_ids,
    ).fetchall()
    out = []
    for r in rows:
        item = dict(r)
        followup = followup_of(answers.load(item.pop("data")))
        if followup is None:
            continue
        out.append({**item, **followup})
    # Dated visits first, soonest first; then the rest by name.
    out.sort(key=lambda f: (f["date"] is None, f["date"] or "", f["head_name"]))
    return out


def household_payload(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("id", "village_id", "code", "head_name", "address")}

"""The household register: villages added, renamed and merged as versions, and households.

Nothing a record points at is ever deleted: a renamed village keeps its id (its names are in
``village_names`` with the time each held), a merged village keeps its row with
``merged_into`` (its records show under the survivor), a removed household keeps its row with
``removed_at``. Every change phones must know goes into the pull feed in the same transaction.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import sqlite_utils

from server.changes import record_change
from server.db import now_iso
from server.people import add_village
from server.review.decisions import ReviewRefused
from server.review.followup import send_household
from server.review.service import village_ids_under

MAX_NAME = 120


def clean_name(name: str) -> str:
    """NFC and single spaces: 'Thôn  Đông' typed on two keyboards is one village."""
    return " ".join(unicodedata.normalize("NFC", name).split())


def _village(db: sqlite_utils.Database, commune_id: str, village_id: str) -> dict[str, Any]:
    row = db.execute("SELECT id, name, active, merged_into FROM villages WHERE id = ?"
                     " AND commune_id = ?", [village_id, commune_id]).fetchone()
    if row is None:
        raise ReviewRefused("review.error_no_village", status=404)
    return dict(zip(("id", "name", "active", "merged_into"), row, strict=True))


def _check_name(db: sqlite_utils.Database, commune_id: str, name: str,
                village_id: str | None = None) -> str:
    name = clean_name(name)
    if not name or len(name) > MAX_NAME:
        raise ReviewRefused("review.error_village_name", max=MAX_NAME)
    # casefold in Python: SQLite's lower() leaves 'Đ' and 'Ô' as they are.
    for other_id, other in db.execute("SELECT id, name FROM villages WHERE commune_id = ?"
                                      " AND merged_into IS NULL", [commune_id]):
        if other_id != village_id and other.casefold() == name.casefold():
            raise ReviewRefused("review.error_village_exists", name=other)
    return name


def register_villages(db: sqlite_utils.Database, commune_id: str) -> list[dict[str, Any]]:
    """Villages with their counts, names over time, and what was merged into them."""
    keys = ("id", "name", "active", "merged_into", "merged_at", "created_at", "households",
            "records")
    rows = [dict(zip(keys, r, strict=True)) for r in db.execute(
        "SELECT v.id, v.name, v.active, v.merged_into, v.merged_at, v.created_at,"
        " (SELECT count(*) FROM households h WHERE h.village_id = v.id"
        "  AND h.removed_at IS NULL),"
        " (SELECT count(*) FROM records r WHERE r.commune_id = v.commune_id"
        "  AND r.village_id = v.id)"
        " FROM villages v WHERE v.commune_id = ? ORDER BY v.merged_into IS NOT NULL, v.name",
        [commune_id])]
    names = {}
    for village_id, name, valid_from, valid_to in db.execute(
            "SELECT n.village_id, n.name, n.valid_from, n.valid_to FROM village_names n"
            " JOIN villages v ON v.id = n.village_id WHERE v.commune_id = ? ORDER BY n.id",
            [commune_id]):
        names.setdefault(village_id, []).append(
            {"name": name, "valid_from": valid_from, "valid_to": valid_to})
    by_id = {v["id"]: v for v in rows}
    for v in rows:
        v["names"] = names.get(v["id"], [])
        v["merged"] = [w for w in rows if w["merged_into"] == v["id"]]
        v["survivor"] = by_id.get(v["merged_into"] or "")
    return rows


def create_village(db: sqlite_utils.Database, commune_id: str, name: str) -> dict[str, Any]:
    name = _check_name(db, commune_id, name)
    return add_village(db, commune_id, name)  # a trigger starts its name history


def rename_village(db: sqlite_utils.Database, commune_id: str, village_id: str,
                   name: str) -> dict[str, Any]:
    village = _village(db, commune_id, village_id)
    if village["merged_into"]:
        raise ReviewRefused("review.error_village_merged")
    name = _check_name(db, commune_id, name, village_id)
    if name == village["name"]:
        raise ReviewRefused("review.error_no_change")
    # A trigger closes the old name's period in village_names and opens the new one's.
    db.execute("UPDATE villages SET name = ? WHERE id = ?", [name, village_id])
    record_change(db, "village", village_id, {"id": village_id, "name": name,
                                              "active": village["active"]},
                  commune_id=commune_id, village_id=village_id)
    return {**village, "name": name, "old_name": village["name"]}


def merge_villages(db: sqlite_utils.Database, commune_id: str, source_id: str,
                   target_id: str) -> dict[str, Any]:
    """Merge ``source`` into ``target``: the source stays as a version (merged_into), its
    households move to the target, its volunteers are given the target, and phones hear of
    all of it. Records keep the village they were made in."""
    if source_id == target_id:
        raise ReviewRefused("review.error_merge_same")
    source = _village(db, commune_id, source_id)
    target = _village(db, commune_id, target_id)
    if source["merged_into"] or target["merged_into"]:
        raise ReviewRefused("review.error_village_merged")
    now = now_iso()
    db.execute("UPDATE villages SET active = 0, merged_into = ?, merged_at = ? WHERE id = ?",
               [target_id, now, source_id])
    moved = [r[0] for r in db.execute(
        "SELECT id FROM households WHERE village_id = ? AND removed_at IS NULL", [source_id])]
    db.execute("UPDATE households SET village_id = ?, updated_at = ? WHERE village_id = ?",
               [target_id, now, source_id])
    for household_id in moved:
        db.execute("INSERT INTO household_moves (household_id, from_village, to_village, at)"
                   " VALUES (?, ?, ?, ?)", [household_id, source_id, target_id, now])
        send_household(db, household_id)
    newly = _give_target(db, source_id, target_id)
    for user_id in newly:
        _catch_up(db, commune_id, target, user_id)
    # The source keeps its volunteers, so that records they made before the merge and still
    # hold still sync; their phones drop the village itself.
    record_change(db, "village", source_id, {"id": source_id, "merged_into": target_id},
                  commune_id=commune_id, village_id=source_id, op="delete")
    return {"source": source, "target": target, "households": len(moved),
            "volunteers": len(newly)}


def same_place(db: sqlite_utils.Database, record_village: str, household_village: str) -> bool:
    """Whether a record made in ``record_village`` may name a household now listed in
    ``household_village``: the same village, or one merged into it since (a phone that had not
    synced before the merge still sends the old village). For the push path's scope check."""
    return record_village == household_village or record_village in village_ids_under(
        db, household_village)


def _give_target(db: sqlite_utils.Database, source_id: str, target_id: str) -> list[int]:
    users = [r[0] for r in db.execute(
        "SELECT user_id FROM user_villages WHERE village_id = ? AND user_id NOT IN"
        " (SELECT user_id FROM user_villages WHERE village_id = ?)", [source_id, target_id])]
    for user_id in users:
        db.execute("INSERT INTO user_villages (user_id, village_id) VALUES (?, ?)",
                   [user_id, target_id])
    return users


def _catch_up(db: sqlite_utils.Database, commune_id: str, target: dict[str, Any],
              user_id: int) -> None:
    # The volunteer's phones passed the target's earlier changes by (they were out of scope
    # then): send the village and its households again, to that volunteer only.
    record_change(db, "village", target["id"], {"id": target["id"], "name": target["name"],
                                                "active": 1},
                  commune_id=commune_id, village_id=target["id"], user_id=user_id)
    for (household_id,) in db.execute(
            "SELECT id FROM households WHERE village_id = ? AND removed_at IS NULL"
            " ORDER BY created_at", [target["id"]]).fetchall():
        send_household(db, household_id, user_id=user_id)


# -- households -------------------------------------------------------------------------------

_HOUSEHOLD_KEYS = ("id", "commune_id", "village_id", "village", "code", "head_name", "address",
                   "created_at", "updated_at", "removed_at")


def get_household(db: sqlite_utils.Database, commune_id: str,
                  household_id: str) -> dict[str, Any] | None:
    row = db.execute(
        "SELECT h.id, h.commune_id, h.village_id, v.name, h.code, h.head_name, h.address,"
        " h.created_at, h.updated_at, h.removed_at FROM households h"
        " JOIN villages v ON v.id = h.village_id WHERE h.id = ? AND h.commune_id = ?",
        [household_id, commune_id]).fetchone()
    return dict(zip(_HOUSEHOLD_KEYS, row, strict=True)) if row else None


def households(db: sqlite_utils.Database, commune_id: str,
               village_id: str) -> list[dict[str, Any]]:
    ids = village_ids_under(db, village_id)
    marks = ",".join("?" * len(ids))
    keys = (*_HOUSEHOLD_KEYS, "visits", "last_visit")
    return [dict(zip(keys, r, strict=True)) for r in db.execute(
        "SELECT h.id, h.commune_id, h.village_id, v.name, h.code, h.head_name, h.address,"
        " h.created_at, h.updated_at, h.removed_at,"
        " (SELECT count(*) FROM records r WHERE r.household_id = h.id),"
        " (SELECT max(r.visit_date) FROM records r WHERE r.household_id = h.id)"
        " FROM households h JOIN villages v ON v.id = h.village_id"
        f" WHERE h.commune_id = ? AND h.village_id IN ({marks}) AND h.removed_at IS NULL"
        " ORDER BY h.head_name, h.code", [commune_id, *ids])]


def visits(db: sqlite_utils.Database, household_id: str) -> list[dict[str, Any]]:
    keys = ("id", "visit_date", "received_at", "outcome", "review_state", "needs_help",
            "village", "volunteer", "revisions")
    return [dict(zip(keys, r, strict=True)) for r in db.execute(
        "SELECT r.id, r.visit_date, r.received_at, r.outcome, r.review_state, r.needs_help,"
        " v.name, u.display_name, (SELECT count(*) FROM revisions x WHERE x.record_id = r.id)"
        " FROM records r JOIN villages v ON v.id = r.village_id"
        " LEFT JOIN users u ON u.id = r.user_id WHERE r.household_id = ?"
        " ORDER BY r.visit_date DESC, r.received_at DESC", [household_id])]


def update_household(db: sqlite_utils.Database, household: dict[str, Any], head_name: str,
                     address: str) -> None:
    head_name, address = clean_name(head_name), clean_name(address)
    if not head_name or len(head_name) > 200 or len(address) > 300:
        raise ReviewRefused("review.error_household_fields")
    if (head_name, address) == (household["head_name"], household["address"]):
        raise ReviewRefused("review.error_no_change")
    db.execute("UPDATE households SET head_name = ?, address = ?, updated_at = ? WHERE id = ?",
               [head_name, address, now_iso(), household["id"]])
    send_household(db, household["id"])


def remove_household(db: sqlite_utils.Database, household: dict[str, Any]) -> None:
    """Take a household off the register (moved away, counted twice); its visits stay."""
    if household["removed_at"]:
        raise ReviewRefused("review.error_household_removed")
    db.execute("UPDATE households SET removed_at = ?, updated_at = ? WHERE id = ?",
               [now_iso(), now_iso(), household["id"]])
    record_change(db, "household", household["id"], {"id": household["id"]},
                  commune_id=household["commune_id"], village_id=household["village_id"],
                  op="delete")


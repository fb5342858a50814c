"""The household register: villages added, renamed and merged as versions, and households.

Nothing a record points at is ever deleted: a renamed village keeps its id (its names are in
``village_names`` with the time each held), a merged village keeps its row with
``merged_into`` (its records show under the survivor), a removed household keeps its row with
``removed_at``. Every change phones must know goes into the pull feed in the same transaction.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from typing import Any

import sqlite_utils
from werkzeug.datastructures import MultiDict

from schemas.text import fold, like_pattern
from server.domain.accounts import Errors, check_staff_form, create_staff
from server.domain.db import now_iso
from server.domain.errors import Refused
from server.domain.feeds import record_change
from server.domain.followups import household_payload, register_put, send_household

MAX_NAME = 120


def clean_name(name: str) -> str:
    """NFC and single spaces: 'Thôn  Đông' typed on two keyboards is one village."""
    return " ".join(unicodedata.normalize("NFC", name).split())


def _village(db: sqlite_utils.Database, commune_id: str, village_id: str) -> dict[str, Any]:
    row = db.execute(
        "SELECT id, name, active, merged_into FROM villages WHERE id = ? AND commune_id = ?",
        [village_id, commune_id],
    ).fetchone()
    if row is None:
        raise Refused("review.error_no_village", status=404)
    return dict(row)


def _check_name(
    db: sqlite_utils.Database, commune_id: str, name: str, village_id: str | None = None
) -> str:
    name = clean_name(name)
    if not name or len(name) > MAX_NAME:
        raise Refused("review.error_village_name", max=MAX_NAME)
    # casefold in Python: SQLite's lower() leaves 'Đ' and 'Ô' as they are.
    for other in db.execute(
        "SELECT id, name FROM villages WHERE commune_id = ? AND merged_into IS NULL", [commune_id]
    ):
        if other["id"] != village_id and other["name"].casefold() == name.casefold():
            raise Refused("review.error_village_exists", name=other["name"])
    return name


def register_villages(db: sqlite_utils.Database, commune_id: str) -> list[dict[str, Any]]:
    """Villages with their counts, names over time, and what was merged into them."""
    rows = [
        dict(r)
        for r in db.execute(
            "SELECT v.id, v.name, v.active, v.merged_into, v.merged_at, v.created_at,"
            " (SELECT count(*) FROM households h WHERE h.village_id = v.id"
            "  AND h.removed_at IS NULL) AS households,"
            " (SELECT count(*) FROM records r WHERE r.commune_id = v.commune_id"
            "  AND r.village_id = v.id) AS records"
            " FROM villages v WHERE v.commune_id = ? ORDER BY v.merged_into IS NOT NULL, v.name",
            [commune_id],
        )
    ]
    names = {}
    for r in db.execute(
        "SELECT n.village_id, n.name, n.valid_from, n.valid_to FROM village_names n"
        " JOIN villages v ON v.id = n.village_id WHERE v.commune_id = ? ORDER BY n.id",
        [commune_id],
    ):
        names.setdefault(r["village_id"], []).append(
            {"name": r["name"], "valid_from": r["valid_from"], "valid_to": r["valid_to"]}
        )
    by_id = {v["id"]: v for v in rows}
    for v in rows:
        v["names"] = names.get(v["id"], [])
        v["merged"] = [w for w in rows if w["merged_into"] == v["id"]]
        v["survivor"] = by_id.get(v["merged_into"] or "")
    return rows


def create_village(db: sqlite_utils.Database, commune_id: str, name: str) -> dict[str, Any]:
    name = _check_name(db, commune_id, name)
    return add_village(db, commune_id, name)  # a trigger starts its name history


def rename_village(
    db: sqlite_utils.Database, commune_id: str, village_id: str, name: str
) -> dict[str, Any]:
    village = _village(db, commune_id, village_id)
    if village["merged_into"]:
        raise Refused("review.error_village_merged")
    name = _check_name(db, commune_id, name, village_id)
    if name == village["name"]:
        raise Refused("review.error_no_change")
    # A trigger closes the old name's period in village_names and opens the new one's.
    db.execute("UPDATE villages SET name = ? WHERE id = ?", [name, village_id])
    record_change(
        db,
        "village",
        village_id,
        {"id": village_id, "name": name, "active": village["active"]},
        commune_id=commune_id,
        village_id=village_id,
    )
    return {**village, "name": name, "old_name": village["name"]}


def merge_villages(
    db: sqlite_utils.Database, commune_id: str, source_id: str, target_id: str
) -> dict[str, Any]:
    """Merge ``source`` into ``target``: the source stays as a version (merged_into), its
    households move to the target, its volunteers are given the target, and phones hear of
    all of it. Records keep the village they were made in."""
    if source_id == target_id:
        raise Refused("review.error_merge_same")
    source = _village(db, commune_id, source_id)
    target = _village(db, commune_id, target_id)
    if source["merged_into"] or target["merged_into"]:
        raise Refused("review.error_village_merged")
    now = now_iso()
    db.execute(
        "UPDATE villages SET active = 0, merged_into = ?, merged_at = ? WHERE id = ?",
        [target_id, now, source_id],
    )
    own = household_ids(db, target_id)
    moved = household_ids(db, source_id)
    db.execute(
        "UPDATE households SET village_id = ?, updated_at = ? WHERE village_id = ?",
        [target_id, now, source_id],
    )
    for household_id in moved:  # scoped to the target now: its volunteers, old and new, see it
        db.execute(
            "INSERT INTO household_moves (household_id, from_village, to_village, at)"
            " VALUES (?, ?, ?, ?)",
            [household_id, source_id, target_id, now],
        )
        send_household(db, household_id)
    newly = _give_target(db, source_id, target_id)
    if newly:
        _catch_up(db, commune_id, target, own)
    # The source keeps its volunteers, so that records they made before the merge and still
    # hold still sync; their phones drop the village itself.
    record_change(
        db,
        "village",
        source_id,
        {"id": source_id, "merged_into": target_id},
        commune_id=commune_id,
        village_id=source_id,
        op="delete",
    )
    return {"source": source, "target": target, "households": len(moved), "volunteers": len(newly)}


def same_place(db: sqlite_utils.Database, record_village: str, household_village: str) -> bool:
    """Whether a record made in ``record_village`` may name a household now listed in
    ``household_village``: the same village, or one merged into it since (a phone that had not
    synced before the merge still sends the old village). For the push path's scope check."""
    return record_village == household_village or record_village in village_ids_under(
        db, household_village
    )


def _give_target(db: sqlite_utils.Database, source_id: str, target_id: str) -> list[int]:
    users = [
        r[0]
        for r in db.execute(
            "SELECT user_id FROM user_villages WHERE village_id = ? AND user_id NOT IN"
            " (SELECT user_id FROM user_villages WHERE village_id = ?)",
            [source_id, target_id],
        )
    ]
    for user_id in users:
        db.execute(
            "INSERT INTO user_villages (user_id, village_id) VALUES (?, ?)", [user_id, target_id]
        )
    return users


def _catch_up(
    db: sqlite_utils.Database, commune_id: str, target: dict[str, Any], own: list[str]
) -> None:
    # The volunteers newly given the target passed its earlier changes by (they were out of
    # scope then): send the village and its own households again. Once, to the whole village,
    # not once per new volunteer: the merge's write transaction (and the wait of every push
    # behind it) then grows with the households, not households x volunteers. The target's
    # volunteers get these puts again too; a put of what a phone holds changes nothing.
    record_change(
        db,
        "village",
        target["id"],
        {"id": target["id"], "name": target["name"], "active": 1},
        commune_id=commune_id,
        village_id=target["id"],
    )
    for household_id in own:
        send_household(db, household_id)


# -- households -------------------------------------------------------------------------------

_HOUSEHOLD_COLUMNS = (
    "h.id, h.commune_id, h.village_id, v.name AS village, h.code, h.head_name,"
    " h.address, h.created_at, h.updated_at, h.removed_at"
)


def get_household(
    db: sqlite_utils.Database, commune_id: str, household_id: str
) -> dict[str, Any] | None:
    row = db.execute(
        f"SELECT {_HOUSEHOLD_COLUMNS} FROM households h"
        " JOIN villages v ON v.id = h.village_id WHERE h.id = ? AND h.commune_id = ?",
        [household_id, commune_id],
    ).fetchone()
    return dict(row) if row else None


def households(
    db: sqlite_utils.Database, commune_id: str, village_id: str, query: str = ""
) -> list[dict[str, Any]]:
    """A village's households (with those of villages merged into it); with ``query``, those
    whose head's name, address or code holds it, whatever the case, tone marks and đ/d (the
    phone's search, pwa/js/text.js)."""
    ids = village_ids_under(db, village_id)
    marks = ",".join("?" * len(ids))
    search, params = "", []
    if fold(query):
        search = (
            " AND fold(h.head_name || ' ' || coalesce(h.address, '') || ' ' || h.code)"
            " LIKE ? ESCAPE '\\'"
        )
        params = [like_pattern(query)]
    return [
        dict(r)
        for r in db.execute(
            f"SELECT {_HOUSEHOLD_COLUMNS},"
            " (SELECT count(*) FROM records r WHERE r.household_id = h.id) AS visits,"
            " (SELECT max(r.visit_date) FROM records r WHERE r.household_id = h.id) AS last_visit"
            " FROM households h JOIN villages v ON v.id = h.village_id"
            f" WHERE h.commune_id = ? AND h.village_id IN ({marks}) AND h.removed_at IS NULL"
            f"{search} ORDER BY h.head_name, h.code",
            [commune_id, *ids, *params],
        )
    ]


def visits(db: sqlite_utils.Database, household_id: str) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in db.execute(
            "SELECT r.id, r.visit_date, r.received_at, r.outcome, r.review_state, r.needs_help,"
            " v.name AS village, u.display_name AS volunteer,"
            " (SELECT count(*) FROM revisions x WHERE x.record_id = r.id) AS revisions"
            " FROM records r JOIN villages v ON v.id = r.village_id"
            " LEFT JOIN users u ON u.id = r.user_id WHERE r.household_id = ?"
            " ORDER BY r.visit_date DESC, r.received_at DESC",
            [household_id],
        )
    ]


def update_household(
    db: sqlite_utils.Database, household: dict[str, Any], head_name: str, address: str
) -> None:
    head_name, address = clean_name(head_name), clean_name(address)
    if not head_name or len(head_name) > 200 or len(address) > 300:
        raise Refused("review.error_household_fields")
    if (head_name, address) == (household["head_name"], household["address"]):
        raise Refused("review.error_no_change")
    db.execute(
        "UPDATE households SET head_name = ?, address = ?, updated_at = ? WHERE id = ?",
        [head_name, address, now_iso(), household["id"]],
    )
    send_household(db, household["id"])


def remove_household(db: sqlite_utils.Database, household: dict[str, Any]) -> None:
    """Take a household off the register (moved away, counted twice); its visits stay."""
    if household["removed_at"]:
        raise Refused("review.error_household_removed")
    db.execute(
        "UPDATE households SET removed_at = ?, updated_at = ? WHERE id = ?",
        [now_iso(), now_iso(), household["id"]],
    )
    record_change(
        db,
        "household",
        household["id"],
        {"id": household["id"]},
        commune_id=household["commune_id"],
        village_id=household["village_id"],
        op="delete",
    )


def add_commune(
    db: sqlite_utils.Database, code: str, name: str, province_code: str, province_name: str
) -> dict[str, Any]:
    row = {
        "id": code,
        "name": name,
        "province_code": province_code,
        "province_name": province_name,
        "created_at": now_iso(),
    }
    db["communes"].insert(row)
    return row


def add_village(
    db: sqlite_utils.Database, commune_id: str, name: str, village_id: str | None = None
) -> dict[str, Any]:
    row = {
        "id": village_id or str(uuid.uuid4()),
        "commune_id": commune_id,
        "name": name,
        "active": 1,
        "created_at": now_iso(),
    }
    db["villages"].insert(row)
    record_change(
        db,
        "village",
        row["id"],
        {k: row[k] for k in ("id", "name", "active")},
        commune_id=commune_id,
        village_id=row["id"],
    )
    return row


def add_household(
    db: sqlite_utils.Database,
    village_id: str,
    head_name: str,
    address: str = "",
    household_id: str | None = None,
) -> dict[str, Any]:
    village = db["villages"].get(village_id)
    now = now_iso()
    row = {
        "id": household_id or str(uuid.uuid4()),
        "commune_id": village["commune_id"],
        "village_id": village_id,
        "code": _household_code(db),
        "head_name": head_name,
        "address": address,
        "created_at": now,
        "updated_at": now,
    }
    row["put"] = register_put(db, row, household_payload(row))
    db["households"].insert(row)
    return row


def _household_code(db: sqlite_utils.Database) -> str:
    # Short enough to print under a QR label and type on a phone; retried on the rare clash.
    while True:
        code = "H" + "".join(secrets.choice("23456789ABCDEFGHJKMNPQRSTUVWXYZ") for _ in range(6))
        if not db.execute("SELECT 1 FROM households WHERE code = ?", [code]).fetchone():
            return code


def villages_of(db: sqlite_utils.Database, village_ids: list[str]) -> list[dict[str, Any]]:
    if not village_ids:
        return []
    marks = ",".join("?" * len(village_ids))
    return [
        dict(r)
        for r in db.execute(
            f"SELECT id, name FROM villages WHERE id IN ({marks}) ORDER BY name", village_ids
        )
    ]


def commune_village_ids(db: sqlite_utils.Database, commune_id: str) -> set[str]:
    return {r[0] for r in db.execute("SELECT id FROM villages WHERE commune_id = ?", [commune_id])}


_COMMUNE_CODE = re.compile(r"\d{5}")


def commune(db: sqlite_utils.Database, commune_id: str) -> dict[str, Any] | None:
    row = db.execute(
        "SELECT id, name, province_code, province_name FROM communes WHERE id = ?", [commune_id]
    ).fetchone()
    return dict(row) if row else None


def overview(db: sqlite_utils.Database, commune_id: str) -> dict[str, int]:
    one = lambda sql: db.execute(sql, [commune_id]).fetchone()[0]  # noqa: E731
    return {
        "volunteers": one(
            "SELECT count(*) FROM users WHERE commune_id = ? AND role = 'volunteer' AND active = 1"
        ),
        "staff": one(
            "SELECT count(*) FROM users WHERE commune_id = ? AND role != 'volunteer' AND active = 1"
        ),
        "devices": one(
            "SELECT count(*) FROM devices d JOIN users u ON u.id = d.user_id"
            " WHERE u.commune_id = ? AND d.revoked_at IS NULL"
        ),
        "unsynced": one(
            "SELECT coalesce(sum(d.reported_unsynced), 0) FROM devices d"
            " JOIN users u ON u.id = d.user_id WHERE u.commune_id = ?"
            " AND d.revoked_at IS NULL"
        ),
    }


def household_ids(db: sqlite_utils.Database, village_id: str) -> list[str]:
    removed = " AND removed_at IS NULL" if "removed_at" in db["households"].columns_dict else ""
    return [
        r[0]
        for r in db.execute(
            f"SELECT id FROM households WHERE village_id = ?{removed} ORDER BY created_at",
            [village_id],
        )
    ]


def labels(db: sqlite_utils.Database, village_id: str) -> list[dict[str, Any]]:
    ids = household_ids(db, village_id)
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    return [
        dict(r)
        for r in db.execute(
            f"SELECT id, code FROM households WHERE id IN ({marks}) ORDER BY code", ids
        )
    ]


def communes(db: sqlite_utils.Database, province_code: str) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in db.execute(
            "SELECT c.id, c.name, c.province_name, c.created_at,"
            " (SELECT group_concat(username, ', ') FROM users WHERE commune_id = c.id"
            "  AND role = 'admin' AND active = 1) AS admins,"
            " (SELECT count(*) FROM users WHERE commune_id = c.id AND role = 'volunteer')"
            " AS volunteers,"
            " (SELECT count(*) FROM records WHERE commune_id = c.id) AS records"
            " FROM communes c WHERE c.province_code = ? ORDER BY c.name",
            [province_code],
        )
    ]


def province_name(db: sqlite_utils.Database, province_code: str) -> str:
    row = db.execute(
        "SELECT province_name FROM communes WHERE province_code = ? LIMIT 1", [province_code]
    ).fetchone()
    return row[0] if row else ""


def check_commune_form(db: sqlite_utils.Database, form: MultiDict) -> tuple[dict[str, str], Errors]:
    values = {
        "code": form.get("code", "").strip(),
        "name": " ".join(form.get("name", "").split()),
        "province_name": " ".join(form.get("province_name", "").split()),
    }
    staff_values, errors = check_staff_form(
        db,
        MultiDict(
            {
                "username": form.get("username", ""),
                "display_name": form.get("display_name", ""),
                "role": "admin",
            }
        ),
    )
    values.update(staff_values)
    if not _COMMUNE_CODE.fullmatch(values["code"]):
        errors["code"] = "admin.error_commune_code"
    elif db.execute("SELECT 1 FROM communes WHERE id = ?", [values["code"]]).fetchone():
        errors["code"] = "admin.error_commune_exists"
    if not values["name"] or len(values["name"]) > 80:
        errors["name"] = "admin.error_name"
    if not values["province_name"] or len(values["province_name"]) > 80:
        errors["province_name"] = "admin.error_name"
    return values, errors


def create_commune(db: sqlite_utils.Database, province_code: str, values: dict[str, str]) -> str:
    """The commune and its first admin; returns the admin's one-time password."""
    add_commune(db, values["code"], values["name"], province_code, values["province_name"])
    return create_staff(db, values["code"], values)


def villages(db: sqlite_utils.Database, commune_id: str) -> list[dict[str, Any]]:
    """The commune's villages, the merged ones last (they name their survivor)."""
    keys = ("id", "name", "active", "merged_into")
    return [
        dict(zip(keys, r, strict=True))
        for r in db.execute(
            "SELECT id, name, active, merged_into FROM villages WHERE commune_id = ?"
            " ORDER BY merged_into IS NOT NULL, name",
            [commune_id],
        )
    ]


def assignable_villages(db: sqlite_utils.Database, commune_id: str) -> list[dict[str, Any]]:
    """The villages a volunteer can be given: active ones (a merged village is inactive)."""
    return [{"id": v["id"], "name": v["name"]} for v in villages(db, commune_id) if v["active"]]


def current_villages(db: sqlite_utils.Database, commune_id: str) -> list[dict[str, Any]]:
    """The villages as they are now: a merged one counts under its survivor."""
    return [v for v in villages(db, commune_id) if not v["merged_into"]]


# What merged into what: the one walk down ``merged_into`` from a village (or from every
# survivor), so that "a village and what merged into it" means the same on every page.
_MERGED_UNDER = (
    "WITH RECURSIVE under(root, id) AS ({seeds} UNION SELECT u.root, v.id FROM villages v"
    " JOIN under u ON v.merged_into = u.id) SELECT root, id FROM under"
)


def village_ids_under(db: sqlite_utils.Database, village_id: str) -> list[str]:
    """A village and every village merged into it (and into those): its records are all its
    own now, while each record keeps pointing at the village it was made in."""
    sql = _MERGED_UNDER.format(seeds="SELECT ?, ?")
    return [row["id"] for row in db.execute(sql, [village_id, village_id])]


def survivors(db: sqlite_utils.Database, commune_id: str) -> dict[str, str]:
    """Merged village → the village it now counts under (following merges of merges)."""
    sql = _MERGED_UNDER.format(
        seeds="SELECT id, id FROM villages WHERE commune_id = ? AND merged_into IS NULL"
    )
    return {
        row["id"]: row["root"] for row in db.execute(sql, [commune_id]) if row["root"] != row["id"]
    }

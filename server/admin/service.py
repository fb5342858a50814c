"""What the admin pages read and change: people, phones, communes and the audit log, each
filtered by the caller's scope. Plain functions; ``None`` means "not yours" and becomes a 404
that looks the same as "does not exist"."""

from __future__ import annotations

import re
from typing import Any

import sqlite_utils
from werkzeug.datastructures import MultiDict

from server.db import now_iso
from server.people import (
    add_commune,
    add_user,
    create_enrollment_code,
    new_password,
    set_villages,
    user_village_ids,
    volunteer_username,
)
from server.tokens import hash_secret, normalise_code

PAGE_SIZE = 50
# The unions volunteers come from; "other" is typed (teachers, the Front, commune police ...).
UNIONS = {"doan": "Đoàn Thanh niên", "phunu": "Hội Phụ nữ"}
_PHONE = re.compile(r"0\d{9}")
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,31}")
_COMMUNE_CODE = re.compile(r"\d{5}")

Errors = dict[str, str]  # field → catalogue key


def commune(db: sqlite_utils.Database, commune_id: str) -> dict[str, Any] | None:
    row = db.execute("SELECT id, name, province_code, province_name FROM communes WHERE id = ?",
                     [commune_id]).fetchone()
    return dict(zip(("id", "name", "province_code", "province_name"), row, strict=True)) \
        if row else None


def overview(db: sqlite_utils.Database, commune_id: str) -> dict[str, int]:
    one = lambda sql: db.execute(sql, [commune_id]).fetchone()[0]  # noqa: E731
    return {
        "volunteers": one("SELECT count(*) FROM users WHERE commune_id = ? AND role = 'volunteer'"
                          " AND active = 1"),
        "staff": one("SELECT count(*) FROM users WHERE commune_id = ? AND role != 'volunteer'"
                     " AND active = 1"),
        "devices": one("SELECT count(*) FROM devices d JOIN users u ON u.id = d.user_id"
                       " WHERE u.commune_id = ? AND d.revoked_at IS NULL"),
        "unsynced": one("SELECT coalesce(sum(d.reported_unsynced), 0) FROM devices d"
                        " JOIN users u ON u.id = d.user_id WHERE u.commune_id = ?"
                        " AND d.revoked_at IS NULL"),
    }


def villages(db: sqlite_utils.Database, commune_id: str) -> list[dict[str, Any]]:
    """The villages a volunteer can be given: active ones (a merged village is inactive)."""
    return [{"id": r[0], "name": r[1]} for r in db.execute(
        "SELECT id, name FROM villages WHERE commune_id = ? AND active = 1 ORDER BY name",
        [commune_id])]


def union_label(union_name: str, t: Any) -> str:
    for key, name in UNIONS.items():
        if union_name == name:
            return t(f"admin.union_{key}")
    return union_name


# -- staff accounts ---------------------------------------------------------------------------

def staff_list(db: sqlite_utils.Database, commune_id: str) -> list[dict[str, Any]]:
    keys = ("id", "username", "display_name", "role", "active", "must_change_password")
    return [dict(zip(keys, r, strict=True)) for r in db.execute(
        f"SELECT {', '.join(keys)} FROM users WHERE commune_id = ? AND role != 'volunteer'"
        " ORDER BY active DESC, role, username", [commune_id])]


def check_staff_form(db: sqlite_utils.Database, form: MultiDict) -> tuple[dict[str, str], Errors]:
    values = {"username": form.get("username", "").strip().lower(),
              "display_name": " ".join(form.get("display_name", "").split()),
              "role": form.get("role", "")}
    errors: Errors = {}
    if not _USERNAME.fullmatch(values["username"]):
        errors["username"] = "admin.error_username"
    elif db.execute("SELECT 1 FROM users WHERE username = ?", [values["username"]]).fetchone():
        errors["username"] = "admin.error_username_taken"
    if not values["display_name"] or len(values["display_name"]) > 80:
        errors["display_name"] = "admin.error_name"
    if values["role"] not in ("admin", "reviewer", "viewer"):
        errors["role"] = "admin.error_role"
    return values, errors


def create_staff(db: sqlite_utils.Database, commune_id: str | None, values: dict[str, str],
                 province_code: str | None = None) -> str:
    """A staff account whose first password is shown once and must be changed at first login."""
    password = new_password()
    user = add_user(db, values["username"], values["display_name"], values["role"], commune_id,
                    password=password, province_code=province_code)
    db.execute("UPDATE users SET must_change_password = 1 WHERE id = ?", [user["id"]])
    return password


def user_in_scope(db: sqlite_utils.Database, caller: dict[str, Any],
                  user_id: int) -> dict[str, Any] | None:
    """A user this caller may reset or deactivate: a commune admin, anyone of the commune; a
    province admin, the admins of the province's communes."""
    row = db.execute("SELECT u.id, u.username, u.display_name, u.role, u.commune_id, u.active,"
                     " c.province_code FROM users u LEFT JOIN communes c ON c.id = u.commune_id"
                     " WHERE u.id = ?", [user_id]).fetchone()
    if row is None:
        return None
    user = dict(zip(("id", "username", "display_name", "role", "commune_id", "active",
                     "province_code"), row, strict=True))
    if caller["role"] == "admin" and user["commune_id"] == caller["commune_id"]:
        return user
    if (caller["role"] == "province" and user["role"] == "admin" and user["commune_id"]
            and user["province_code"] == caller["province_code"]):
        return user
    return None


def set_active(db: sqlite_utils.Database, user_id: int, active: bool) -> None:
    # Deactivating ends the person's sessions and the phones' access (tokens need an active
    # user); the phones are not revoked, so reactivating brings them back.
    db.execute("UPDATE users SET active = ?, session_epoch = session_epoch + 1 WHERE id = ?",
               [int(active), user_id])


# -- volunteers -------------------------------------------------------------------------------

def volunteers(db: sqlite_utils.Database, commune_id: str) -> list[dict[str, Any]]:
    keys = ("id", "username", "display_name", "union_name", "phone", "active", "villages",
            "devices")
    return [dict(zip(keys, r, strict=True)) for r in db.execute(
        "SELECT u.id, u.username, u.display_name, u.union_name, u.phone, u.active,"
        " (SELECT group_concat(v.name, ', ') FROM user_villages uv"
        "  JOIN villages v ON v.id = uv.village_id WHERE uv.user_id = u.id),"
        " (SELECT count(*) FROM devices d WHERE d.user_id = u.id AND d.revoked_at IS NULL)"
        " FROM users u WHERE u.commune_id = ? AND u.role = 'volunteer'"
        " ORDER BY u.active DESC, u.display_name", [commune_id])]


def volunteer(db: sqlite_utils.Database, commune_id: str, user_id: int) -> dict[str, Any] | None:
    row = db.execute("SELECT id, username, display_name, union_name, phone, active, created_at"
                     " FROM users WHERE id = ? AND commune_id = ? AND role = 'volunteer'",
                     [user_id, commune_id]).fetchone()
    if row is None:
        return None
    person = dict(zip(("id", "username", "display_name", "union_name", "phone", "active",
                       "created_at"), row, strict=True))
    person["village_ids"] = user_village_ids(db, user_id)
    person["union_key"] = next((k for k, v in UNIONS.items() if v == person["union_name"]),
                               "other")
    person["devices"] = devices(db, commune_id, user_id=user_id)
    return person


def check_volunteer_form(form: MultiDict,
                         allowed_villages: list[dict[str, Any]]) -> tuple[dict[str, Any], Errors]:
    union = form.get("union", "")
    other = " ".join(form.get("union_other", "").split())
    phone = re.sub(r"[\s.\-]", "", form.get("phone", ""))
    values = {"display_name": " ".join(form.get("display_name", "").split()),
              "union": union, "union_other": other, "phone": phone,
              "union_name": UNIONS.get(union, other),
              "village_ids": sorted(set(form.getlist("villages")))}
    errors: Errors = {}
    if not values["display_name"] or len(values["display_name"]) > 80:
        errors["display_name"] = "admin.error_name"
    if union not in (*UNIONS, "other") or (union == "other" and not 0 < len(other) <= 60):
        errors["union"] = "admin.error_union"
    if not _PHONE.fullmatch(phone):
        errors["phone"] = "admin.error_phone"
    known = {v["id"] for v in allowed_villages}
    # A village of another commune reads exactly like one that does not exist.
    if not values["village_ids"] or not set(values["village_ids"]) <= known:
        errors["villages"] = "admin.error_villages"
    return values, errors


def create_volunteer(db: sqlite_utils.Database, commune_id: str,
                     values: dict[str, Any]) -> dict[str, Any]:
    return add_user(db, volunteer_username(db, values["display_name"]), values["display_name"],
                    "volunteer", commune_id, union_name=values["union_name"],
                    phone=values["phone"], village_ids=values["village_ids"])


def update_volunteer(db: sqlite_utils.Database, user_id: int, values: dict[str, Any]) -> list[str]:
    """Save the form; returns the newly given villages (the caller sends their households)."""
    db.execute("UPDATE users SET display_name = ?, union_name = ?, phone = ? WHERE id = ?",
               [values["display_name"], values["union_name"], values["phone"], user_id])
    return set_villages(db, user_id, values["village_ids"])


def household_ids(db: sqlite_utils.Database, village_id: str) -> list[str]:
    removed = " AND removed_at IS NULL" if "removed_at" in db["households"].columns_dict else ""
    return [r[0] for r in db.execute(
        f"SELECT id FROM households WHERE village_id = ?{removed} ORDER BY created_at",
        [village_id])]


# -- enrollment codes and phones --------------------------------------------------------------

def new_code(db: sqlite_utils.Database, user_id: int) -> str:
    return create_enrollment_code(db, user_id)


def code_state(db: sqlite_utils.Database, user_id: int, code: str) -> dict[str, Any] | None:
    """A code of this volunteer: its expiry and whether it is ``valid``, ``used`` or
    ``expired``; None when it is no code of theirs."""
    row = db.execute("SELECT expires_at, used_at FROM enrollment_codes WHERE code_hash = ?"
                     " AND user_id = ?", [hash_secret(normalise_code(code)), user_id]).fetchone()
    if row is None:
        return None
    state = "used" if row[1] else "expired" if row[0] <= now_iso() else "valid"
    return {"expires_at": row[0], "used_at": row[1], "state": state}


def devices(db: sqlite_utils.Database, commune_id: str,
            user_id: int | None = None) -> list[dict[str, Any]]:
    keys = ("id", "user_id", "username", "display_name", "created_at", "last_seen_at",
            "revoked_at", "reported_unsynced", "reported_at", "app_version")
    where, params = "u.commune_id = ?", [commune_id]
    if user_id is not None:
        where += " AND u.id = ?"
        params.append(user_id)
    return [dict(zip(keys, r, strict=True)) for r in db.execute(
        "SELECT d.id, u.id, u.username, u.display_name, d.created_at, d.last_seen_at,"
        " d.revoked_at, d.reported_unsynced, d.reported_at, d.app_version FROM devices d"
        f" JOIN users u ON u.id = d.user_id WHERE {where}"
        " ORDER BY d.revoked_at IS NOT NULL, u.display_name, d.created_at", params)]


def device_in_scope(db: sqlite_utils.Database, commune_id: str,
                    device_id: str) -> dict[str, Any] | None:
    row = db.execute("SELECT d.id, u.id, u.username FROM devices d JOIN users u"
                     " ON u.id = d.user_id WHERE d.id = ? AND u.commune_id = ?",
                     [device_id, commune_id]).fetchone()
    return dict(zip(("id", "user_id", "username"), row, strict=True)) if row else None


# -- printable sheets -------------------------------------------------------------------------

def team(db: sqlite_utils.Database, commune_id: str, village_id: str | None) -> list[dict]:
    """Active volunteers of a village (all of the commune's without one), with their villages."""
    people = [v for v in volunteers(db, commune_id) if v["active"]]
    if village_id:
        members = {r[0] for r in db.execute("SELECT user_id FROM user_villages"
                                            " WHERE village_id = ?", [village_id])}
        people = [v for v in people if v["id"] in members]
    return people


def labels(db: sqlite_utils.Database, village_id: str) -> list[dict[str, Any]]:
    ids = household_ids(db, village_id)
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    return [{"id": r[0], "code": r[1]} for r in db.execute(
        f"SELECT id, code FROM households WHERE id IN ({marks}) ORDER BY code", ids)]


# -- communes (province admins) ---------------------------------------------------------------

def communes(db: sqlite_utils.Database, province_code: str) -> list[dict[str, Any]]:
    keys = ("id", "name", "province_name", "created_at", "admins", "volunteers", "records")
    return [dict(zip(keys, r, strict=True)) for r in db.execute(
        "SELECT c.id, c.name, c.province_name, c.created_at,"
        " (SELECT group_concat(username, ', ') FROM users WHERE commune_id = c.id"
        "  AND role = 'admin' AND active = 1),"
        " (SELECT count(*) FROM users WHERE commune_id = c.id AND role = 'volunteer'),"
        " (SELECT count(*) FROM records WHERE commune_id = c.id)"
        " FROM communes c WHERE c.province_code = ? ORDER BY c.name", [province_code])]


def province_admins(db: sqlite_utils.Database, province_code: str) -> list[dict[str, Any]]:
    keys = ("id", "username", "display_name", "commune", "active")
    return [dict(zip(keys, r, strict=True)) for r in db.execute(
        "SELECT u.id, u.username, u.display_name, c.name, u.active FROM users u"
        " JOIN communes c ON c.id = u.commune_id WHERE c.province_code = ? AND u.role = 'admin'"
        " ORDER BY c.name, u.username", [province_code])]


def province_name(db: sqlite_utils.Database, province_code: str) -> str:
    row = db.execute("SELECT province_name FROM communes WHERE province_code = ? LIMIT 1",
                     [province_code]).fetchone()
    return row[0] if row else ""


def check_commune_form(db: sqlite_utils.Database,
                       form: MultiDict) -> tuple[dict[str, str], Errors]:
    values = {"code": form.get("code", "").strip(),
              "name": " ".join(form.get("name", "").split()),
              "province_name": " ".join(form.get("province_name", "").split())}
    staff_values, errors = check_staff_form(db, MultiDict({
        "username": form.get("username", ""), "display_name": form.get("display_name", ""),
        "role": "admin"}))
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


def create_commune(db: sqlite_utils.Database, province_code: str,
                   values: dict[str, str]) -> str:
    """The commune and its first admin; returns the admin's one-time password."""
    add_commune(db, values["code"], values["name"], province_code, values["province_name"])
    return create_staff(db, values["code"], values)


# -- the audit log ----------------------------------------------------------------------------

def audit_page(db: sqlite_utils.Database, caller: dict[str, Any],
               page: int) -> list[dict[str, Any]]:
    """Newest first. A row belongs to the commune of its user (by id, else by the username
    typed at a failed login); rows of no known user (a mistyped username, a tampered cookie)
    are shown to province admins only."""
    scope = "coalesce(u.commune_id, n.commune_id)"
    if caller["role"] == "province":
        where = (f"({scope} IN (SELECT id FROM communes WHERE province_code = ?)"
                 " OR coalesce(u.province_code, n.province_code) = ?"
                 " OR (u.id IS NULL AND n.id IS NULL))")
        params: list[Any] = [caller["province_code"], caller["province_code"]]
    else:
        where, params = f"{scope} = ?", [caller["commune_id"]]
    keys = ("id", "at", "username", "action", "target", "detail", "ip")
    return [dict(zip(keys, r, strict=True)) for r in db.execute(
        "SELECT a.id, a.at, a.username, a.action, a.target, a.detail, a.ip FROM audit_log a"
        " LEFT JOIN users u ON u.id = a.user_id"
        " LEFT JOIN users n ON a.user_id IS NULL AND n.username = a.username"
        f" WHERE {where} ORDER BY a.id DESC LIMIT ? OFFSET ?",
        [*params, PAGE_SIZE, (max(page, 1) - 1) * PAGE_SIZE])]

from __future__ import annotations

import math
import re
import secrets
import unicodedata
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import sqlite_utils
from werkzeug.datastructures import MultiDict
from werkzeug.security import check_password_hash, generate_password_hash

from server.domain.audit import audit
from server.domain.db import now_iso
from server.domain.feeds import record_change

Errors = dict[str, str]  # a form field → the catalogue key of its problem

ROLES = ("admin", "reviewer", "viewer", "volunteer")


def add_user(
    db: sqlite_utils.Database,
    username: str,
    display_name: str,
    role: str,
    commune_id: str | None,
    password: str | None = None,
    union_name: str = "",
    phone: str = "",
    village_ids: list[str] | tuple[str, ...] = (),
    province_code: str | None = None,
) -> dict[str, Any]:
    """A staff account or a volunteer. ``province_code`` with no commune: a province admin."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if commune_id is None and not (role == "admin" and province_code):
        raise ValueError("only a province admin has no commune")
    row = {
        "username": username,
        "display_name": display_name,
        "role": role,
        "commune_id": commune_id,
        "province_code": province_code,
        "password_hash": generate_password_hash(password) if password else None,
        "union_name": union_name,
        "phone": phone,
        "active": 1,
        "created_at": now_iso(),
    }
    user_id = db["users"].insert(row).last_pk
    for village_id in village_ids:
        db["user_villages"].insert({"user_id": user_id, "village_id": village_id})
    return {**row, "id": user_id}


def new_password() -> str:
    return secrets.token_urlsafe(12)


def user_village_ids(db: sqlite_utils.Database, user_id: int) -> list[str]:
    return [
        r[0]
        for r in db.execute(
            "SELECT village_id FROM user_villages WHERE user_id = ? ORDER BY village_id", [user_id]
        )
    ]


def set_password(
    db: sqlite_utils.Database, user_id: int, password: str, must_change: bool = False
) -> int:
    """A new password; every session of the user made before ends. Returns the new epoch."""
    db.execute(
        "UPDATE users SET password_hash = ?, must_change_password = ?,"
        " session_epoch = session_epoch + 1 WHERE id = ?",
        [generate_password_hash(password), int(must_change), user_id],
    )
    return int(db.execute("SELECT session_epoch FROM users WHERE id = ?", [user_id]).fetchone()[0])


def end_sessions(db: sqlite_utils.Database, user_id: int) -> None:
    """Every session of the user ends (a logout): sessions are signed cookies, so a copied one
    would still work; the guard refuses a session whose epoch is no longer the user's."""
    db.execute("UPDATE users SET session_epoch = session_epoch + 1 WHERE id = ?", [user_id])


def set_villages(db: sqlite_utils.Database, user_id: int, village_ids: list[str]) -> list[str]:
    """Give a volunteer these villages; returns the newly given ones.

    The pull feed filters by today's villages but only moves forward, so a phone would never
    receive what a newly given village already holds: the village is put again for this
    volunteer alone (the caller sends its households the same way). A village taken away is
    deleted from the phone, with its households: they are no longer this volunteer's to see."""
    old = set(user_village_ids(db, user_id))
    new = set(village_ids)
    db.execute("DELETE FROM user_villages WHERE user_id = ?", [user_id])
    for village_id in sorted(new):
        db["user_villages"].insert({"user_id": user_id, "village_id": village_id})
    for village_id in sorted(new - old):
        village = db["villages"].get(village_id)
        record_change(
            db,
            "village",
            village_id,
            {k: village[k] for k in ("id", "name", "active")},
            commune_id=village["commune_id"],
            village_id=village_id,
            user_id=user_id,
        )
    for village_id in sorted(old - new):
        commune_id = db["villages"].get(village_id)["commune_id"]
        for (household_id,) in db.execute(
            "SELECT id FROM households WHERE village_id = ?", [village_id]
        ).fetchall():
            record_change(
                db,
                "household",
                household_id,
                {"id": household_id},
                commune_id=commune_id,
                user_id=user_id,
                op="delete",
            )
        record_change(
            db,
            "village",
            village_id,
            {"id": village_id},
            commune_id=commune_id,
            user_id=user_id,
            op="delete",
        )
    return sorted(new - old)


def volunteer_username(db: sqlite_utils.Database, display_name: str) -> str:
    """``tnv.`` and the name without diacritics (``Đỗ Thị Lan`` → ``tnv.dothilan``), numbered
    when taken: volunteers never type it, but staff read it in lists and the audit log."""
    plain = unicodedata.normalize("NFKD", display_name.replace("đ", "d").replace("Đ", "D"))
    slug = re.sub(r"[^a-z0-9]", "", plain.encode("ascii", "ignore").decode().lower())[:24]
    base = f"tnv.{slug or 'tnv'}"
    name, number = base, 1
    while db.execute("SELECT 1 FROM users WHERE username = ?", [name]).fetchone():
        number += 1
        name = f"{base}{number}"
    return name


# The unions volunteers come from; "other" is typed (teachers, the Front, commune police ...).
UNIONS = {"doan": "Đoàn Thanh niên", "phunu": "Hội Phụ nữ"}


_PHONE = re.compile(r"0\d{9}")


_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,31}")


def union_label(union_name: str, t: Any) -> str:
    for key, name in UNIONS.items():
        if union_name == name:
            return t(f"admin.union_{key}")
    return union_name


def staff_list(db: sqlite_utils.Database, commune_id: str) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in db.execute(
            "SELECT id, username, display_name, role, active, must_change_password FROM users"
            " WHERE commune_id = ? AND role != 'volunteer'"
            " ORDER BY active DESC, role, username",
            [commune_id],
        )
    ]


def check_staff_form(db: sqlite_utils.Database, form: MultiDict) -> tuple[dict[str, str], Errors]:
    values = {
        "username": form.get("username", "").strip().lower(),
        "display_name": " ".join(form.get("display_name", "").split()),
        "role": form.get("role", ""),
    }
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


def check_command_line_account(
    db: sqlite_utils.Database,
    commune_id: str | None,
    username: str,
    display_name: str,
    role: str,
    phone: str = "",
    village_ids: tuple[str, ...] | list[str] = (),
) -> Errors:
    """The staff site's checks for an account added from `gocua user add`: the same username,
    name and role rules, and a volunteer's phone (if given) and villages of that commune."""
    _, errors = check_staff_form(
        db,
        MultiDict(
            {
                "username": username,
                "display_name": display_name,
                "role": role if role != "volunteer" else "reviewer",
            }
        ),
    )
    if username != username.strip().lower():
        errors.setdefault("username", "admin.error_username")
    if (
        commune_id is not None
        and not db.execute("SELECT 1 FROM communes WHERE id = ?", [commune_id]).fetchone()
    ):
        errors["commune"] = "admin.error_commune_unknown"
    if commune_id is not None and role == "volunteer":
        if phone and not _PHONE.fullmatch(phone):
            errors["phone"] = "admin.error_phone"
        known = {
            r[0] for r in db.execute("SELECT id FROM villages WHERE commune_id = ?", [commune_id])
        }
        if not village_ids or not set(village_ids) <= known:
            errors["villages"] = "admin.error_villages"
    return errors


def create_staff(
    db: sqlite_utils.Database,
    commune_id: str | None,
    values: dict[str, str],
    province_code: str | None = None,
) -> str:
    """A staff account whose first password is shown once and must be changed at first login."""
    password = new_password()
    user = add_user(
        db,
        values["username"],
        values["display_name"],
        values["role"],
        commune_id,
        password=password,
        province_code=province_code,
    )
    db.execute("UPDATE users SET must_change_password = 1 WHERE id = ?", [user["id"]])
    return password


def user_in_scope(
    db: sqlite_utils.Database, caller: dict[str, Any], user_id: int
) -> dict[str, Any] | None:
    """A user this caller may reset or deactivate: a commune admin, anyone of the commune; a
    province admin, the admins of the province's communes."""
    row = db.execute(
        "SELECT u.id, u.username, u.display_name, u.role, u.commune_id, u.active,"
        " c.province_code FROM users u LEFT JOIN communes c ON c.id = u.commune_id"
        " WHERE u.id = ?",
        [user_id],
    ).fetchone()
    if row is None:
        return None
    user = dict(row)
    if caller["role"] == "admin" and user["commune_id"] == caller["commune_id"]:
        return user
    if (
        caller["role"] == "province"
        and user["role"] == "admin"
        and user["commune_id"]
        and user["province_code"] == caller["province_code"]
    ):
        return user
    return None


def set_active(db: sqlite_utils.Database, user_id: int, active: bool) -> None:
    # Deactivating ends the person's sessions and the phones' access (tokens need an active
    # user); the phones are not revoked, so reactivating brings them back.
    db.execute(
        "UPDATE users SET active = ?, session_epoch = session_epoch + 1 WHERE id = ?",
        [int(active), user_id],
    )


def volunteers(db: sqlite_utils.Database, commune_id: str) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in db.execute(
            "SELECT u.id, u.username, u.display_name, u.union_name, u.phone, u.active,"
            " (SELECT group_concat(v.name, ', ') FROM user_villages uv"
            "  JOIN villages v ON v.id = uv.village_id WHERE uv.user_id = u.id) AS villages,"
            " (SELECT count(*) FROM devices d WHERE d.user_id = u.id AND d.revoked_at IS NULL)"
            " AS devices"
            " FROM users u WHERE u.commune_id = ? AND u.role = 'volunteer'"
            " ORDER BY u.active DESC, u.display_name",
            [commune_id],
        )
    ]


def volunteer(db: sqlite_utils.Database, commune_id: str, user_id: int) -> dict[str, Any] | None:
    row = db.execute(
        "SELECT id, username, display_name, union_name, phone, active, created_at"
        " FROM users WHERE id = ? AND commune_id = ? AND role = 'volunteer'",
        [user_id, commune_id],
    ).fetchone()
    if row is None:
        return None
    person = dict(row)
    person["village_ids"] = user_village_ids(db, user_id)
    person["union_key"] = next((k for k, v in UNIONS.items() if v == person["union_name"]), "other")
    return person


def check_volunteer_form(
    form: MultiDict, allowed_villages: list[dict[str, Any]]
) -> tuple[dict[str, Any], Errors]:
    union = form.get("union", "")
    other = " ".join(form.get("union_other", "").split())
    phone = re.sub(r"[\s.\-]", "", form.get("phone", ""))
    values = {
        "display_name": " ".join(form.get("display_name", "").split()),
        "union": union,
        "union_other": other,
        "phone": phone,
        "union_name": UNIONS.get(union, other),
        "village_ids": sorted(set(form.getlist("villages"))),
    }
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


def create_volunteer(
    db: sqlite_utils.Database, commune_id: str, values: dict[str, Any]
) -> dict[str, Any]:
    return add_user(
        db,
        volunteer_username(db, values["display_name"]),
        values["display_name"],
        "volunteer",
        commune_id,
        union_name=values["union_name"],
        phone=values["phone"],
        village_ids=values["village_ids"],
    )


def update_volunteer(db: sqlite_utils.Database, user_id: int, values: dict[str, Any]) -> list[str]:
    """Save the form; returns the newly given villages (the caller sends their households)."""
    db.execute(
        "UPDATE users SET display_name = ?, union_name = ?, phone = ? WHERE id = ?",
        [values["display_name"], values["union_name"], values["phone"], user_id],
    )
    return set_villages(db, user_id, values["village_ids"])


def team(db: sqlite_utils.Database, commune_id: str, village_id: str | None) -> list[dict]:
    """Active volunteers of a village (all of the commune's without one), with their villages."""
    people = [v for v in volunteers(db, commune_id) if v["active"]]
    if village_id:
        members = {
            r[0]
            for r in db.execute(
                "SELECT user_id FROM user_villages WHERE village_id = ?", [village_id]
            )
        }
        people = [v for v in people if v["id"] in members]
    return people


def province_admins(db: sqlite_utils.Database, province_code: str) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in db.execute(
            "SELECT u.id, u.username, u.display_name, c.name AS commune, u.active FROM users u"
            " JOIN communes c ON c.id = u.commune_id WHERE c.province_code = ? AND u.role = 'admin'"
            " ORDER BY c.name, u.username",
            [province_code],
        )
    ]


STAFF_ROLES = ("admin", "reviewer", "viewer")


PROVINCE = "province"


# Failed logins that lock a username, or an address, for the rest of the window (the app's
# LOGIN_LIMIT_USER and LOGIN_LIMIT_IP settings override the counts).
LOGIN_WINDOW = timedelta(minutes=15)


LOGIN_LIMIT_USER = 5


LOGIN_LIMIT_IP = 20


MIN_PASSWORD = 10


# What a login form may carry: anything longer is refused before it is hashed, counted or
# written to the append-only audit log. New usernames follow _USERNAME (at most 32); 64 leaves
# room for the volunteers' made-up ones and for accounts made on the command line.
MAX_USERNAME = 64


MAX_PASSWORD = 1024


_USER_KEYS = (
    "id",
    "username",
    "display_name",
    "role",
    "commune_id",
    "province_code",
    "session_epoch",
    "must_change_password",
)


_USER_SQL = f"SELECT {', '.join(_USER_KEYS)}, password_hash FROM users"


def _staff(row: Any) -> dict[str, Any] | None:
    """A users row as the session's user, with its effective role; None for a volunteer."""
    if row is None or row["role"] not in STAFF_ROLES:
        return None
    user = {key: row[key] for key in _USER_KEYS}
    if user["role"] == "admin" and user["commune_id"] is None:
        if not user["province_code"]:
            return None
        user["role"] = PROVINCE
    return user


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_hex(16))


def login_wait(
    db: Any,
    username: str,
    ip: str,
    user_limit: int = LOGIN_LIMIT_USER,
    ip_limit: int = LOGIN_LIMIT_IP,
) -> int:
    """Minutes until this username and this address may try again (0: now)."""
    now = datetime.now(UTC)
    start = _iso(now - LOGIN_WINDOW)
    # A success, or an admin's reset, starts the username's count again (by row id: both can
    # fall in one second); an address's count is never reset by a success, or an attacker
    # could clear it by logging into an account of their own.
    last_ok = max(
        db.execute(
            "SELECT coalesce(max(id), 0) FROM audit_log WHERE username = ? AND action = 'login'",
            [username],
        ).fetchone()[0],
        db.execute(
            "SELECT coalesce(max(id), 0) FROM audit_log WHERE target = ?"
            " AND action = 'password_reset'",
            [f"user:{username}"],
        ).fetchone()[0],
    )
    return max(
        _wait(db, "username", username, start, last_ok, user_limit, now),
        _wait(db, "ip", ip, start, 0, ip_limit, now),
    )


def _wait(
    db: Any, column: str, value: str, start: str, after_id: int, limit: int, now: datetime
) -> int:
    rows = db.execute(
        f"SELECT at FROM audit_log WHERE {column} = ? AND action = 'login_failed' AND at > ?"
        " AND id > ? ORDER BY id DESC LIMIT ?",
        [value, start, after_id, limit],
    ).fetchall()
    if len(rows) < limit:
        return 0
    # The lock lifts when the limit-th latest failure leaves the window.
    seconds = (_parse(rows[-1][0]) + LOGIN_WINDOW - now).total_seconds()
    return max(1, math.ceil(seconds / 60))


def password_problem(user: dict[str, Any], new: str, confirm: str) -> str | None:
    """The catalogue key saying what is wrong with a new password, or None."""
    if len(new) < MIN_PASSWORD:
        return "admin.password_short"
    if len(new) > MAX_PASSWORD:  # it could never be typed at the login
        return "admin.password_long"
    if new != confirm:
        return "admin.password_mismatch"
    if new.casefold() == user["username"].casefold():
        return "admin.password_is_username"
    return None


def authenticate(db: sqlite_utils.Database, username: str, password: str) -> dict[str, Any] | None:
    """The active staff user with this password, or None; as slow for an unknown username as
    for a known one, so the answer's timing does not tell which usernames exist."""
    row = db.execute(f"{_USER_SQL} WHERE username = ? AND active = 1", [username]).fetchone()
    user = _staff(row)
    if user is None or not row["password_hash"]:
        check_password_hash(_dummy_hash(), password)
        return None
    return user if check_password_hash(row["password_hash"], password) else None


def session_user(db: sqlite_utils.Database, user_id: int) -> dict[str, Any] | None:
    """The active staff user a session names, with its effective role (None: gone, or a
    volunteer)."""
    return _staff(db.execute(f"{_USER_SQL} WHERE id = ? AND active = 1", [user_id]).fetchone())


def password_matches(db: sqlite_utils.Database, user_id: int, password: str) -> bool:
    row = db.execute("SELECT password_hash FROM users WHERE id = ?", [user_id]).fetchone()
    return bool(row and row[0] and check_password_hash(row[0], password))


def reset_password(
    db: sqlite_utils.Database, target: dict[str, Any], *, by_user_id: int | None, by_username: str
) -> str:
    """An admin's reset (on the staff site or with ``gocua user reset-password``): a new random
    password that must be changed at the next login; every session of the account ends, a
    lock on its username lifts (login_wait counts from the reset) and the log says who did it.
    Runs in the caller's transaction; returns the new password, to be shown once."""
    password = new_password()
    set_password(db, target["id"], password, must_change=True)
    audit(
        db,
        "password_reset",
        user_id=by_user_id,
        username=by_username,
        target=f"user:{target['username']}",
    )
    return password


def staff_by_username(db: sqlite_utils.Database, username: str) -> dict[str, Any] | None:
    """A staff account (any commune, a province admin too) by its username, active or not."""
    row = db.execute(
        "SELECT id, username, role FROM users WHERE username = ? AND role != 'volunteer'",
        [username],
    ).fetchone()
    return dict(row) if row else None


def has_staff(db: sqlite_utils.Database) -> bool:
    """Whether anyone can log in to the staff site yet (a new installation without the demo)."""
    return db.execute("SELECT 1 FROM users WHERE role != 'volunteer'").fetchone() is not None


def volunteer_id(db: sqlite_utils.Database, username: str) -> int | None:
    row = db.execute(
        "SELECT id FROM users WHERE username = ? AND role = 'volunteer'", [username]
    ).fetchone()
    return row[0] if row else None

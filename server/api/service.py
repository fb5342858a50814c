"""Sync protocol v1 on the server: enroll, push, pull, status. Plain functions; routes stay thin."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlite_utils
from marshmallow import ValidationError

from schemas.messages import message
from schemas.validate import Errors
from server.db import now_iso, write_transaction
from server.forms import get_form
from server.people import (
    EnrollmentRefused,
    add_household,
    redeem_enrollment_code,
    villages_of,
)
from sync.protocol import (
    APPLIED,
    CONFLICT,
    DUPLICATE,
    PROTOCOL_VERSION,
    REJECTED,
    RecordSchema,
    field_errors,
)

_record_schema = RecordSchema()


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def enroll(db: sqlite_utils.Database, code: str) -> dict[str, Any]:
    """Redeem a code; raises EnrollmentRefused. The token is shown once, stored only hashed."""
    with write_transaction(db):
        device, token = redeem_enrollment_code(db, code)
        user = db.execute("SELECT id, username, display_name, commune_id FROM users"
                          " WHERE id = ?", [device["user_id"]]).fetchone()
        commune = db.execute("SELECT id, name, province_name FROM communes WHERE id = ?",
                             [user[3]]).fetchone()
        village_ids = [r[0] for r in db.execute(
            "SELECT village_id FROM user_villages WHERE user_id = ?", [user[0]])]
    return {
        "protocol": PROTOCOL_VERSION,
        "device_id": device["id"],
        "token": token,
        "user": {"id": user[0], "username": user[1], "display_name": user[2]},
        "commune": {"id": commune[0], "name": commune[1], "province_name": commune[2]},
        "villages": villages_of(db, village_ids),
    }


def push(db: sqlite_utils.Database, device: dict[str, Any],
         items: list[Any]) -> list[dict[str, Any]]:
    """Store a batch in one transaction; one result per item, in order."""
    with write_transaction(db):
        results = [_push_one(db, device, item) for item in items]
        db.execute("UPDATE devices SET last_seen_at = ? WHERE id = ?", [now_iso(), device["id"]])
    return results


def _rejected(item: Any, errors: Errors) -> dict[str, Any]:
    ident = item if isinstance(item, dict) else {}
    return {"id": ident.get("id"), "rev": ident.get("rev"), "status": REJECTED,
            "errors": errors}


def _error(code: str, **params: Any) -> list[dict[str, str]]:
    return [{"code": code, **message(f"field.{code}", **params)}]


def _push_one(db: sqlite_utils.Database, device: dict[str, Any], item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        return _rejected(item, {"_": _error("not_object")})
    try:
        record = _record_schema.load(item)
    except ValidationError as error:
        return _rejected(item, field_errors(error.messages))
    rid, rev = record["id"], record["rev"]
    current = db.execute("SELECT rev, commune_id FROM records WHERE id = ?", [rid]).fetchone()
    if current and current[1] != device["commune_id"]:
        return _rejected(item, {"id": _error("out_of_scope")})
    seen = db.execute("SELECT status FROM revisions WHERE record_id = ? AND rev = ?",
                      [rid, rev]).fetchone()
    if seen:
        first = CONFLICT if seen[0] == "conflict" else APPLIED
        return {"id": rid, "rev": rev, "status": DUPLICATE, "first_status": first,
                "server_rev": current[0] if current else rev}
    problem = _scope_problem(db, device, record)
    if problem:
        return _rejected(item, problem)
    found = get_form(db, record["form_id"], record["form_version"])
    if found is None:
        return _rejected(item, {"form_version": _error("unknown_form")})
    errors = found[1].check(record["data"], today=_visit_day(record))
    if errors:
        return _rejected(item, errors)
    return _store(db, device, record, current[0] if current else None)


def _visit_day(record: dict[str, Any]) -> str | None:
    # today() in a constraint means the day of the visit, not the day the phone found signal.
    meta = record["meta"]
    day = str(meta.get("visit_date") or meta.get("started_at") or "")[:10]
    return day if len(day) == 10 else None


def _scope_problem(db: sqlite_utils.Database, device: dict[str, Any],
                   record: dict[str, Any]) -> Errors | None:
    if record["village_id"] not in device["village_ids"]:
        return {"village_id": _error("out_of_scope")}
    household_id = record["household_id"]
    if household_id:
        row = db.execute("SELECT village_id FROM households WHERE id = ?",
                         [household_id]).fetchone()
        if row and row[0] != record["village_id"]:
            return {"household_id": _error("wrong_village")}
    return None


def _store(db: sqlite_utils.Database, device: dict[str, Any], record: dict[str, Any],
           current_rev: str | None) -> dict[str, Any]:
    rid, rev, now = record["id"], record["rev"], now_iso()
    household_id = record["household_id"]
    if household_id and not db.execute("SELECT 1 FROM households WHERE id = ?",
                                       [household_id]).fetchone():
        # A household met on the lane: the phone made its id; it joins the register.
        data = record["data"]
        add_household(db, record["village_id"], str(data.get("head_name") or ""),
                      str(data.get("address") or ""), household_id=household_id)
    data, meta = _dumps(record["data"]), _dumps(record["meta"])
    revision = {"record_id": rid, "rev": rev, "base_rev": record["base_rev"], "data": data,
                "meta": meta, "device_id": device["id"], "user_id": device["user_id"],
                "received_at": now}
    if current_rev is not None and current_rev != record["base_rev"]:
        # Someone else changed the record since this phone's copy: the server's version stays
        # current, the phone's is kept beside it for a reviewer to resolve. Nothing is lost.
        db["revisions"].insert({**revision, "status": "conflict"})
        return {"id": rid, "rev": rev, "status": CONFLICT, "server_rev": current_rev}
    columns = {"rev": rev, "village_id": record["village_id"],
               "household_id": record["household_id"], "form_id": record["form_id"],
               "form_version": record["form_version"], "data": data, "meta": meta,
               "device_id": device["id"], "user_id": device["user_id"],
               "review_state": "received", "updated_at": now}
    if current_rev is None:
        db["records"].insert({"id": rid, "commune_id": device["commune_id"],
                              "received_at": now, **columns})
    else:
        db["records"].update(rid, columns)
        db.execute("UPDATE revisions SET status = 'superseded' WHERE record_id = ?"
                   " AND status = 'current'", [rid])
    db["revisions"].insert({**revision, "status": "current"})
    return {"id": rid, "rev": rev, "status": APPLIED}


def pull(db: sqlite_utils.Database, device: dict[str, Any], since: int,
         limit: int) -> dict[str, Any]:
    """The changes after ``since`` this device may see, oldest first, one page."""
    villages = device["village_ids"]
    marks = ",".join("?" * len(villages)) or "NULL"
    rows = db.execute(
        "SELECT seq, kind, entity_id, op, payload FROM changes WHERE seq > ?"
        " AND (commune_id IS NULL OR commune_id = ?)"
        f" AND (village_id IS NULL OR village_id IN ({marks}))"
        " AND (user_id IS NULL OR user_id = ?) ORDER BY seq LIMIT ?",
        [since, device["commune_id"], *villages, device["user_id"], limit + 1]).fetchall()
    page = rows[:limit]
    changes = [{"seq": r[0], "kind": r[1], "id": r[2], "op": r[3], "data": json.loads(r[4])}
               for r in page]
    return {"changes": changes, "next_since": page[-1][0] if page else since,
            "has_more": len(rows) > limit}


def status(db: sqlite_utils.Database, device: dict[str, Any]) -> dict[str, Any]:
    """What the server holds from this device: counts, and a digest of its (id, rev) pairs."""
    pairs = db.execute("SELECT record_id, rev FROM revisions WHERE device_id = ?"
                       " ORDER BY record_id, rev", [device["id"]]).fetchall()
    digest = hashlib.sha256("".join(f"{rid} {rev}\n" for rid, rev in pairs).encode())
    states = dict(db.execute("SELECT review_state, count(*) FROM records WHERE device_id = ?"
                             " GROUP BY review_state", [device["id"]]).fetchall())
    return {"device_id": device["id"], "revisions": len(pairs),
            "records": sum(states.values()), "by_state": states,
            "digest": digest.hexdigest()}


__all__ = ["EnrollmentRefused", "enroll", "pull", "push", "status"]

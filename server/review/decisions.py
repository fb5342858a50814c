"""Review decisions and staff-made revisions: the writes of the review workspace.

A decision (received / has issues / approved / rejected, with a comment) is kept in ``reviews``
and sent to the phones of the volunteer who sent the record — a ``review`` change with
``user_id`` set, so that nobody else's phone pulls it. A staff revision (an edit, a resolved
conflict, an erasure) is a new current revision made by the staff account, with no device.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import sqlite_utils

from server.changes import record_change
from server.db import now_iso
from server.review.followup import refresh_household

# States a reviewer sets by hand; "edited" comes from a staff revision.
DECISIONS = ("received", "has_issues", "approved", "rejected")


class ReviewRefused(Exception):
    """A decision or revision the rules do not allow; ``code`` names the catalogue message."""

    def __init__(self, code: str, status: int = 400, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.params = params


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def decide(db: sqlite_utils.Database, staff: dict[str, Any], record: dict[str, Any],
           state: str, comment: str, rev: str) -> dict[str, Any]:
    """Record a reviewer's decision on the current revision (inside the caller's
    transaction). ``rev`` is the revision the reviewer read: a decision on a revision that
    has since been replaced is refused, so nobody approves what they did not see."""
    comment = comment.strip()
    if state not in DECISIONS:
        raise ReviewRefused("review.error_state")
    if state in ("has_issues", "rejected") and not comment:
        raise ReviewRefused("review.error_comment_needed")
    if len(comment) > 2000:
        raise ReviewRefused("review.error_comment_long")
    if rev != record["rev"]:
        raise ReviewRefused("review.error_stale", status=409)
    return _write_review(db, staff, record, record["rev"], state, comment)


def _write_review(db: sqlite_utils.Database, staff: dict[str, Any], record: dict[str, Any],
                  rev: str, state: str, comment: str) -> dict[str, Any]:
    at = now_iso()
    db.execute("INSERT INTO reviews (record_id, rev, review_state, comment, user_id, username,"
               " display_name, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
               [record["id"], rev, state, comment, staff["id"], staff["username"],
                staff["display_name"], at])
    db.execute("UPDATE records SET review_state = ?, updated_at = ? WHERE id = ?",
               [state, at, record["id"]])
    payload = {"record_id": record["id"], "rev": rev, "review_state": state,
               "comment": comment, "by": staff["display_name"], "at": at}
    if state == "edited":
        # The office changed the answers: the phone takes this version as its own copy.
        payload["data"] = json.loads(db.execute("SELECT data FROM records WHERE id = ?",
                                                [record["id"]]).fetchone()[0])
    if record.get("user_id") is not None:
        record_change(db, "review", record["id"], payload, commune_id=record["commune_id"],
                      village_id=record["village_id"], user_id=record["user_id"])
    return payload


def new_revision(db: sqlite_utils.Database, staff: dict[str, Any], record: dict[str, Any],
                 data: dict[str, Any], comment: str = "") -> str:
    """Store ``data`` as the record's new current revision made by ``staff`` (based on the
    current one), mark the record edited and tell the volunteer's phones. Returns the rev."""
    rev, now = str(uuid.uuid4()), now_iso()
    db.execute("UPDATE revisions SET status = 'superseded' WHERE record_id = ?"
               " AND status = 'current'", [record["id"]])
    db["revisions"].insert({
        "record_id": record["id"], "rev": rev, "base_rev": record["rev"], "status": "current",
        "data": _dumps(data), "meta": _dumps(record["meta"]), "device_id": None,
        "user_id": staff["id"], "received_at": now, "form_id": record["form_id"],
        "form_version": record["form_version"], "village_id": record["village_id"],
        "household_id": record["household_id"]})
    # The record stays the volunteer's (user_id, device_id): the revision says who edited.
    db.execute("UPDATE records SET rev = ?, data = ?, updated_at = ? WHERE id = ?",
               [rev, _dumps(data), now, record["id"]])
    _write_review(db, staff, record, rev, "edited", comment.strip())
    refresh_household(db, record.get("household_id"))
    return rev

"""A person's data (Law 91/2025) wherever the server holds it: the one door the staff pages
find, export and erase through. Each store does its own part, in a module of its package
named ``rights``: records, the register and their copies (``records/rights.py``), and ODK
Collect submissions not yet records (``openrosa/rights.py``); an occurrence's key
(``role:target:index``) says which of the two holds it. ``make lint`` keeps the web and the
CLI from calling either part directly."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import sqlite_utils

from schemas.text import fold
from server.domain import blobs
from server.domain.audit import audit
from server.domain.db import write_transaction
from server.domain.errors import Refused
from server.domain.household_import import forget
from server.domain.openrosa import rights as waiting
from server.domain.records import rights as records

ROLES = (*records.ROLES, *waiting.ROLES)
_log = logging.getLogger(__name__)


def find(db: sqlite_utils.Database, commune_id: str, query: str) -> list[dict[str, Any]]:
    """Every place a name containing ``query`` appears: records and the register first."""
    found = records.find(db, commune_id, query)
    return found + waiting.find(db, commune_id, fold(query))


def _collect(key: str) -> bool:
    return key.startswith(waiting.PREFIX)


def parse_keys(commune_id: str, db: sqlite_utils.Database, keys: list[str]) -> list[dict[str, Any]]:
    """The ticked occurrences, each checked to belong to this commune."""
    keys = list(dict.fromkeys(keys))
    others = [k for k in keys if not _collect(k)]
    out = records.parse_keys(commune_id, db, others) if others else []
    for key in filter(_collect, keys):
        role, _, rest = key.partition(":")
        target, _, index = rest.rpartition(":")  # an instanceID holds colons (uuid:…)
        if (
            role not in waiting.ROLES
            or (index and not (index.isascii() and index.isdigit()))
            or not waiting.waiting(db, commune_id, target)
        ):
            raise Refused("review.people_bad_selection")
        out.append({"role": role, "target": target, "index": int(index) if index else None})
    if not out:
        raise Refused("review.people_nothing_selected")
    return out


def export(
    db: sqlite_utils.Database, commune_id: str, selected: list[dict[str, Any]]
) -> dict[str, Any]:
    """Everything held about the person in the ticked places (``records.export``'s file)."""
    body = records.export(db, commune_id, [s for s in selected if not _collect(s["role"])])
    body["items"] += [waiting.export(db, commune_id, s) for s in selected if _collect(s["role"])]
    return body


def erase(
    db: sqlite_utils.Database,
    staff: dict[str, Any],
    commune_id: str,
    selected: list[dict[str, Any]],
) -> records.Erasure:
    """Erase the ticked occurrences (inside the caller's transaction); returns what was
    touched for the audit log (record and household ids, ``collect:INSTANCE`` for a waiting
    submission) and the files the erased answers named, which it queues for ``sweep`` once
    it has committed."""
    done = records.erase(db, staff, commune_id, [s for s in selected if not _collect(s["role"])])
    by_submission: dict[str, tuple[set[str], set[int]]] = {}
    for sel in filter(lambda s: _collect(s["role"]), selected):
        roles, indexes = by_submission.setdefault(sel["target"], (set(), set()))
        roles.add(sel["role"].removeprefix(waiting.PREFIX))
        if sel["index"] is not None:
            indexes.add(sel["index"])
    names: set[str] = set()
    for instance_id, (roles, indexes) in by_submission.items():
        names |= waiting.erase(db, commune_id, instance_id, roles, indexes, done.files)
        done.touched.append(f"collect:{instance_id}")
    forget(db, commune_id, names)  # an import preview listing the person, as for records
    blobs.queue_sweep(db, commune_id, done.files)
    return done


def sweep(
    db: sqlite_utils.Database,
    data_dir: str | Path,
    commune_id: str,
    user: dict[str, Any] | None = None,
) -> int | None:
    """After an erasure has committed, in a write transaction of its own: the files the
    commune's erasures took out of the answers (``queue_sweep``) that nothing names any more
    leave the disk (``blobs.sweep``); the audit log says how many (never which: a hash could
    find the file elsewhere). ``user``: the staff member who erased, else the commune server
    whose erasure this applies. None when the sweep failed: the files stay queued, for the
    commune's next sweep or the server's next start (``sweep_pending``)."""
    try:
        with write_transaction(db):
            queued = {
                r[0]
                for r in db.execute(
                    "SELECT sha256 FROM file_sweeps WHERE commune_id = ?", [commune_id]
                )
            }
            removed = blobs.sweep(db, data_dir, commune_id, queued)
            db.execute("DELETE FROM file_sweeps WHERE commune_id = ?", [commune_id])
            if removed:
                audit(
                    db,
                    "files_erased",
                    user_id=user["id"] if user else None,
                    username=user["username"] if user else f"commune:{commune_id}",
                    target=f"commune:{commune_id}",
                    detail=f"{removed} files",
                )
    except (OSError, sqlite3.OperationalError):  # the disk, or the database busy or full
        # The erasure itself has committed: its answers are gone whatever happens to the files.
        _log.exception("sweeping the files of an erasure in commune %s failed", commune_id)
        return None
    return removed


# Who the audit log says swept the files an earlier run left queued.
PENDING_SWEEPER = {"id": None, "username": "system:sweep"}


def sweep_pending(db: sqlite_utils.Database, data_dir: str | Path) -> None:
    """At the server's start: the sweeps an earlier run queued and did not finish."""
    communes = [r[0] for r in db.execute("SELECT DISTINCT commune_id FROM file_sweeps")]
    for commune_id in communes:
        sweep(db, data_dir, commune_id, PENDING_SWEEPER)

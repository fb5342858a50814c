"""The receiving side of upstream replication (a province server): what a commune server sends
beside its records, applied inside the push's one transaction.

A peer token is bound to one commune and brings only what is that commune's: a form version
it installs is that commune's alone (``install_form(commune_id=…)``: only its phones and records
see it), and the commune's name and province belong to the province (the peer's commune row
makes the commune when the province has none yet; later its values are ignored).

The commune row, form versions, villages and households come first (records point at them; a
household whose person was erased on the sender is first scrubbed here, row and feed), then the
batch's records go through the same checks as a phone's, then which revision is current, its
review state and the conflicts settled on the sender, then the sender's checkpoint -- all in one
transaction, so a batch is either wholly here with its checkpoint or not at all.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import sqlite_utils

from schemas.form import FormError
from server.domain.blobs import queue_sweep, revision_files
from server.domain.db import now_iso
from server.domain.errors import ApiError
from server.domain.feeds import record_change
from server.domain.followups import forget_put, register_put
from server.domain.forms import FormVersionExists, install_form
from server.domain.records import rights, store


def apply_context(
    db: sqlite_utils.Database, peer: dict[str, Any], upstream: dict[str, Any]
) -> None:
    try:
        _apply_context(db, peer, upstream)
    except sqlite3.IntegrityError as error:
        # Deterministic: sending the same batch again cannot help, so not a 5xx to retry.
        raise ApiError(409, "upstream_inconsistent", detail=str(error)) from None


def _apply_context(
    db: sqlite_utils.Database, peer: dict[str, Any], upstream: dict[str, Any]
) -> None:
    commune_id = peer["commune_id"]
    commune = upstream.get("commune")
    if commune is not None:
        if commune["id"] != commune_id:
            raise ApiError(403, "wrong_commune", commune=commune["id"], allowed=commune_id)
        _put_commune(db, commune)
    for form in upstream["forms"]:
        _put_form(db, commune_id, form)
    if (
        upstream["villages"]
        and not db.execute("SELECT 1 FROM communes WHERE id = ?", [commune_id]).fetchone()
    ):
        raise ApiError(422, "unknown_commune", commune=commune_id)
    # Villages merged into another come after the one they name.
    villages = sorted(upstream["villages"], key=lambda v: bool(v.get("merged_into")))
    for village in villages:
        _put_village(db, commune_id, village)
    for erasure in upstream.get("erasures") or []:
        _erase_household(db, commune_id, erasure["id"])
    for household in upstream["households"]:
        _put_household(db, commune_id, household)


def _put_commune(db: sqlite_utils.Database, commune: dict[str, Any]) -> None:
    # The province owns a commune's name and province: a peer's first push creates the row,
    # later ones never move it (into another province's overview, or under another name).
    # Ignored rather than refused: the commune server offers its row again on every run, and
    # a refusal would stop its records over a field it cannot change through replication.
    db.execute(
        "INSERT INTO communes (id, name, province_code, province_name, created_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        [
            commune["id"],
            commune["name"],
            commune["province_code"],
            commune["province_name"],
            now_iso(),
        ],
    )


def _put_form(db: sqlite_utils.Database, commune_id: str, form: dict[str, Any]) -> None:
    settings = form["definition"].get("settings") or {}
    if (settings.get("form_id"), str(settings.get("version"))) != (
        form["form_id"],
        form["version"],
    ):
        raise ApiError(422, "form_mismatch", form_id=form["form_id"], version=form["version"])
    try:
        install_form(db, form["definition"], commune_id=commune_id)
    except FormVersionExists:
        raise ApiError(
            409, "form_version_differs", form_id=form["form_id"], version=form["version"]
        ) from None
    except FormError as error:
        raise ApiError(
            422, "form_invalid", form_id=form["form_id"], version=form["version"], detail=str(error)
        ) from None


def _owner(db: sqlite_utils.Database, table: str, entity_id: str) -> str | None:
    row = db.execute(f"SELECT commune_id FROM {table} WHERE id = ?", [entity_id]).fetchone()
    return row[0] if row else None


def _columns(db: sqlite_utils.Database, table: str) -> set[str]:
    return {r["name"] for r in db.execute(f"PRAGMA table_info({table})")}


def _put_village(db: sqlite_utils.Database, commune_id: str, village: dict[str, Any]) -> None:
    owner = _owner(db, "villages", village["id"])
    if owner not in (None, commune_id):
        raise ApiError(403, "wrong_commune", commune=owner, allowed=commune_id)
    if village["op"] == "delete":
        if owner is None:
            return
        try:  # inside a savepoint: a village that records still name stays, inactive
            db.execute("SAVEPOINT village_delete")
            db.execute("DELETE FROM villages WHERE id = ?", [village["id"]])
            db.execute("RELEASE village_delete")
        except sqlite3.IntegrityError:
            db.execute("ROLLBACK TO village_delete")
            db.execute("RELEASE village_delete")
            db.execute("UPDATE villages SET active = 0 WHERE id = ?", [village["id"]])
        record_change(
            db,
            "village",
            village["id"],
            {"id": village["id"]},
            commune_id=commune_id,
            village_id=village["id"],
            op="delete",
        )
        return
    row = {"name": village["name"], "active": int(village["active"])}
    known = _columns(db, "villages")
    for optional in ("merged_into", "merged_at"):
        if optional in village and optional in known:
            row[optional] = village[optional]
    if owner is None:
        db["villages"].insert(
            {"id": village["id"], "commune_id": commune_id, "created_at": now_iso(), **row}
        )
    else:
        db["villages"].update(village["id"], row)
    record_change(
        db,
        "village",
        village["id"],
        {"id": village["id"], "name": row["name"], "active": row["active"]},
        commune_id=commune_id,
        village_id=village["id"],
    )


def _put_household(db: sqlite_utils.Database, commune_id: str, household: dict[str, Any]) -> None:
    owner = _owner(db, "households", household["id"])
    if owner not in (None, commune_id):
        raise ApiError(403, "wrong_commune", commune=owner, allowed=commune_id)
    if household["op"] == "delete":
        if owner is not None:
            current = db.execute(
                "SELECT village_id FROM households WHERE id = ?", [household["id"]]
            ).fetchone()[0]
            try:
                db.execute("SAVEPOINT household_delete")
                forget_put(db, household["id"])
                db.execute("DELETE FROM households WHERE id = ?", [household["id"]])
                db.execute("RELEASE household_delete")
            except sqlite3.IntegrityError:  # visits still name it: it stays on the register
                db.execute("ROLLBACK TO household_delete")
                db.execute("RELEASE household_delete")
            record_change(
                db,
                "household",
                household["id"],
                {"id": household["id"]},
                commune_id=commune_id,
                village_id=current,
                op="delete",
            )
        return
    if _owner(db, "villages", household["village_id"] or "") != commune_id:
        raise ApiError(422, "unknown_village", village=household["village_id"])
    now = now_iso()
    row = {
        "village_id": household["village_id"],
        "head_name": household["head_name"],
        "address": household["address"],
        "updated_at": now,
        "code": _free_code(db, household["code"], household["id"], commune_id),
    }
    if "removed_at" in household and "removed_at" in _columns(db, "households"):
        row["removed_at"] = household["removed_at"]
    payload = {k: row[k] for k in ("village_id", "code", "head_name", "address")}
    if not row.get("removed_at"):
        # The put first: the row keeps its seq (households.put).
        row["put"] = register_put(
            db,
            {"id": household["id"], "commune_id": commune_id, "village_id": row["village_id"]},
            {"id": household["id"], **payload},
        )
    if owner is None:
        db["households"].insert(
            {"id": household["id"], "commune_id": commune_id, "created_at": now, **row}
        )
    else:
        db["households"].update(household["id"], row)
    if row.get("removed_at"):
        record_change(
            db,
            "household",
            household["id"],
            {"id": household["id"]},
            commune_id=commune_id,
            village_id=row["village_id"],
            op="delete",
        )


def _erase_household(db: sqlite_utils.Database, commune_id: str, household_id: str) -> None:
    # Before the batch's households: they then put the row as the sender has it now.
    owner = _owner(db, "households", household_id)
    if owner is None:
        return  # never came here: the batch's households bring it already erased
    if owner != commune_id:
        raise ApiError(403, "wrong_commune", commune=owner, allowed=commune_id)
    rights.erase_household(db, household_id)


def _free_code(db: sqlite_utils.Database, code: str, household_id: str, commune_id: str) -> str:
    # Codes are unique per server; two communes may have drawn the same one.
    code = code or household_id[:8]
    taken = db.execute("SELECT id FROM households WHERE code = ?", [code]).fetchone()
    return code if taken is None or taken[0] == household_id else f"{code}-{commune_id}"


def apply_record_states(
    db: sqlite_utils.Database, peer: dict[str, Any], states: list[dict[str, Any]]
) -> None:
    """Which revision is current and the review state, as on the sender. A revision this
    server does not hold yet is skipped: a later batch carries it and the state again."""
    for state in states:
        row = db.execute(
            "SELECT rev, review_state, commune_id FROM records WHERE id = ?", [state["id"]]
        ).fetchone()
        if row is None or row["commune_id"] != peer["commune_id"]:
            continue
        if row["rev"] != state["rev"] and not store.promote(db, state["id"], state["rev"]):
            continue
        if row["review_state"] != state["review_state"]:
            store.set_review_state(db, state["id"], state["review_state"])


def apply_resolutions(
    db: sqlite_utils.Database, peer: dict[str, Any], resolutions: list[dict[str, Any]]
) -> None:
    """Conflicts settled on the sender, settled here the same way: the conflict revision is
    marked (the answers the sender kept travel as revisions and states, as any other). A
    revision this server does not hold yet is skipped: sending it again brings its resolution
    with it."""
    for resolution in resolutions:
        store.mark_resolved(
            db,
            peer["commune_id"],
            resolution["id"],
            resolution["rev"],
            resolution["resolution"],
            resolution["resolved_at"],
        )


def apply_rewrites(
    db: sqlite_utils.Database, peer: dict[str, Any], rewrites: list[dict[str, Any]]
) -> None:
    """Answers erased in place on the sender (a person's right to deletion), erased here too;
    the files they named are queued for the sweep once this commits (``blobs.queue_sweep``),
    in the same transaction, so that no sweep between the two can pass them over."""
    pairs = [(r["id"], r["rev"]) for r in rewrites]
    queue_sweep(db, peer["commune_id"], revision_files(db, pairs))
    for rewrite in rewrites:
        store.rewrite_answers(
            db, peer["commune_id"], rewrite["id"], rewrite["rev"], rewrite["data"]
        )


def save_checkpoint(
    db: sqlite_utils.Database, peer: dict[str, Any], source: str, checkpoint: int
) -> int:
    """Keep the sender's outbox position; never moves back (a replayed old batch)."""
    db.execute(
        "INSERT INTO peer_checkpoints (peer_id, source_id, checkpoint, updated_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (peer_id, source_id) DO UPDATE SET"
        " checkpoint = max(checkpoint, excluded.checkpoint), updated_at = excluded.updated_at",
        [peer["peer_id"], source, checkpoint, now_iso()],
    )
    db.execute("UPDATE peers SET last_seen_at = ? WHERE id = ?", [now_iso(), peer["peer_id"]])
    return peer_checkpoint(db, peer, source)


def peer_checkpoint(db: sqlite_utils.Database, peer: dict[str, Any], source: str | None) -> int:
    if not source:
        return 0
    row = db.execute(
        "SELECT checkpoint FROM peer_checkpoints WHERE peer_id = ? AND source_id = ?",
        [peer["peer_id"], source],
    ).fetchone()
    return int(row[0]) if row else 0

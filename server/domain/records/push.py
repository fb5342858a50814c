"""A push from a phone or a commune server: each item parsed, checked against its form and
the caller's scope, and written through the records store, in one transaction; one result per
item, in order. A commune server's push also brings its villages, households, forms and review
states first (``server.domain.records.peers``)."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

import sqlite_utils
from marshmallow import ValidationError

from schemas.form import Form
from schemas.media import ANSWER_MAX_BYTES
from schemas.messages import message
from schemas.validate import Errors, RecordChecker
from server.domain.blobs import blob_visible, file_answers, hold_empty, queue_sweep
from server.domain.db import now_iso, write_together, write_transaction
from server.domain.followups import Known, known_households
from server.domain.forms import get_form
from server.domain.records import peers, store
from server.domain.records.rights import after_erasures, held_through
from server.domain.register import commune_village_ids, same_place, village_ids_under
from sync.protocol import (
    APPLIED,
    CONFLICT,
    DUPLICATE,
    REJECTED,
    clean_text,
    field_errors,
    load_record,
    value_problems,
    visit_day,
)


def push(
    db: sqlite_utils.Database,
    caller: dict[str, Any],
    items: list[Any],
    upstream: dict[str, Any] | None = None,
    data_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Store a batch in one transaction; one result per item, in order.

    ``upstream`` (server peers only) brings the commune's villages, households and forms first
    and the sender's checkpoint; ``data_dir`` is where blobs live (records naming a photo the
    server lacks are rejected: clients upload photos first)."""
    body: dict[str, Any] = {}
    if upstream is None:
        batch = _Batch(db, caller, data_dir)
        # Checking the answers against the form is most of a push's work and needs no lock: it
        # is done before the write transaction, so that the server's worker processes check
        # batches side by side while one of them writes (a peer's batch may bring the very
        # forms its records use, so it is checked inside, after them). The writes then share
        # a transaction with the other phones' batches of this process waiting at the same
        # moment: one COMMIT, after which each is answered.
        batch.check_ahead(items)
        return write_together(db, lambda conn: batch.store(conn, items))
    with write_transaction(db):
        # A batch older than the stored checkpoint is a replay: its records are duplicates,
        # and its snapshot of villages and states must not undo newer ones.
        fresh = upstream["checkpoint"] > peers.peer_checkpoint(db, caller, upstream["source"])
        if fresh:
            peers.apply_context(db, caller, upstream)
        caller = {**caller, "village_ids": commune_village_ids(db, caller["commune_id"])}
        batch = _Batch(db, caller, data_dir)
        body["results"] = [batch.push_one(item, index) for index, item in enumerate(items)]
        if fresh:
            peers.apply_record_states(db, caller, upstream["records"])
            peers.apply_rewrites(db, caller, upstream["rewrites"])
        # Even from a replay: a resolution only ever settles what is still open, so an old
        # batch cannot undo anything, and a retried revision brings its resolution along.
        peers.apply_resolutions(db, caller, upstream["resolutions"])
        body["checkpoint"] = peers.save_checkpoint(
            db, caller, upstream["source"], upstream["checkpoint"]
        )
    return body


# What ``encode_ahead`` worked out: the very answers and meta it read, and their encoding.
Ahead = tuple[dict[str, Any], dict[str, Any], store.Encoded]


def encode_ahead(data: dict[str, Any], meta: dict[str, Any]) -> Ahead | None:
    """A record's answers and meta as the push stores them, worked out before the write lock
    by a caller that has them then, apart from the rest of the record (an OpenRosa
    submission's, whose household is read under the lock): None when ``value_problems``
    finds anything in them, which the push then names under the lock."""
    texts: dict[str, str] = {}
    if value_problems({"data": data, "meta": meta}, texts):
        return None
    return data, meta, store.encode_pushed({"data": data, "meta": meta}, texts.get("data"))


def push_within(
    db: sqlite_utils.Database,
    caller: dict[str, Any],
    items: list[Any],
    data_dir: str | Path | None = None,
    form: tuple[Form, RecordChecker] | None = None,
    checked: list[Errors | None] | None = None,
    encoded: list[Ahead | None] | None = None,
) -> list[dict[str, Any]]:
    """A phone's items, inside the caller's write transaction: the same checks and writes as
    ``push``, for a client whose own bookkeeping must commit with the record (an OpenRosa
    submission's row).

    What the caller worked out before taking the write lock, as ``push`` does for a batch:
    ``form``, the items' form version as the caller's commune may use it (every item names
    it); ``checked``, per item, its answers' check against that form (None: not done); and
    ``encoded``, per item, ``encode_ahead`` of its ``data`` and ``meta`` (None: not done), so
    that only the rest of the item is looked at here: used only when the item holds the very
    objects it was worked out from."""
    batch = _Batch(db, caller, data_dir)
    if form is not None:
        key = (form[0].form_id, form[0].version)
        batch.forms[key] = form
        for index, item in enumerate(items):
            errors = checked[index] if checked is not None else None
            if errors is None or not isinstance(item, dict):
                continue
            ahead = encoded[index] if encoded is not None else None
            ready = None
            if ahead is not None and item.get("data") is ahead[0] and item.get("meta") is ahead[1]:
                ready = ahead[2]
            rest = item if ready is None else {k: v for k, v in item.items() if k not in _ANSWERS}
            if value_problems(rest):
                continue
            try:
                record = load_record(item)
            except ValidationError:
                continue
            if (record["form_id"], record["form_version"]) == key:
                batch.ahead[index] = (record, errors)
                if ready is not None and not errors and _same_answers(record["data"], item["data"]):
                    batch.encoded[index] = ready
    return [batch.push_one(item, index) for index, item in enumerate(items)]


# What ``encode_ahead`` looks at of an item.
_ANSWERS = ("data", "meta")


def _same_answers(loaded: Any, sent: Any) -> bool:
    """Whether the loaded record's answers are the item's own (``load_record`` copies the top
    level, whose values it keeps): then the item's JSON text is theirs."""
    return (
        type(loaded) is dict
        and type(sent) is dict
        and len(loaded) == len(sent)
        and all(key in loaded and loaded[key] is value for key, value in sent.items())
        and list(loaded) == list(sent)
    )


def _rejected(item: Any, errors: Errors) -> dict[str, Any]:
    ident = item if isinstance(item, dict) else {}
    return {
        "id": _echo(ident.get("id")),
        "rev": _echo(ident.get("rev")),
        "status": REJECTED,
        "errors": errors,
    }


def _echo(value: Any) -> str | None:
    # Results are matched by position; an id is echoed back only when it is plain text.
    return value if clean_text(value) and len(value) <= 200 else None


def _error(code: str, **params: Any) -> list[dict[str, str]]:
    return [{"code": code, **message(f"field.{code}", **params)}]


class _Batch:
    """One push batch: its caller, its transaction, and the form versions it has looked up."""

    def __init__(
        self, db: sqlite_utils.Database, caller: dict[str, Any], data_dir: str | Path | None
    ) -> None:
        self.db, self.caller, self.data_dir = db, caller, data_dir
        self.forms: dict[tuple[str, str], tuple[Form, RecordChecker] | None] = {}
        self.now = now_iso()
        self.reachable: set[str] | None = None  # the caller's villages and those merged in
        # Per item's position: the record as loaded and its answers' problems, worked out
        # before the write transaction (check_ahead).
        self.ahead: dict[int, tuple[dict[str, Any], Errors]] = {}
        # Per item's position, when it passed its check: the record as it is to be stored.
        self.encoded: dict[int, store.Encoded] = {}
        # Read for the whole batch as its writing starts (_look_ahead): the stored rows of the
        # records named once in it, keyed by id and by (id, rev), and its households' villages.
        self.looked: set[str] = set()
        self.current: dict[str, Any] = {}
        self.seen: dict[tuple[str, str], Any] = {}
        self.household_villages: dict[str, str] = {}
        # What the batch's households are on the register and in the follow-up list before its
        # writes, kept up to date as its visits are stored (followups.refresh_household).
        self.known: dict[str, Known] = {}

    def store(self, db: sqlite_utils.Database, items: list[Any]) -> dict[str, Any]:
        """A phone's batch written through ``db`` (inside the write transaction, which may be
        shared with other batches): one result per item, in order."""
        self.db, self.now = db, now_iso()
        self._look_ahead()
        results = [self.push_one(item, index) for index, item in enumerate(items)]
        if self.caller.get("id"):
            db.execute(
                "UPDATE devices SET last_seen_at = ? WHERE id = ?", [self.now, self.caller["id"]]
            )
        return {"results": results}

    def check_ahead(self, items: list[Any]) -> None:
        """Load each well-formed item and check its answers against its form, outside the
        write lock; ``push_one`` then uses the outcome at the very step it would have
        computed it (form versions never change, so nothing of it can go stale)."""
        for index, item in enumerate(items):
            texts: dict[str, str] = {}
            if not isinstance(item, dict) or value_problems(item, texts):
                continue
            try:
                record = load_record(item)
            except ValidationError:
                continue
            found = self.form(record["form_id"], record["form_version"])
            if found is not None:
                errors = found[1].check(record["data"], today=visit_day(record))
                self.ahead[index] = (record, errors)
                if not errors:
                    # The answers' JSON, when encoded by value_problems above, is stored as it is.
                    same = "data" in texts and _same_answers(record["data"], item["data"])
                    self.encoded[index] = store.encode_pushed(
                        record, texts["data"] if same else None
                    )

    def _look_ahead(self) -> None:
        """What the database holds of the checked records (the current row, the revisions) and
        the villages of their households, read in three queries for the batch instead of three
        for each record. A record named twice in the batch (a revision, then the next) is read
        at its own step: the first one changes it; a household not found is looked for again
        at its step, since a record before it may have put it on the register."""
        counts = Counter(record["id"] for record, _ in self.ahead.values())
        once = [rid for rid, times in counts.items() if times == 1]
        if not once:
            return
        marks = ",".join("?" * len(once))
        self.current = {
            row["id"]: row
            for row in self.db.execute(
                f"SELECT id, rev, commune_id, village_id FROM records WHERE id IN ({marks})", once
            )
        }
        self.seen = {
            (row["record_id"], row["rev"]): row
            for row in self.db.execute(
                "SELECT record_id, rev, status, device_id FROM revisions"
                f" WHERE record_id IN ({marks})",
                once,
            )
        }
        self.looked = set(once)
        named = list({r["household_id"] for r, _ in self.ahead.values() if r["household_id"]})
        if named:
            self.household_villages = dict(
                self.db.execute(
                    "SELECT id, village_id FROM households"
                    f" WHERE id IN ({','.join('?' * len(named))})",
                    named,
                ).fetchall()
            )
            self.known = known_households(self.db, named)

    def form(self, form_id: str, version: str) -> tuple[Form, RecordChecker] | None:
        key = (form_id, version)
        if key not in self.forms:
            self.forms[key] = get_form(
                self.db, form_id, version, commune_id=self.caller["commune_id"]
            )
        return self.forms[key]

    def push_one(self, item: Any, index: int = -1) -> dict[str, Any]:
        ahead = self.ahead.get(index)
        if ahead is not None:
            record, checked = ahead
        else:
            if not isinstance(item, dict):
                return _rejected(item, {"_": _error("not_object")})
            problems = value_problems(item)
            if problems:
                return _rejected(item, {name: _error(code) for name, code in problems.items()})
            try:
                record = load_record(item)
            except ValidationError as error:
                return _rejected(item, field_errors(error.messages))
            checked = None
        db, caller = self.db, self.caller
        rid, rev = record["id"], record["rev"]
        if ahead is not None and rid in self.looked:
            current, seen = self.current.get(rid), self.seen.get((rid, rev))
        else:
            current = db.execute(
                "SELECT rev, commune_id, village_id FROM records WHERE id = ?", [rid]
            ).fetchone()
            seen = db.execute(
                "SELECT status, device_id FROM revisions WHERE record_id = ? AND rev = ?",
                [rid, rev],
            ).fetchone()
        own_retry = (
            seen is not None
            and caller.get("kind") != "peer"
            and caller["id"] is not None
            and seen["device_id"] == caller["id"]
        )
        if (
            current
            and not own_retry
            and not self._may_change(current["commune_id"], current["village_id"])
        ):
            # The record is someone else's: another commune's, or (for a phone) one of its own
            # commune's in a village it is not assigned to. Both get the same answer, so that a
            # phone cannot tell "exists in another commune" from "exists in a village of mine
            # I may not see"; that the id is taken it must learn either way, since ids are
            # global and nothing is stored across communes. Only a retry of this phone's own
            # revision (a lost answer, a village taken away since) still hears "duplicate".
            return _rejected(item, {"id": _error("out_of_scope")})
        if seen:
            first = CONFLICT if seen["status"] == "conflict" else APPLIED
            return {
                "id": rid,
                "rev": rev,
                "status": DUPLICATE,
                "first_status": first,
                "server_rev": current["rev"] if current else rev,
            }
        household = self._household(record)
        problem = self._scope_problem(record, household)
        if problem:
            return _rejected(item, problem)
        found = self.form(record["form_id"], record["form_version"])
        if found is None:
            return _rejected(item, {"form_version": _error("unknown_form")})
        encoded = self.encoded.get(index)
        late = None
        if (
            current is not None
            and current["rev"] != record["base_rev"]
            and caller.get("kind") != "peer"
        ):
            # (A commune server's revisions come scrubbed by its own erasures, and its
            # erasures' rewrites follow: the province keeps the very copy the commune does.)
            late = after_erasures(db, rid, record["base_rev"], record["data"], found[0])
        if late is not None:
            # Held on the phone through a person's erasure: kept with the erasure applied
            # again, checked and encoded anew, and the files it named no longer held.
            record, checked, encoded = {**record, "data": late[0]}, None, None
            queue_sweep(db, caller["commune_id"], late[1])
            if late[1] and self.data_dir is not None:
                hold_empty(db, self.data_dir, caller["commune_id"])
        errors = (
            checked
            if checked is not None
            else found[1].check(record["data"], today=visit_day(record))
        )
        if not errors:
            errors = self._missing_blobs(found[0], record["data"])
        if errors:
            return _rejected(item, errors)
        if late is not None:
            held_through(db, rid, record["rev"], late[2])
        return store.store_pushed(
            db,
            caller,
            record,
            current["rev"] if current else None,
            household is not None,
            self.now,
            encoded,
            self.known.get(record["household_id"]) if record["household_id"] else None,
        )

    def _may_change(self, commune_id: str, village_id: str) -> bool:
        """Whether the caller may change a stored record: a commune server, any of its
        commune's; a phone, those whose stored village is one of its villages (or merged into
        one) -- whatever village the pushed copy names."""
        if commune_id != self.caller["commune_id"]:
            return False
        if self.caller.get("kind") == "peer":
            return True
        if self.reachable is None:
            self.reachable = {
                under
                for village in self.caller["village_ids"]
                for under in village_ids_under(self.db, village)
            }
        return village_id in self.reachable

    def _household(self, record: dict[str, Any]) -> str | None:
        """The village of the record's household when the server knows it, else None."""
        if not record["household_id"]:
            return None
        known = self.household_villages.get(record["household_id"])
        if known is not None:
            return known
        row = self.db.execute(
            "SELECT village_id FROM households WHERE id = ?", [record["household_id"]]
        ).fetchone()
        return row[0] if row else None

    def _scope_problem(
        self, record: dict[str, Any], household_village: str | None
    ) -> Errors | None:
        if record["village_id"] not in self.caller["village_ids"]:
            return {"village_id": _error("out_of_scope")}
        if household_village is not None and not same_place(
            self.db, record["village_id"], household_village
        ):
            return {"household_id": _error("wrong_village")}
        return None

    def _missing_blobs(self, form: Form, data: dict[str, Any]) -> Errors:
        errors: Errors = {}
        if self.data_dir is None:
            return errors
        for path, value, kind in file_answers(form, data):
            if not isinstance(value, str):
                continue
            size = blob_visible(self.db, self.data_dir, self.caller["commune_id"], value)
            if size is None:
                errors[path] = _error("missing_blob")
            elif size > ANSWER_MAX_BYTES[kind]:
                # The upload's bound is the largest kind's: a photo must be a photo's size.
                errors[path] = _error("file_too_large", mb=ANSWER_MAX_BYTES[kind] // 1_000_000)
        return errors


def status(
    db: sqlite_utils.Database, caller: dict[str, Any], source: str | None = None
) -> dict[str, Any]:
    """What the server holds from this caller: counts, and a digest of its (id, rev) pairs.
    A phone: what it pushed. A server peer: its commune's, and its checkpoint for ``source``."""
    if caller.get("kind") == "peer":
        where, params = "r.commune_id = ?", [caller["commune_id"]]
        pairs = db.execute(
            "SELECT v.record_id, v.rev FROM revisions v JOIN records r"
            f" ON r.id = v.record_id WHERE {where}",
            params,
        ).fetchall()
    else:
        # The phone's records are among those it sent a revision of: found through the
        # revisions' index, so the records need no index of their own on the device (one less
        # for every push to write).
        where, params = (
            "r.device_id = ? AND r.id IN (SELECT record_id FROM revisions WHERE device_id = ?)",
            [caller["id"], caller["id"]],
        )
        pairs = db.execute(
            "SELECT record_id, rev FROM revisions WHERE device_id = ?", [caller["id"]]
        ).fetchall()
    states = dict(
        db.execute(
            f"SELECT review_state, count(*) FROM records r WHERE {where} GROUP BY review_state",
            params,
        ).fetchall()
    )
    body: dict[str, Any] = {
        "device_id": caller["id"],
        "revisions": len(pairs),
        "records": sum(states.values()),
        "by_state": states,
        "digest": pairs_digest(pairs),
    }
    if caller.get("kind") == "peer":
        body.update(
            peer=True,
            commune_id=caller["commune_id"],
            checkpoint=peers.peer_checkpoint(db, caller, source),
        )
    return body


def pairs_digest(pairs: Any) -> str:
    """SHA-256 of the lines ``"{id} {rev}\\n"``, sorted by id then rev."""
    digest = hashlib.sha256()
    for rid, rev in sorted((rid, rev) for rid, rev in pairs):  # rows do not sort: tuples do
        digest.update(f"{rid} {rev}\n".encode())
    return digest.hexdigest()

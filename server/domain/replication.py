"""The sending side of upstream replication (``gocua sync push --upstream URL --token T``):
a commune server sends what its outbox recorded since the upstream's checkpoint.
A person's data erased here travels as ``rewrites`` (revisions' answers) and ``erasures``
(households), so the province scrubs its copies too.

The upstream's checkpoint is the truth: it is stored in the same transaction as the batch it
acknowledges, so a response lost on the way back costs one repeated (and harmless) batch. The
local copy in ``upstream_checkpoints`` is what the operator reads. Each batch is read in one
snapshot: its records, then the current state of the villages, households and records its
outbox entries name -- a later change always has a later outbox entry, so nothing is missed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from server.domain import answers
from server.domain.blobs import blob_path, file_answers
from server.domain.db import now_iso, write_transaction
from server.domain.forms import get_form
from sync.client import BATCH_BYTES, HttpError, SyncClient, encoded
from sync.protocol import APPLIED, CONFLICT, DUPLICATE, MAX_BATCH_ITEMS, REJECTED

READ_AHEAD = 1000  # outbox entries read per query


class UpstreamError(Exception):
    """The upstream cannot be replicated to; ``code`` names the catalogue message."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass
class Report:
    commune_id: str = ""
    batches: int = 0
    items: int = 0
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys((APPLIED, DUPLICATE, CONFLICT, REJECTED), 0)
    )
    blobs: int = 0
    checkpoint: int = 0  # the upstream's, after the run (before it, when nothing was sent)
    rejects: list[dict[str, Any]] = field(default_factory=list)
    # What the upstream was sent, kind by kind (record revisions are ``items``).
    sent: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SENT_KINDS, 0))

    # Resolutions a province from before them refused: kept, offered again on every run.
    resolutions_waiting: int = 0

    def anything_sent(self) -> bool:
        return bool(self.items or self.blobs or any(self.sent.values()))


SENT_KINDS = ("forms", "villages", "households", "states", "resolutions", "rewrites", "erasures")


def server_id(db: sqlite_utils.Database) -> str:
    return db.execute("SELECT server_id FROM sync_identity WHERE id = 1").fetchone()[0]


def local_checkpoint(db: sqlite_utils.Database, url: str) -> int | None:
    row = db.execute("SELECT checkpoint FROM upstream_checkpoints WHERE url = ?", [url]).fetchone()
    return int(row[0]) if row else None


def replicate(
    db: sqlite_utils.Database,
    client: SyncClient,
    url: str,
    data_dir: str | Path,
    *,
    max_items: int = MAX_BATCH_ITEMS,
    max_bytes: int = BATCH_BYTES,
    on_batch: Callable[[Report], None] | None = None,
) -> Report:
    """Send everything new to the upstream, batch by batch; returns what happened."""
    remote = client.status(source=server_id(db))
    if not remote.get("peer"):
        raise UpstreamError("upstream_not_peer")
    report = Report(commune_id=remote["commune_id"])
    if _commune(db, report.commune_id) is None:
        raise UpstreamError("commune_not_here", commune=report.commune_id)
    since = report.checkpoint = int(remote["checkpoint"])
    newest = db.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0]
    if since > newest:
        # The upstream acknowledged more than this database ever wrote: it was restored from
        # a backup. Continue as a new source, from the start (everything is idempotent).
        with write_transaction(db):
            db.execute("UPDATE sync_identity SET server_id = lower(hex(randomblob(16)))")
        since = report.checkpoint = 0
    sender = _Sender(db, client, url, Path(data_dir), report)
    retry = db.execute(
        "SELECT record_id, rev FROM upstream_rejects WHERE url = ? ORDER BY at", [url]
    ).fetchall()
    for start in range(0, len(retry), max_items):
        # Refused before: offered again at the unchanged checkpoint (nothing else moves).
        batch = _Batch(server_id(db), since)
        for record_id, rev in retry[start : start + max_items]:
            item = _revision(db, record_id, rev, report.commune_id)
            if item is not None:
                batch.items.append(item)
            # A conflict settled while the province refused it: its outbox entry is past.
            settled = _resolution(db, record_id, rev, report.commune_id)
            if settled is not None:
                _add(batch, "resolution", settled)
        sender.send(batch)
    while True:
        batch = _read_batch(db, since, report.commune_id, max_items, max_bytes)
        if batch is None:
            break
        sender.send(batch)
        since = batch.checkpoint
        if on_batch:
            on_batch(report)
    return report


@dataclass
class _Batch:
    source: str
    checkpoint: int
    items: list[dict[str, Any]] = field(default_factory=list)
    commune: dict[str, Any] | None = None
    forms: dict[str, dict[str, Any]] = field(default_factory=dict)
    villages: dict[str, dict[str, Any]] = field(default_factory=dict)
    households: dict[str, dict[str, Any]] = field(default_factory=dict)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    rewrites: dict[str, dict[str, Any]] = field(default_factory=dict)
    erasures: dict[str, dict[str, Any]] = field(default_factory=dict)
    resolutions: dict[str, dict[str, Any]] = field(default_factory=dict)
    size: int = 0

    def upstream(self) -> dict[str, Any]:
        body = {
            "source": self.source,
            "checkpoint": self.checkpoint,
            "commune": self.commune,
            "forms": list(self.forms.values()),
            "villages": list(self.villages.values()),
            "households": list(self.households.values()),
            "records": list(self.records.values()),
            "rewrites": list(self.rewrites.values()),
        }
        # Only when there are: a province from before either key refuses it.
        if self.erasures:
            body["erasures"] = list(self.erasures.values())
        if self.resolutions:
            body["resolutions"] = list(self.resolutions.values())
        return body


def _read_batch(
    db: sqlite_utils.Database, since: int, commune_id: str, max_items: int, max_bytes: int
) -> _Batch | None:
    """The next batch after ``since``, read in one snapshot; None when nothing is left."""
    db.conn.execute("BEGIN")
    try:
        entries = db.execute(
            "SELECT seq, kind, entity_id, rev, commune_id FROM outbox"
            " WHERE seq > ? ORDER BY seq LIMIT ?",
            [since, READ_AHEAD],
        ).fetchall()
        if not entries:
            return None
        batch = _Batch(server_id(db), since, commune=_commune(db, commune_id))
        for entry in entries:
            seq, kind = entry["seq"], entry["kind"]
            if entry["commune_id"] not in (None, commune_id):
                batch.checkpoint = seq  # another commune's: not this upstream's business
                continue
            payload = _payload(db, kind, entry["entity_id"], entry["rev"], commune_id)
            cost = len(encoded(payload)) + 1 if payload is not None else 0
            full = kind == "revision" and payload is not None and len(batch.items) >= max_items
            if full or (batch.size and batch.size + cost > max_bytes):
                break
            batch.size += cost
            batch.checkpoint = seq
            if payload is not None:
                _add(batch, kind, payload)
        return batch
    finally:
        db.conn.execute("COMMIT")


def _add(batch: _Batch, kind: str, payload: dict[str, Any]) -> None:
    if kind == "revision":
        batch.items.append(payload)
    elif kind == "form":
        batch.forms[f"{payload['form_id']}@{payload['version']}"] = payload
    elif kind == "commune":
        batch.commune = payload
    elif kind == "revision_data":
        batch.rewrites[f"{payload['id']} {payload['rev']}"] = payload
    elif kind == "household_erased":
        batch.erasures[payload["id"]] = payload
    elif kind == "resolution":
        batch.resolutions[f"{payload['id']} {payload['rev']}"] = payload
    else:
        getattr(
            batch, {"village": "villages", "household": "households", "record": "records"}[kind]
        )[payload["id"]] = payload


def _payload(
    db: sqlite_utils.Database, kind: str, entity_id: str, rev: str | None, commune_id: str
) -> dict[str, Any] | None:
    if kind == "revision":
        return _revision(db, entity_id, rev or "", commune_id)
    if kind == "form":
        form_id, _, version = entity_id.rpartition("@")
        row = db.execute(
            "SELECT definition FROM forms WHERE form_id = ? AND version = ?", [form_id, version]
        ).fetchone()
        return (
            {"form_id": form_id, "version": version, "definition": json.loads(row[0])}
            if row
            else None
        )
    if kind == "commune":
        return _commune(db, commune_id)
    if kind == "revision_data":
        row = db.execute(
            "SELECT v.data FROM revisions v JOIN records r ON r.id = v.record_id"
            " WHERE v.record_id = ? AND v.rev = ? AND r.commune_id = ?",
            [entity_id, rev, commune_id],
        ).fetchone()
        return {"id": entity_id, "rev": rev, "data": answers.load(row[0])} if row else None
    if kind == "household_erased":
        # The erasure itself, not a state: the province scrubs its copies of the household
        # (its feed's too), then the batch's households put the row as it is now.
        return {"kind": "household", "id": entity_id}
    if kind == "resolution":
        return _resolution(db, entity_id, rev or "", commune_id)
    if kind == "record":
        row = db.execute(
            "SELECT id, rev, review_state FROM records WHERE id = ? AND commune_id = ?",
            [entity_id, commune_id],
        ).fetchone()
        return dict(row) if row else None
    table = {"village": "villages", "household": "households"}.get(kind)
    if table is None:
        return None  # a kind a newer version added: skipped, the checkpoint moves on
    row = db.execute(f"SELECT * FROM {table} WHERE id = ?", [entity_id]).fetchone()
    if row is None:
        return {"id": entity_id, "op": "delete"}
    current = dict(row)
    keep = (
        ("name", "active", "merged_into", "merged_at")
        if kind == "village"
        else ("village_id", "code", "head_name", "address", "removed_at")
    )
    payload = {"id": entity_id, "op": "put", **{k: current[k] for k in keep if k in current}}
    if kind == "village":
        payload["active"] = bool(payload.get("active", True))
    return payload


def _commune(db: sqlite_utils.Database, commune_id: str) -> dict[str, Any] | None:
    row = db.execute(
        "SELECT id, name, province_code, province_name FROM communes WHERE id = ?", [commune_id]
    ).fetchone()
    return dict(row) if row else None


def _revision(
    db: sqlite_utils.Database, record_id: str, rev: str, commune_id: str
) -> dict[str, Any] | None:
    row = db.execute(
        "SELECT v.record_id AS id, v.rev, v.base_rev, coalesce(v.form_id, r.form_id) AS form_id,"
        " coalesce(v.form_version, r.form_version) AS form_version,"
        " coalesce(v.household_id, r.household_id) AS household_id,"
        " coalesce(v.village_id, r.village_id) AS village_id, v.data, v.meta FROM revisions v"
        " JOIN records r ON r.id = v.record_id WHERE v.record_id = ? AND v.rev = ?"
        " AND r.commune_id = ?",
        [record_id, rev, commune_id],
    ).fetchone()
    if row is None:
        return None
    item = dict(row)
    item["data"], item["meta"] = answers.load(row["data"]), json.loads(row["meta"])
    return item


def _resolution(
    db: sqlite_utils.Database, record_id: str, rev: str, commune_id: str
) -> dict[str, Any] | None:
    """How a conflict revision was settled here (sent after the revision itself, and after
    the new revision that took its answers, if one did: the outbox orders them so)."""
    row = db.execute(
        "SELECT v.record_id AS id, v.rev, v.resolution, v.resolved_at FROM revisions v"
        " JOIN records r ON r.id = v.record_id WHERE v.record_id = ? AND v.rev = ?"
        " AND r.commune_id = ? AND v.resolved_at IS NOT NULL AND v.resolution IS NOT NULL",
        [record_id, rev, commune_id],
    ).fetchone()
    return dict(row) if row else None


class _Sender:
    """Uploads a batch's photos, pushes it, and keeps the results and the checkpoint."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        client: SyncClient,
        url: str,
        data_dir: Path,
        report: Report,
    ) -> None:
        self.db, self.client, self.url, self.data_dir = db, client, url, data_dir
        self.report = report
        self.confirmed: set[str] = set()  # blobs the upstream has, asked once per run
        self.forms: dict[tuple[str, str], Any] = {}

    def send(self, batch: _Batch) -> None:
        self._upload_form_media(batch.forms)
        self._upload_blobs(batch.items)
        waiting: list[dict[str, Any]] = []
        try:
            answer = self.client.push_batch(batch.items, batch.upstream())
        except HttpError as error:
            if not (batch.resolutions and _refuses_resolutions(error)):
                raise
            # A province from before resolutions: its records must not wait for its upgrade.
            # The batch goes without them, and each waits as a retry of its revision (below).
            waiting, batch.resolutions = list(batch.resolutions.values()), {}
            answer = self.client.push_batch(batch.items, batch.upstream())
        report = self.report
        report.batches += 1
        report.items += len(batch.items)
        report.checkpoint = int(answer.get("checkpoint", batch.checkpoint))
        for kind, entries in (
            ("forms", batch.forms),
            ("villages", batch.villages),
            ("households", batch.households),
            ("states", batch.records),
            ("resolutions", batch.resolutions),
            ("rewrites", batch.rewrites),
            ("erasures", batch.erasures),
        ):
            report.sent[kind] += len(entries)
        with write_transaction(self.db):
            for result in answer["results"]:
                report.counts[result["status"]] = report.counts.get(result["status"], 0) + 1
                self._keep(result)
            for resolution in waiting:
                # Offered again with its revision on every run (``upstream_rejects`` is the
                # retry list), until a province that takes resolutions answers for it.
                self.db.execute(
                    "INSERT INTO upstream_rejects (url, record_id, rev, errors, at)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (url, record_id, rev) DO NOTHING",
                    [self.url, resolution["id"], resolution["rev"], _UNTAKEN, now_iso()],
                )
            report.resolutions_waiting += len(waiting)
            self.db.execute(
                "INSERT INTO upstream_checkpoints (url, commune_id, checkpoint, updated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (url) DO UPDATE SET commune_id ="
                " excluded.commune_id, checkpoint = excluded.checkpoint,"
                " updated_at = excluded.updated_at",
                [self.url, report.commune_id, report.checkpoint, now_iso()],
            )

    def _keep(self, result: dict[str, Any]) -> None:
        # (A resolution the province refused waits in upstream_rejects too: once a batch with
        # its revision is answered, the province took the resolution with it.)
        if result["status"] == REJECTED:
            self.report.rejects.append(result)
            self.db.execute(
                "INSERT INTO upstream_rejects (url, record_id, rev, errors, at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (url, record_id, rev) DO UPDATE SET"
                " errors = excluded.errors, at = excluded.at",
                [
                    self.url,
                    result["id"],
                    result["rev"],
                    json.dumps(result.get("errors"), ensure_ascii=False),
                    now_iso(),
                ],
            )
        else:
            self.db.execute(
                "DELETE FROM upstream_rejects WHERE url = ? AND record_id = ? AND rev = ?",
                [self.url, result["id"], result["rev"]],
            )

    def _upload_form_media(self, sent: dict[str, dict[str, Any]]) -> None:
        # The files a form's labels show go up with it: the province's phones fetch them too.
        for payload in sent.values():
            media = (payload.get("definition") or {}).get("media") or {}
            for entry in media.values():
                self._upload_blob(entry["sha256"])

    def _upload_blob(self, sha256: str) -> None:
        if sha256 in self.confirmed:
            return
        path = blob_path(self.data_dir, sha256)
        if path.exists() and self.client.put_blob(path.read_bytes(), sha256):
            self.report.blobs += 1
        self.confirmed.add(sha256)

    def _upload_blobs(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            key = (item["form_id"], item["form_version"])
            if key not in self.forms:
                self.forms[key] = get_form(self.db, *key)
            found = self.forms[key]
            if found is None:
                continue
            for _path, sha256, _type in file_answers(found[0], item["data"]):
                if isinstance(sha256, str):
                    self._upload_blob(sha256)


_UNTAKEN = json.dumps({"resolutions": [{"code": "unknown_field"}]})


def _refuses_resolutions(error: HttpError) -> bool:
    """A province from before resolutions refuses the key itself (422, ``unknown_field``)."""
    errors = error.body.get("errors") or {}
    return error.status == 422 and any(
        key == "upstream.resolutions"
        and any(isinstance(e, dict) and e.get("code") == "unknown_field" for e in value or [])
        for key, value in errors.items()
    )


def commune_pairs(db: sqlite_utils.Database, commune_id: str) -> list[tuple[str, str]]:
    """Every (record, revision) this server holds for a commune: what the province's digest
    is compared with."""
    return [
        (row["record_id"], row["rev"])
        for row in db.execute(
            "SELECT v.record_id, v.rev FROM revisions v JOIN records r ON r.id = v.record_id"
            " WHERE r.commune_id = ?",
            [commune_id],
        )
    ]


def newest_outbox_seq(db: sqlite_utils.Database) -> int:
    return int(db.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0])

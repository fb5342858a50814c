"""What ODK Collect (and any OpenRosa client) asks of the server: the forms a phone may fill, each
as an XForm pyxform makes from the stored version, and its submissions, which become records
through the very push a collector's batch goes through (``records.push.push_within``).

A submission is kept as its XML in ``openrosa_submissions`` from its first part on until it
is a record: ``partial`` (files announced, not all arrived: Collect sends a large submission in
several POSTs, each with the same XML), ``rejected`` (the record's check said no: Collect cannot
edit a sent form, so the office can still read what was typed), ``unattached`` (no household
named: it waits for the office), then ``stored`` (a record's revision) or ``replaced`` (an
edit, with ``deprecatedID``, superseded it while it waited); then only the XML's hash stays,
to know it when Collect sends it again.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import sqlite_utils
from pyxform.xls2xform import convert

from schemas.form import Form
from schemas.messages import message
from schemas.validate import MAX_OSM_LENGTH, Errors, RecordChecker
from server.domain.accounts import user_village_ids
from server.domain.audit import audit
from server.domain.blobs import (
    BlobIncomplete,
    BlobTooLarge,
    blob_path,
    claim_blob,
    drop_unheld,
    store_unnamed_blob,
)
from server.domain.db import now_iso, write_together, write_transaction
from server.domain.forms import form_media, form_state, get_form, newest_version
from server.domain.openrosa.instance import (
    HOUSEHOLD_QUESTION,
    MAX_XML_BYTES,
    Instance,
    InstanceRefused,
    Mapped,
    map_instance,
    read_instance,
    record_uuid,
)
from server.domain.records.push import Ahead, encode_ahead, push_within
from sync.protocol import APPLIED, CONFLICT, DUPLICATE, MAX_BLOB_BYTES

# Collect splits a submission whose XML and files pass this into several POSTs, but never
# splits one file: a POST must hold the largest file a form may take (a film,
# schemas/media.py) beside the largest XML.
ACCEPT_CONTENT_LENGTH = MAX_BLOB_BYTES + MAX_XML_BYTES
# The multipart envelope around them: each part's boundary and headers (100 files at most).
ENVELOPE_BYTES = 200_000
MAX_REQUEST_BYTES = ACCEPT_CONTENT_LENGTH + ENVELOPE_BYTES
MAX_FILES = 100
MAX_FILE_NAME = 255


@dataclass
class Outcome:
    """The answer to one submission POST: its HTTP status, the catalogue key of its message
    (``openrosa.<key>``) and, for a rejected record, the errors field by field."""

    status: int
    key: str
    params: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    record_id: str | None = None
    held: set[str] = field(default_factory=set)  # the files this POST brought that are claimed


# -- forms ------------------------------------------------------------------------------------
def form_list(db: sqlite_utils.Database, commune_id: str) -> list[dict[str, Any]]:
    """The newest version of each form the commune gives its volunteers, as an XForm: id,
    version, title and the hash Collect compares to know that it holds this very XForm. A form
    the admin stopped or archived is left out, as the collector leaves it out of new visits, and
    so is a version pyxform cannot turn into an XForm (Collect could not open it)."""
    listed = []
    form_ids = [r[0] for r in db.execute("SELECT DISTINCT form_id FROM forms ORDER BY form_id")]
    for form_id in form_ids:
        if (form_state(db, commune_id, form_id) or "active") != "active":
            continue
        found = newest_version(db, commune_id, form_id)
        if found is None:
            continue
        xml = xform(db, commune_id, *found)
        if xml is None:
            continue
        parsed = get_form(db, *found)
        listed.append(
            {
                "form_id": found[0],
                "version": found[1],
                "title": str(parsed[0].title) if parsed else found[0],
                "hash": "md5:" + hashlib.md5(xml.encode()).hexdigest(),
            }
        )
    return listed


def xform(db: sqlite_utils.Database, commune_id: str, form_id: str, version: str) -> str | None:
    """The XForm of a version the commune may use; None when it may not, or pyxform cannot."""
    if get_form(db, form_id, version, commune_id=commune_id) is None:
        return None
    row = db.execute(
        "SELECT definition FROM forms WHERE form_id = ? AND version = ?", [form_id, version]
    ).fetchone()
    return _xform(form_id, version, row[0]) if row else None


@lru_cache(maxsize=32)
def _xform(form_id: str, version: str, definition_text: str) -> str | None:
    # Versions never change, so each is converted once; pyxform takes the sheets as rows.
    definition = json.loads(definition_text)
    settings = definition.get("settings") or {}
    survey = definition.get("survey") or []
    book = {
        "survey": survey,
        # Every column any row uses: pyxform reads a dict book's columns from its first row
        # where this is missing, and then fails on a column the first row leaves out (trigger).
        "survey_header": [dict.fromkeys(k for row in survey if isinstance(row, dict) for k in row)],
        "choices": definition.get("choices") or [],
        "settings": settings if isinstance(settings, list) else [settings],
    }
    if definition.get("osm"):
        book["osm"] = definition["osm"]  # the tags OpenMapKit asks for
    try:
        return convert(xlsform=book, warnings=[], validate=False).xform
    # pyxform is third-party code: whatever it raises means "no XForm for this version".
    except Exception:
        return None


def manifest(
    db: sqlite_utils.Database, commune_id: str, form_id: str, version: str, data_dir: str | Path
) -> list[dict[str, Any]] | None:
    """The files the version's labels show, as Collect's manifest lists them: name, ``md5:``
    hash (Collect fetches a file again only when it changes) and the blob behind it; None
    for a version the commune may not use. A file not on disk is left out (never named by a
    version published here, which checks each one)."""
    if xform(db, commune_id, form_id, version) is None:
        return None
    listed = []
    for name, entry in sorted((form_media(db, form_id, version, commune_id) or {}).items()):
        path = blob_path(data_dir, entry["sha256"])
        if path.is_file():
            listed.append({"name": name, "md5": _md5(str(path)), "path": path, **entry})
    return listed


@lru_cache(maxsize=1024)
def _md5(path: str) -> str:
    # A blob's name is its SHA-256: the file never changes, so neither does its MD5.
    digest = hashlib.md5()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 16):
            digest.update(chunk)
    return "md5:" + digest.hexdigest()


# -- phones -----------------------------------------------------------------------------------
def settings_payload(server_url: str, project: str, volunteer: str) -> str:
    """What Collect's "Configure with QR code" reads: the settings JSON, zlib-compressed and
    base64-encoded. The server address carries the phone's token, as ODK Central's app users'
    does; ``metadata_username`` fills a form's ``username`` question with the volunteer."""
    settings = {
        "general": {
            "server_url": server_url,
            "form_update_mode": "match_exactly",
            "autosend": "wifi_and_cellular",
            "metadata_username": volunteer,
        },
        "admin": {"change_server": False},
        "project": {"name": project, "icon": "G", "color": "#0b6e4f"},
    }
    text = json.dumps(settings, ensure_ascii=False, separators=(",", ":"))
    return base64.b64encode(zlib.compress(text.encode("utf-8"), 9)).decode("ascii")


def decode_settings(payload: str) -> dict[str, Any]:
    return json.loads(zlib.decompress(base64.b64decode(payload)).decode("utf-8"))


# -- submissions ------------------------------------------------------------------------------
def submit(
    db: sqlite_utils.Database,
    caller: dict[str, Any],
    xml: bytes,
    files: list[tuple[str, IO[bytes]]],
    data_dir: str | Path,
) -> Outcome:
    """One POST of a submission: its XML and the files that came with it, each a stream (a
    file on disk when large) read into the store a chunk at a time."""
    try:
        instance = read_instance(xml)
    except InstanceRefused as refused:
        return Outcome(400, refused.code, refused.params)
    found = get_form(db, instance.form_id, instance.version, commune_id=caller["commune_id"])
    if found is None:
        return Outcome(404, "unknown_form", {"form": instance.form_id, "version": instance.version})
    if len(files) > MAX_FILES:
        return Outcome(413, "too_many_files", {"max": MAX_FILES})
    received: dict[str, str] = {}
    if any(not name or len(name) > MAX_FILE_NAME for name, _ in files):
        return Outcome(400, "bad_file_name")
    for name, stream in files:
        try:
            received[name] = store_unnamed_blob(data_dir, stream, MAX_BLOB_BYTES)[0]
        except BlobTooLarge:
            return Outcome(413, "file_too_large", {"name": name, "max": MAX_BLOB_BYTES})
    xml_sha256 = hashlib.sha256(xml).hexdigest()
    text = xml.decode("utf-8", errors="replace")
    # The answers are mapped and checked before the write lock, as a collector's batch is, so
    # that the server's worker processes do it side by side (a form version never changes:
    # nothing of it can go stale); only the bookkeeping and the writes wait for the lock. They
    # share a transaction with the other submissions and batches of this process waiting at the
    # same moment (group commit), each in a savepoint of its own: one COMMIT for all of them,
    # and none is answered before it.
    prepared = _prepare(found, instance)
    try:
        outcome = write_together(
            db,
            lambda conn: _keep(
                conn, caller, instance, text, xml_sha256, received, data_dir, prepared
            ),
        )
    except BlobIncomplete:
        # A file of this POST left the store between its write and its claim (a person's
        # erasure took a file nothing held): nothing was kept, and Collect sends it again.
        return Outcome(503, "file_gone")
    unheld = set(received.values()) - outcome.held
    if unheld:
        # Written to the store before the lock, then held by nothing (a resend of a stored
        # submission, one whose files an erasure took out): they leave the disk again, unless
        # another commune or submission holds them meanwhile.
        with write_transaction(db):
            drop_unheld(db, data_dir, unheld)
    return outcome


def _keep(
    db: sqlite_utils.Database,
    caller: dict[str, Any],
    instance: Instance,
    text: str,
    xml_sha256: str,
    received: dict[str, str],
    data_dir: str | Path,
    prepared: _Prepared,
) -> Outcome:
    """A submission's bookkeeping and writes, inside the write transaction (which may be
    shared with other writers, and run on another request's thread and connection: it uses
    nothing but ``db`` and what ``submit`` worked out before)."""
    row = db.execute(
        "SELECT commune_id, xml_sha256, xml, files, state FROM openrosa_submissions"
        " WHERE instance_id = ?",
        [instance.instance_id],
    ).fetchone()
    if row is not None and row["commune_id"] != caller["commune_id"]:
        return Outcome(409, "instance_taken")
    if row is not None and row["state"] == "stored":
        if row["xml_sha256"] != xml_sha256:
            return Outcome(409, "instance_changed")
        # Collect sending it again (a lost answer, a "send again"): the same answer as
        # the first time, which Collect counts as sent.
        return Outcome(201, "duplicate")
    files_known = json.loads(row["files"]) if row is not None else {}
    if row is not None and row["xml_sha256"] != xml_sha256:
        files_known = {}  # another XML under this instanceID: its own files count
    elif row is not None and row["xml"]:
        # The same XML again (the rest of its files, a "send again"): what is kept counts,
        # as a person's erasure may have scrubbed it (openrosa/rights.py) since it came.
        with contextlib.suppress(InstanceRefused):
            kept = read_instance(row["xml"].encode("utf-8"))
            if row["xml"] != text:
                # Mapped and checked from the XML sent, the record would bring back what the
                # erasure took out: this (rare) one is mapped again, under the lock.
                prepared = _prepare(prepared.found, kept)
            instance, text = kept, row["xml"]
    # Only the files the answers kept name are held: a file an erasure took out of them (or
    # one no answer names) would be personal data on disk that no record shows.
    wanted = set(prepared.mapped.file_names)
    for name, sha256 in received.items():
        if name in wanted:
            claim_blob(db, caller["commune_id"], sha256, data_dir)
            files_known[name] = sha256
    now = now_iso()
    if instance.deprecated_id:
        # An edit of a submission still waiting (for the office, or refused): the edit
        # carries all its answers, so the earlier one no longer waits.
        db.execute(
            "UPDATE openrosa_submissions SET state = 'replaced', xml = '', updated_at = ?"
            " WHERE instance_id = ? AND commune_id = ? AND state != 'stored'",
            [now, instance.deprecated_id, caller["commune_id"]],
        )
    outcome, settled = _settle(db, caller, instance, files_known, data_dir, prepared=prepared)
    outcome.held = {sha256 for name, sha256 in received.items() if name in wanted}
    # The row is written once, as it ends up: a submission stored at its first POST (nearly
    # every one) never writes its XML only to clear it again.
    columns = {
        "xml": text,
        "xml_sha256": xml_sha256,
        "files": json.dumps(files_known),
        "deprecated_id": instance.deprecated_id,
        "updated_at": now,
        **settled,
    }
    if row is not None:
        _write_row(db, instance.instance_id, columns)
        return outcome
    columns = {
        "instance_id": instance.instance_id,
        "device_id": caller["id"],
        "user_id": caller["user_id"],
        "commune_id": caller["commune_id"],
        "form_id": instance.form_id,
        "form_version": instance.version,
        "state": "partial",
        "received_at": now,
        **columns,
    }
    db.execute(
        f"INSERT INTO openrosa_submissions ({', '.join(columns)})"
        f" VALUES ({', '.join('?' * len(columns))})",
        list(columns.values()),
    )
    return outcome


@dataclass
class _Prepared:
    """A submission read against its form before the write lock: the form as the phone's
    commune may use it, the answers mapped, and their check (None when it must wait for the
    files the answers name: a photo's answer is its blob's hash)."""

    found: tuple[Form, RecordChecker]
    mapped: Mapped
    checked: Errors | None
    ahead: Ahead | None = None  # the answers and meta as stored, when they passed


def _prepare(found: tuple[Form, RecordChecker], instance: Instance) -> _Prepared:
    mapped = map_instance(found[0], instance.root)
    if mapped.file_names:
        return _Prepared(found, mapped, None)
    meta = _meta(instance, mapped.data)
    checked = found[1].check(mapped.data, today=_day(meta))
    return _Prepared(found, mapped, checked, None if checked else encode_ahead(mapped.data, meta))


def _osm_text(data_dir: str | Path, sha256: str, name: str) -> str:
    """An .osm file's text, the answer the record keeps; read no further than the longest
    answer allowed, and the file's name when it is no UTF-8 text (the check then says why)."""
    try:
        with blob_path(data_dir, sha256).open("rb") as file:
            return file.read(MAX_OSM_LENGTH * 4 + 1).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return name


def _settle(
    db: sqlite_utils.Database,
    caller: dict[str, Any],
    instance: Instance,
    files_known: dict[str, str],
    data_dir: str | Path,
    household_code: str | None = None,
    prepared: _Prepared | None = None,
) -> tuple[Outcome, dict[str, Any]]:
    """What a kept submission becomes once it is whole (inside the caller's transaction): a
    record through the collector's push, or kept as rejected or unattached. ``household_code``:
    the household the office attaches it to, when its answers name none; ``prepared``: what
    ``submit`` read before the lock. Returns the answer, and the columns of the submission's
    row that change (its state), for the caller to write with its own."""
    if prepared is None:
        found = get_form(db, instance.form_id, instance.version)
        if found is None:
            unknown = {"form": instance.form_id, "version": instance.version}
            return Outcome(404, "unknown_form", unknown), {}
        mapped, checked = map_instance(found[0], instance.root), None
    else:
        found, mapped, checked = prepared.found, prepared.mapped, prepared.checked
    form, checker = found
    missing = [name for name in mapped.file_names if name not in files_known]
    if missing:
        return Outcome(201, "partial", {"count": len(missing)}), _state("partial")
    for holder, key in mapped.media:
        holder[key] = files_known[holder[key]]
    for holder, key in mapped.osm:
        holder[key] = _osm_text(data_dir, files_known[holder[key]], holder[key])
    # The meta worked out with the answers' encoding, when there is one: the push then knows
    # the encoding for them (push_within holds it to the very objects).
    ahead = prepared.ahead if prepared is not None else None
    record = _record(
        db, caller, instance, form.form_id, form.version, mapped.data, ahead[1] if ahead else None
    )
    code = household_code or str(mapped.data.get(HOUSEHOLD_QUESTION) or "").strip()
    if not code:
        errors = (
            checked
            if checked is not None
            else checker.check(mapped.data, today=_day(record["meta"]))
        )
        if errors:
            return _rejected(errors)
        return Outcome(201, "unattached"), _state("unattached")
    household = db.execute(
        "SELECT id, village_id FROM households"
        " WHERE code = ? AND commune_id = ? AND removed_at IS NULL",
        [code.strip().upper(), caller["commune_id"]],
    ).fetchone()
    if household is None:
        errors = {
            HOUSEHOLD_QUESTION: [
                {"code": "unknown_household", **message("openrosa.unknown_household")}
            ]
        }
        return _rejected(errors)
    record.update(household_id=household["id"], village_id=household["village_id"])
    if prepared is not None:
        result = push_within(
            db, caller, [record], data_dir, prepared.found, [checked], [prepared.ahead]
        )[0]
    else:
        result = push_within(db, caller, [record], data_dir)[0]
    if result["status"] not in (APPLIED, DUPLICATE, CONFLICT):
        errors = dict(result.get("errors") or {})
        # The volunteer named the household by its code, never by a village or a record id:
        # a scope refusal is about the answer they gave.
        for envelope in ("village_id", "household_id", "id"):
            if envelope in errors:
                errors.setdefault(HOUSEHOLD_QUESTION, []).extend(errors.pop(envelope))
        return _rejected(errors)
    said = "conflict" if result["status"] == CONFLICT else "received"
    # The record holds the answers now; the XML's hash is enough to know a resend, and a
    # second copy of personal data here would escape a person's erasure.
    stored = {**_state("stored"), "xml": "", "record_id": record["id"], "rev": record["rev"]}
    return Outcome(201, said, {}, {}, record["id"]), stored


def _state(state: str) -> dict[str, Any]:
    return {"state": state, "errors": None}


def _rejected(errors: dict[str, Any]) -> tuple[Outcome, dict[str, Any]]:
    kept = {"state": "rejected", "errors": json.dumps(errors, ensure_ascii=False)}
    return Outcome(400, "rejected", {"count": len(errors)}, errors), kept


def _write_row(db: sqlite_utils.Database, instance_id: str, columns: dict[str, Any]) -> None:
    """A kept submission's row changed: ``columns`` are the code's own names, never a
    client's."""
    if columns:
        sets = ", ".join(f"{name} = ?" for name in columns)
        db.execute(
            f"UPDATE openrosa_submissions SET {sets} WHERE instance_id = ?",
            [*columns.values(), instance_id],
        )


def _record(
    db: sqlite_utils.Database,
    caller: dict[str, Any],
    instance: Instance,
    form_id: str,
    version: str,
    data: dict[str, Any],
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The record this submission is: a new one named by its instanceID, or, with a
    ``deprecatedID`` (Collect's edit of a sent form), a new revision of the record that
    instance became. ``meta``: its meta, when the caller made it already (``_meta``)."""
    rev = record_uuid(instance.instance_id)
    record_id, base_rev = rev, None
    if instance.deprecated_id:
        earlier = db.execute(
            "SELECT record_id, rev FROM openrosa_submissions WHERE instance_id = ?"
            " AND commune_id = ? AND state = 'stored'",
            [instance.deprecated_id, caller["commune_id"]],
        ).fetchone()
        if earlier is not None:
            record_id, base_rev = earlier["record_id"], earlier["rev"]
    return {
        "id": record_id,
        "rev": rev,
        "base_rev": base_rev,
        "form_id": form_id,
        "form_version": version,
        "household_id": None,
        "village_id": "",
        "data": data,
        "meta": meta if meta is not None else _meta(instance, data),
    }


def _meta(instance: Instance, data: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {"client": "openrosa", "instance_id": instance.instance_id}
    started = data.get("start")
    if isinstance(started, str) and len(started) >= 10:
        meta.update(started_at=started, visit_date=started[:10])
    return meta


def _day(meta: dict[str, Any]) -> str | None:
    day = str(meta.get("visit_date") or "")
    return day if len(day) == 10 else None


# Answers that tell the office which household a waiting submission is about.
SUMMARY_QUESTIONS = ("head_name", "respondent_name", "address", "start")


def waiting(db: sqlite_utils.Database, commune_id: str) -> list[dict[str, Any]]:
    """The commune's Collect submissions that are not records yet, newest first: waiting for
    files, for a household, or rejected by the check (with its errors), each with the answers
    that say which household it is about."""
    rows = db.execute(
        "SELECT s.instance_id, s.form_id, s.form_version, s.state, s.errors, s.xml,"
        " s.received_at, s.updated_at, u.username, u.display_name FROM openrosa_submissions s"
        " JOIN users u ON u.id = s.user_id"
        " WHERE s.commune_id = ? AND s.state IN ('partial', 'rejected', 'unattached')"
        " ORDER BY s.updated_at DESC LIMIT 500",
        [commune_id],
    ).fetchall()
    found = []
    for row in rows:
        item = dict(row)
        del item["xml"]
        item["errors"] = json.loads(row["errors"]) if row["errors"] else {}
        item["summary"] = _summary(db, row["xml"], row["form_id"], row["form_version"])
        found.append(item)
    return found


def _summary(
    db: sqlite_utils.Database, xml: str, form_id: str, version: str
) -> list[tuple[str, str]]:
    form = get_form(db, form_id, version)
    try:
        instance = read_instance(xml.encode("utf-8"))
    except InstanceRefused:
        return []
    if form is None:
        return []
    data = map_instance(form[0], instance.root).data
    return [(name, str(data[name])) for name in SUMMARY_QUESTIONS if data.get(name)]


def attach(
    db: sqlite_utils.Database,
    commune_id: str,
    instance_id: str,
    household_code: str,
    data_dir: str | Path,
    staff: dict[str, Any],
) -> Outcome | None:
    """The office attaches a kept submission that named no household to one (by its code):
    it becomes a record of the volunteer who sent it, through the same push, in the
    volunteer's villages. None when the commune has no such submission waiting."""
    with write_transaction(db):
        row = db.execute(
            "SELECT s.xml, s.files, s.device_id, s.user_id FROM openrosa_submissions s"
            " WHERE s.instance_id = ? AND s.commune_id = ? AND s.state IN"
            " ('unattached', 'rejected')",
            [instance_id, commune_id],
        ).fetchone()
        if row is None:
            return None
        try:
            instance = read_instance(row["xml"].encode("utf-8"))
        except InstanceRefused as refused:
            return Outcome(400, refused.code, refused.params)
        caller = {
            "kind": "device",
            "id": row["device_id"],
            "user_id": row["user_id"],
            "commune_id": commune_id,
            "village_ids": user_village_ids(db, row["user_id"]),
        }
        outcome, settled = _settle(
            db, caller, instance, json.loads(row["files"]), data_dir, household_code or None
        )
        _write_row(db, instance_id, settled)
        if outcome.record_id is not None:
            audit(
                db,
                "collect_attached",
                user_id=staff["id"],
                username=staff["username"],
                target=f"record:{outcome.record_id}",
                detail=f"household:{household_code}",
            )
        return outcome

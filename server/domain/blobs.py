"""Photos and files, stored by their SHA-256 under ``DATA_DIR/blobs/ab/abcd…``.

An upload is written to a temporary file, hashed on the way, flushed to disk, and only then
renamed to its final name: a cut upload, a wrong hash or a killed process leaves no file under a
real name, so "the server has blob X" always means the whole of X.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import IO, Any

import sqlite_utils

from schemas.form import Form
from schemas.media import FILE_ANSWER_TYPES
from server.domain.db import now_iso

CHUNK = 64 * 1024
STALE_TEMP_SECONDS = 3600
# The file a required file answer names once a person's erasure removed it: it holds nothing,
# and the record keeps its shape (``records/rights.py``).
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_SHA256 = re.compile(r"\b[0-9a-f]{64}\b")


class BlobTooLarge(Exception):
    """The body passed the size limit while it was being read."""


class BlobHashMismatch(Exception):
    """The body's SHA-256 is not the one its address names."""

    def __init__(self, actual: str) -> None:
        super().__init__(actual)
        self.actual = actual


class BlobIncomplete(Exception):
    """The body ended before its announced length: the upload was cut."""


def blob_root(data_dir: str | Path) -> Path:
    return Path(data_dir) / "blobs"


def blob_path(data_dir: str | Path, sha256: str) -> Path:
    return blob_root(data_dir) / sha256[:2] / sha256


def blob_size(data_dir: str | Path, sha256: str) -> int | None:
    try:
        return blob_path(data_dir, sha256).stat().st_size
    except FileNotFoundError:
        return None


def blob_visible(
    db: sqlite_utils.Database, data_dir: str | Path, commune_id: str, sha256: str
) -> int | None:
    """The blob's size when ``commune_id`` holds it (its phones or its server uploaded it, or
    its records name it), else None: the store on disk is one for all communes, but whether
    it holds a photo is not any commune's business but its owners'."""
    if not db.execute(
        "SELECT 1 FROM blob_owners WHERE commune_id = ? AND sha256 = ?", [commune_id, sha256]
    ).fetchone():
        return None
    return blob_size(data_dir, sha256)


def claim_blob(
    db: sqlite_utils.Database, commune_id: str, sha256: str, data_dir: str | Path | None = None
) -> bool:
    """Note that ``commune_id`` holds a blob it has just uploaded whole (inside the caller's
    write transaction); True when it did not hold it before: "created" as far as that commune
    can tell, whether or not another commune's copy was already on disk.

    With ``data_dir``, raises BlobIncomplete when the file is no longer there: an upload of a
    file the store already held wrote nothing, and a person's erasure (``sweep``) may have
    taken that file between the upload and this claim; the client sends it again."""
    if data_dir is not None and not blob_path(data_dir, sha256).is_file():
        raise BlobIncomplete
    return (
        db.execute(
            "INSERT OR IGNORE INTO blob_owners (commune_id, sha256, created_at) VALUES (?, ?, ?)",
            [commune_id, sha256, now_iso()],
        ).rowcount
        == 1
    )


def store_blob(
    data_dir: str | Path,
    sha256: str,
    stream: IO[bytes],
    limit: int,
    expected_length: int | None = None,
) -> tuple[int, bool]:
    """Read the stream into the store; returns (size, created). Raises BlobTooLarge,
    BlobHashMismatch or BlobIncomplete, leaving nothing behind."""
    temp_name, digest, size = _spooled(data_dir, stream, limit, sha256[:8] + "-")
    problem: Exception | None = None
    if expected_length is not None and size != expected_length:
        problem = BlobIncomplete()
    elif digest != sha256:
        problem = BlobHashMismatch(digest)
    if problem is not None:
        Path(temp_name).unlink(missing_ok=True)
        raise problem
    return size, _kept(temp_name, blob_path(data_dir, sha256))


def _spooled(
    data_dir: str | Path, stream: IO[bytes], limit: int, prefix: str
) -> tuple[str, str, int]:
    """The stream written to a temporary file of the store a chunk at a time, hashed on the
    way, on disk: (its name, its sha256, its size). Raises BlobTooLarge past ``limit``,
    leaving nothing behind."""
    temp_dir = blob_root(data_dir) / ".tmp"
    temp_dir.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    handle, temp_name = tempfile.mkstemp(dir=temp_dir, prefix=prefix)
    try:
        with os.fdopen(handle, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise BlobTooLarge
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return temp_name, digest.hexdigest(), size


def _kept(temp_name: str, final: Path) -> bool:
    """The spooled file moved to its place in the store; False when the store had it."""
    try:
        if final.exists():
            return False
        final.parent.mkdir(parents=True, exist_ok=True)
        # Atomic on one file system: readers see no file or the whole file.
        os.replace(temp_name, final)
        return True
    finally:
        Path(temp_name).unlink(missing_ok=True)  # nothing left once moved


def sniffed_type(path: Path) -> str | None:
    """The type a recording or film says of itself in its first bytes: the phone sends none the
    server keeps, and a browser plays only what it is told it may."""
    with open(path, "rb") as file:
        head = file.read(16)
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[4:8] == b"ftyp":
        return "video/mp4"
    if head[:4] == b"\x1aE\xdf\xa3":
        return "video/webm"
    if head[:4] == b"OggS":
        return "audio/ogg"
    if head[:3] == b"ID3" or head[:2] == b"\xff\xfb":
        return "audio/mpeg"
    return None


def served_type(path: Path, kind: str) -> str:
    """The type a record's file is sent with: what it says of itself, else by its question."""
    return sniffed_type(path) or ("image/jpeg" if kind == "image" else "application/octet-stream")


def store_unnamed_blob(data_dir: str | Path, stream: IO[bytes], limit: int) -> tuple[str, int]:
    """Read a stream whose hash nobody announced (an ODK Collect attachment) into the store,
    a chunk at a time, hashing on the way; returns (sha256, size). Raises BlobTooLarge past
    ``limit``, leaving nothing behind."""
    temp_name, sha256, size = _spooled(data_dir, stream, limit, "unnamed-")
    _kept(temp_name, blob_path(data_dir, sha256))
    return sha256, size


def remove_stale_temps(data_dir: str | Path, older_than: float = STALE_TEMP_SECONDS) -> int:
    """Temporary files a killed process left behind; never visible as blobs, only space."""
    temp_dir = blob_root(data_dir) / ".tmp"
    if not temp_dir.is_dir():
        return 0
    removed, cutoff = 0, time.time() - older_than
    for path in temp_dir.iterdir():
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


def file_answers(form: Form, data: dict[str, Any]) -> list[tuple[str, Any, str]]:
    """Every answer that is a file (a photo, a recording, a film, a document), as (path,
    value, question type): ``photo``, ``members[1].voice``."""
    found: list[tuple[str, Any, str]] = []
    for node in _file_nodes(form):
        answers: list[tuple[str, Any]] = []
        _collect(data, node.repeats, node.name, "", answers)
        found += [(path, value, node.type) for path, value in answers]
    return found


def _file_nodes(form: Form) -> list[Any]:
    # Forms are immutable per version, so the list is computed once per Form object.
    cached = getattr(form, "_file_nodes", None)
    if cached is None:
        cached = [
            n for n in form.nodes.values() if n.kind == "field" and n.type in FILE_ANSWER_TYPES
        ]
        form._file_nodes = cached  # type: ignore[attr-defined]
    return cached


def _collect(
    scope: Any, repeats: tuple[str, ...], name: str, prefix: str, found: list[tuple[str, Any]]
) -> None:
    if not isinstance(scope, dict):
        return
    if not repeats:
        if scope.get(name) not in (None, ""):
            found.append((prefix + name, scope[name]))
        return
    instances = scope.get(repeats[0])
    if isinstance(instances, list):
        for index, instance in enumerate(instances):
            _collect(instance, repeats[1:], name, f"{prefix}{repeats[0]}[{index}].", found)


# -- a form's media: the files its labels show, kept as blobs for the version ----------------
def keep_form_media(
    data_dir: str | Path, definition: dict[str, Any], attachments: dict[str, bytes]
) -> None:
    """Store the files the definition's ``media`` names (``schemas/media.py``) from the
    attachments given with it, before anything is published: a blob no version names is only
    space, and publishing then finds each file whole on disk."""
    for name, entry in (definition.get("media") or {}).items():
        body = attachments.get(name)
        if body is not None:
            store_blob(data_dir, entry["sha256"], io.BytesIO(body), len(body), len(body))


def missing_form_media(data_dir: str | Path, definition: dict[str, Any]) -> list[str]:
    """The files of the definition's ``media`` the store does not hold whole: such a version
    is not published (a definition comes back from the browser and may name anything)."""
    return [
        name
        for name, entry in sorted((definition.get("media") or {}).items())
        if blob_size(data_dir, entry["sha256"]) != entry["size"]
    ]


def media_size(definition: dict[str, Any]) -> int:
    """What a version's media weigh together: what each phone downloads and keeps for it."""
    return sum(int(entry["size"]) for entry in (definition.get("media") or {}).values())


# -- a person's erasure: the files no answer names any more go ---------------------------------
def queue_sweep(db: sqlite_utils.Database, commune_id: str, files: set[str]) -> None:
    """Inside the transaction of a person's erasure (or of a commune's erasure applied here):
    ``files`` are to be swept (``personal_data.sweep``) once it has committed, and stay queued
    until they are (``file_sweeps``). Queuing a file an answer still names is harmless: the
    sweep keeps what anything names."""
    db.conn.executemany(
        "INSERT OR IGNORE INTO file_sweeps (commune_id, sha256) VALUES (?, ?)",
        [(commune_id, sha256) for sha256 in sorted(files)],
    )


def revision_files(db: sqlite_utils.Database, pairs: list[tuple[str, str]]) -> set[str]:
    """Every SHA-256 the answers of these revisions (record id, rev) hold: what may no longer
    be named once they are rewritten (a commune's erasure, applied on its province)."""
    found: set[str] = set()
    for record_id, rev in pairs:
        row = db.execute(
            "SELECT answers(data) FROM revisions WHERE record_id = ? AND rev = ?", [record_id, rev]
        ).fetchone()
        if row:
            found |= set(_SHA256.findall(row[0]))
    return found


def sweep(
    db: sqlite_utils.Database, data_dir: str | Path, commune_id: str, candidates: set[str]
) -> int:
    """After a person's erasure in ``commune_id`` has committed, inside a write transaction of
    its own: of the ``candidates`` (the files the erased answers named), the commune's claim
    goes when none of its revisions nor its Collect submissions still waiting names it, and
    the file (with its thumbnails) goes when no claim is left and no form's media names it.
    Returns how many files went.

    A push naming the blob checks the claim and the file inside its own write transaction
    (``push._missing_blobs``): before this one, its revision names the blob and it stays;
    after, it finds no claim and asks for the file again. Another commune that uploaded the
    same bytes holds its own claim, so the file stays for it. The server keeps no backup
    file (a phone's is read and pushed), so none can name one. A required answer's empty file
    stays: a revision names it."""
    empty_named = EMPTY_SHA256 in candidates  # an answer was given the empty file
    candidates = {c for c in candidates if _SHA256.fullmatch(c)} - {EMPTY_SHA256}
    if candidates or empty_named:
        hold_empty(db, data_dir, commune_id)
    unnamed = candidates - _named_in_commune(db, commune_id, candidates)
    if unnamed:
        marks = ",".join("?" * len(unnamed))
        db.execute(
            f"DELETE FROM blob_owners WHERE commune_id = ? AND sha256 IN ({marks})",
            [commune_id, *sorted(unnamed)],
        )
    return drop_unheld(db, data_dir, unnamed)


def hold_empty(db: sqlite_utils.Database, data_dir: str | Path, commune_id: str) -> None:
    """Inside a write transaction: the commune holds the empty file. A required file answer
    erased names it: held like any upload, so that the record goes up to the province (which
    checks it) and an edit of it is saved."""
    store_blob(data_dir, EMPTY_SHA256, io.BytesIO(b""), 0, 0)
    claim_blob(db, commune_id, EMPTY_SHA256)


def drop_unheld(db: sqlite_utils.Database, data_dir: str | Path, candidates: set[str]) -> int:
    """Inside a write transaction: each of ``candidates`` that no commune claims, no form's
    media names and no Collect submission still waiting names leaves the disk, with its
    thumbnails. Returns how many files went."""
    removed = 0
    for sha256 in sorted(c for c in candidates if _SHA256.fullmatch(c)):
        if db.execute("SELECT 1 FROM blob_owners WHERE sha256 = ?", [sha256]).fetchone():
            continue
        if db.execute(
            "SELECT 1 FROM forms WHERE instr(definition, ?) > 0", [sha256]
        ).fetchone() or _waiting_names(db, None, {sha256}):
            continue
        # Under the write lock, so that no claim of it can commit in between.
        path = blob_path(data_dir, sha256)
        if path.is_file():
            path.unlink(missing_ok=True)
            removed += 1
        # Thumbnails (thumbnails.py) are named by the blob's hash: a copy of the photo too.
        for thumb in (Path(data_dir) / "thumbs" / sha256[:2]).glob(f"{sha256}-*"):
            thumb.unlink(missing_ok=True)
    return removed


def _named_in_commune(db: sqlite_utils.Database, commune_id: str, wanted: set[str]) -> set[str]:
    """Which of ``wanted`` the commune's revisions or waiting Collect submissions name. A
    record may name a file only when its commune holds it, so no other commune's are read."""
    if not wanted:
        return set()
    named: set[str] = set()
    for (text,) in db.execute(
        "SELECT answers(v.data) FROM revisions v JOIN records r ON r.id = v.record_id"
        " WHERE r.commune_id = ?",
        [commune_id],
    ):
        named |= {sha for sha in wanted - named if sha in text}
        if named == wanted:
            break
    return named | _waiting_names(db, commune_id, wanted - named)


def _waiting_names(db: sqlite_utils.Database, commune_id: str | None, wanted: set[str]) -> set[str]:
    """Which of ``wanted`` the files of Collect submissions still waiting (partial, rejected,
    unattached: ``openrosa/rights.py``'s) name; a stored one's files are its record's."""
    if not wanted:
        return set()
    where, params = "state IN ('partial', 'rejected', 'unattached')", []
    if commune_id is not None:
        where, params = where + " AND commune_id = ?", [commune_id]
    named: set[str] = set()
    for (files,) in db.execute(f"SELECT files FROM openrosa_submissions WHERE {where}", params):
        try:
            held = json.loads(files)
        except ValueError:
            continue
        named |= wanted & set(held.values() if isinstance(held, dict) else [])
    return named

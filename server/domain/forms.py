"""Form versions stored in the database: install, look up, and the checker for each version.

A version installed by the CLI or at start-up is shared: every commune's phones receive it. A
version a commune server brings up (upstream replication) is that commune's alone: only its
phones receive it, only its records may use it, and another commune's "newest version" never
picks it. ``forms.shared`` says which; ``form_communes`` lists the communes of one not shared.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import sqlite_utils

from schemas.form import Form
from schemas.validate import RecordChecker
from server.domain.db import now_iso
from server.domain.feeds import record_change


class FormVersionExists(ValueError):
    """A form version is immutable: the same id and version with other content is refused."""


def install_form(
    db: sqlite_utils.Database,
    definition: dict[str, Any],
    *,
    commune_id: str | None = None,
) -> tuple[Form, bool]:
    """Store a form version (inside the caller's transaction); returns (form, newly_added).

    ``commune_id`` None: shared with every commune (the CLI, the default survey); else that
    commune's alone (a commune server's push). The same version installed again with the same
    content is a no-op, so start-up and ``gocua init`` can load the default survey every time;
    for a version not shared, it makes the version shared (None) or adds that commune.
    A definition must name its version here (``import_form`` makes one)."""
    form = Form(definition)
    text = _canonical(definition)
    row = db.execute(
        "SELECT definition, shared FROM forms WHERE form_id = ? AND version = ?",
        [form.form_id, form.version],
    ).fetchone()
    if row:
        if row["definition"] != text:
            raise FormVersionExists(
                f"form {form.form_id} version {form.version} already exists with other content;"
                " give the new form a new version"
            )
        if row["shared"] or (
            commune_id is not None and _visible(db, form.form_id, form.version, commune_id)
        ):
            return form, False
        if commune_id is None:
            db.execute(
                "UPDATE forms SET shared = 1 WHERE form_id = ? AND version = ?",
                [form.form_id, form.version],
            )
            db.execute(
                "DELETE FROM form_communes WHERE form_id = ? AND version = ?",
                [form.form_id, form.version],
            )
        else:
            _add_commune(db, form, commune_id)
    else:
        db.execute(
            "INSERT INTO forms (form_id, version, title, definition, created_at, shared)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [form.form_id, form.version, str(form.title), text, now_iso(), int(commune_id is None)],
        )
        if commune_id is not None:
            _add_commune(db, form, commune_id)
    record_change(
        db,
        "form",
        f"{form.form_id}@{form.version}",
        {"form_id": form.form_id, "version": form.version, "definition": definition},
        commune_id=commune_id,
    )
    return form, True


def import_form(
    db: sqlite_utils.Database, definition: dict[str, Any], now: datetime | None = None
) -> tuple[Form, bool]:
    """An operator's upload (``gocua form import``): shared with every commune, and given a
    version when its settings name none, as ODK Central gives one (``version_for``, ``now``
    being the upload time). Only here: a commune server's form names its own version."""
    return install_form(db, version_for(db, definition, now or datetime.now(UTC)))


def _canonical(definition: dict[str, Any]) -> str:
    return json.dumps(definition, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _settings(definition: dict[str, Any]) -> dict[str, Any]:
    settings = definition.get("settings") or {}
    if isinstance(settings, list):  # the settings sheet as rows: the first row counts
        settings = settings[0] if settings else {}
    return settings if isinstance(settings, dict) else {}


def _content_key(definition: dict[str, Any]) -> str:
    """What a version is, apart from its name: the definition without ``settings.version``."""
    settings = {k: v for k, v in _settings(definition).items() if k != "version"}
    return _canonical({**definition, "settings": settings})


def version_for(
    db: sqlite_utils.Database, definition: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """``definition`` with a version, when its settings name none.

    The same content as a stored version of the form (whatever that version is called) takes
    that version, so uploading one workbook twice makes no second version. Otherwise the
    version is the upload hour in UTC, ``YYYYMMDDHH`` (``2026113001``), or one more than the
    form's largest version of that shape when that one is not smaller (a second upload within
    the hour, a clock set back): made versions are ten digits and only grow, read as numbers
    or as text alike."""
    settings = _settings(definition)
    if str(settings.get("version") or "").strip():
        return definition
    form_id = str(settings.get("form_id") or "").strip()
    key = _content_key(definition)
    made: list[int] = []
    for version, stored in form_versions(db, form_id):
        if _content_key(stored) == key:
            return {**definition, "settings": {**settings, "version": version}}
        if len(version) == 10 and version.isascii() and version.isdigit():
            made.append(int(version))
    hour = int(now.astimezone(UTC).strftime("%Y%m%d%H"))
    version = str(max([hour, *(v + 1 for v in made)]))
    return {**definition, "settings": {**settings, "version": version}}


def _add_commune(db: sqlite_utils.Database, form: Form, commune_id: str) -> None:
    db.execute(
        "INSERT INTO form_communes (form_id, version, commune_id) VALUES (?, ?, ?)",
        [form.form_id, form.version, commune_id],
    )


# A form version one commune may use: shared, or installed for that commune.
_VISIBLE = (
    "(f.shared = 1 OR EXISTS (SELECT 1 FROM form_communes c WHERE c.form_id = f.form_id"
    " AND c.version = f.version AND c.commune_id = ?))"
)


def _visible(db: sqlite_utils.Database, form_id: str, version: str, commune_id: str) -> bool:
    return (
        db.execute(
            f"SELECT 1 FROM forms f WHERE f.form_id = ? AND f.version = ? AND {_VISIBLE}",
            [form_id, version, commune_id],
        ).fetchone()
        is not None
    )


def newest_version(
    db: sqlite_utils.Database, commune_id: str, form_id: str | None = None
) -> tuple[str, str] | None:
    """(form id, version): the newest version of ``form_id`` (default: the first form
    installed) that the commune may use; None when it may use none."""
    if form_id is None:
        row = db.execute(
            f"SELECT f.form_id FROM forms f WHERE {_VISIBLE}"
            " ORDER BY f.created_at, f.rowid LIMIT 1",
            [commune_id],
        ).fetchone()
        if row is None:
            return None
        form_id = row[0]
    row = db.execute(
        f"SELECT f.version FROM forms f WHERE f.form_id = ? AND {_VISIBLE}"
        " ORDER BY f.created_at DESC, f.version DESC LIMIT 1",
        [form_id, commune_id],
    ).fetchone()
    return (form_id, row[0]) if row else None


@lru_cache(maxsize=64)
def _parse(form_id: str, version: str, text: str) -> tuple[Form, RecordChecker]:
    form = Form(json.loads(text))
    return form, RecordChecker(form)


def get_form(
    db: sqlite_utils.Database, form_id: str, version: str, *, commune_id: str | None = None
) -> tuple[Form, RecordChecker] | None:
    """The parsed form and its checker; parsed once per version (versions never change).

    With ``commune_id``, only a version that commune may use (a new record's form); without,
    any stored version (the form of a record already stored)."""
    if commune_id is not None and not _visible(db, form_id, version, commune_id):
        return None
    row = db.execute(
        "SELECT definition FROM forms WHERE form_id = ? AND version = ?", [form_id, version]
    ).fetchone()
    return _parse(form_id, version, row[0]) if row else None


def form_versions(db: sqlite_utils.Database, form_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Every stored version of a form, oldest first, with its definition."""
    return [
        (row["version"], json.loads(row["definition"]))
        for row in db.execute(
            "SELECT version, definition FROM forms WHERE form_id = ? ORDER BY created_at", [form_id]
        )
    ]

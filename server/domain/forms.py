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


def form_media(
    db: sqlite_utils.Database, form_id: str, version: str, commune_id: str
) -> dict[str, dict[str, Any]] | None:
    """The files a version's labels show (name → sha256, size, type), for a commune that may
    use the version; None when it may not (or there is no such version)."""
    found = get_form(db, form_id, version, commune_id=commune_id)
    if found is None:
        return None
    media = found[0].definition.get("media")
    return media if isinstance(media, dict) else {}


def form_versions(db: sqlite_utils.Database, form_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Every stored version of a form, oldest first, with its definition."""
    return [
        (row["version"], json.loads(row["definition"]))
        for row in db.execute(
            "SELECT version, definition FROM forms WHERE form_id = ? ORDER BY created_at", [form_id]
        )
    ]


# -- forms managed from the browser: which a commune's volunteers get ---------------------------

FORM_STATES = ("active", "off", "archived")


def publish_form(
    db: sqlite_utils.Database,
    definition: dict[str, Any],
    commune_id: str,
    *,
    give: bool = True,
    now: datetime | None = None,
) -> tuple[Form, bool]:
    """A commune admin's upload from the Forms page: that commune's alone (on a province
    server, another commune never sees it), versioned as ``import_form`` versions. A form new
    to the commune is given to its volunteers or not (``give``); a new version of a form keeps
    the form's state, so phones that get the form get the new version at their next sync."""
    known = form_state(db, commune_id, str(_settings(definition).get("form_id") or ""))
    versioned = version_for(db, definition, now or datetime.now(UTC))
    form_id = str(_settings(versioned).get("form_id") or "")
    is_new = known is None and newest_version(db, commune_id, form_id) is None
    if is_new and not give:
        set_form_state(db, commune_id, form_id, "off")
    return install_form(db, versioned, commune_id=commune_id)


def form_state(db: sqlite_utils.Database, commune_id: str, form_id: str) -> str | None:
    """The state the commune's admin set for a form; None when never set (it is ``active``)."""
    row = db.execute(
        "SELECT state FROM form_states WHERE commune_id = ? AND form_id = ?",
        [commune_id, form_id],
    ).fetchone()
    return row[0] if row else None


def set_form_state(db: sqlite_utils.Database, commune_id: str, form_id: str, state: str) -> bool:
    """Give a form to the commune's volunteers (``active``), stop (``off``) or retire it
    (``archived``); their phones learn it at the next sync. Drafts already started keep their
    form and can be finished and sent: nothing typed is lost. False when it was so already."""
    if state not in FORM_STATES:
        raise ValueError(f"unknown form state {state!r}")
    if (form_state(db, commune_id, form_id) or "active") == state:
        return False
    db.execute(
        "INSERT INTO form_states (commune_id, form_id, state, changed_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (commune_id, form_id) DO UPDATE SET state = excluded.state,"
        " changed_at = excluded.changed_at",
        [commune_id, form_id, state, now_iso()],
    )
    record_change(
        db,
        "form_state",
        form_id,
        {"form_id": form_id, "state": state},
        commune_id=commune_id,
    )
    return True


def commune_forms(db: sqlite_utils.Database, commune_id: str) -> list[dict[str, Any]]:
    """Every form the commune may use, the newest first: its newest version and title, its
    state, how many versions and records it has there."""
    rows = db.execute(
        "SELECT f.form_id, count(*) AS versions, max(f.created_at) AS updated_at,"
        " coalesce((SELECT s.state FROM form_states s WHERE s.commune_id = ?"
        "   AND s.form_id = f.form_id), 'active') AS state,"
        " (SELECT count(*) FROM records r WHERE r.commune_id = ?"
        "   AND r.form_id = f.form_id) AS records"
        f" FROM forms f WHERE {_VISIBLE} GROUP BY f.form_id ORDER BY updated_at DESC, f.form_id",
        [commune_id, commune_id, commune_id],
    ).fetchall()
    out = []
    for row in rows:
        newest = newest_version(db, commune_id, row["form_id"])
        found = get_form(db, *newest) if newest else None
        out.append(
            {
                **dict(row),
                "version": newest[1] if newest else "",
                "title": found[0].title if found else row["form_id"],
                # What phones download and keep for the newest version's labels.
                "media_bytes": _media_bytes(found[0].definition) if found else 0,
            }
        )
    return out


def _media_bytes(definition: dict[str, Any]) -> int:
    media = definition.get("media")
    return sum(int(e.get("size", 0)) for e in media.values()) if isinstance(media, dict) else 0


def form_overview(
    db: sqlite_utils.Database, commune_id: str, form_id: str
) -> dict[str, Any] | None:
    """One form as its commune's admin sees it: each version with its records there and the
    phones whose newest copy it is, and each active phone with the version it holds (None:
    it has not said since it last synced, or holds none)."""
    versions = [
        dict(r)
        for r in db.execute(
            "SELECT f.version, f.title, f.created_at, f.shared,"
            " (SELECT count(*) FROM records r WHERE r.commune_id = ? AND r.form_id = f.form_id"
            "   AND r.form_version = f.version) AS records"
            f" FROM forms f WHERE f.form_id = ? AND {_VISIBLE}"
            " ORDER BY f.created_at DESC, f.version DESC",
            [commune_id, form_id, commune_id],
        )
    ]
    if not versions:
        return None
    phones = []
    for row in db.execute(
        "SELECT d.id, u.display_name, d.last_seen_at, d.reported_at, d.reported_forms"
        " FROM devices d JOIN users u ON u.id = d.user_id"
        " WHERE u.commune_id = ? AND d.revoked_at IS NULL ORDER BY u.display_name, d.created_at",
        [commune_id],
    ):
        held = _held_versions(row["reported_forms"]).get(form_id, [])
        newest = max(held, key=_version_key) if held else None
        phones.append(
            {**dict(row), "version": newest, "reported": row["reported_forms"] is not None}
        )
    for version in versions:
        found = get_form(db, form_id, version["version"])
        media = found[0].definition.get("media") if found else None
        version["media"] = sorted(media.items()) if isinstance(media, dict) else []
        version["media_bytes"] = _media_bytes(found[0].definition) if found else 0
        version["phones"] = sum(1 for p in phones if p["version"] == version["version"])
    return {
        "form_id": form_id,
        "title": versions[0]["title"],
        "version": versions[0]["version"],
        "state": form_state(db, commune_id, form_id) or "active",
        "versions": versions,
        "phones": phones,
    }


def _version_key(version: str) -> tuple[int, int | str]:
    """How the phone orders versions (numbers as numbers, else as text), roughly."""
    return (1, int(version)) if version.isascii() and version.isdigit() else (0, version)


def _held_versions(reported: str | None) -> dict[str, list[str]]:
    try:
        keys = json.loads(reported) if reported else []
    except ValueError:
        return {}
    held: dict[str, list[str]] = {}
    for key in keys if isinstance(keys, list) else []:
        if isinstance(key, str) and "@" in key:
            form_id, _, version = key.rpartition("@")
            held.setdefault(form_id, []).append(version)
    return held

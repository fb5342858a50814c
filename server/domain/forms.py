"""Form versions stored in the database: install, look up, and the checker for each version."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import sqlite_utils

from schemas.form import Form
from schemas.validate import RecordChecker
from server.domain.db import now_iso
from server.domain.feeds import record_change


class FormVersionExists(ValueError):
    """A form version is immutable: the same id and version with other content is refused."""


def install_form(db: sqlite_utils.Database, definition: dict[str, Any]) -> tuple[Form, bool]:
    """Store a form version (inside the caller's transaction); returns (form, newly_added).

    The same version installed again with the same content is a no-op, so start-up and
    ``gocua init`` can load the default survey every time."""
    form = Form(definition)
    text = json.dumps(definition, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    row = db.execute("SELECT definition FROM forms WHERE form_id = ? AND version = ?",
                     [form.form_id, form.version]).fetchone()
    if row:
        if row[0] != text:
            raise FormVersionExists(
                f"form {form.form_id} version {form.version} already exists with other content;"
                " give the new form a new version")
        return form, False
    db.execute("INSERT INTO forms (form_id, version, title, definition, created_at)"
               " VALUES (?, ?, ?, ?, ?)",
               [form.form_id, form.version, str(form.title), text, now_iso()])
    record_change(db, "form", f"{form.form_id}@{form.version}",
                  {"form_id": form.form_id, "version": form.version, "definition": definition},
                  commune_id=None)
    return form, True


@lru_cache(maxsize=64)
def _parse(form_id: str, version: str, text: str) -> tuple[Form, RecordChecker]:
    form = Form(json.loads(text))
    return form, RecordChecker(form)


def get_form(db: sqlite_utils.Database, form_id: str,
             version: str) -> tuple[Form, RecordChecker] | None:
    """The parsed form and its checker; parsed once per version (versions never change)."""
    row = db.execute("SELECT definition FROM forms WHERE form_id = ? AND version = ?",
                     [form_id, version]).fetchone()
    return _parse(form_id, version, row[0]) if row else None


def form_versions(db: sqlite_utils.Database, form_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Every stored version of a form, oldest first, with its definition."""
    return [(row[0], json.loads(row[1])) for row in db.execute(
        "SELECT version, definition FROM forms WHERE form_id = ? ORDER BY created_at",
        [form_id])]

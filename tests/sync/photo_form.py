"""The default survey with two photo questions (one per house, one per member), as a new form
version: records that name photos by their SHA-256."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlite_utils

from schemas.form import DEFAULT_FORM, Form
from server.domain.db import write_transaction
from server.domain.forms import install_form

PHOTO_VERSION = "2026.11.1-photo"


def _image(name: str, vi: str, en: str) -> dict[str, Any]:
    return {"type": "image", "name": name, "label::Tiếng Việt (vi)": vi, "label::English (en)": en}


def photo_form_definition() -> dict[str, Any]:
    definition = json.loads(DEFAULT_FORM.read_text(encoding="utf-8"))
    survey = definition["survey"]
    names = [row.get("name") for row in survey]
    survey.insert(
        names.index("member_name") + 1,
        _image("member_photo", "Ảnh thành viên", "Photo of the member"),
    )
    survey.insert(
        names.index("outcome") + 1, _image("house_photo", "Ảnh ngôi nhà", "Photo of the house")
    )
    definition["settings"]["version"] = PHOTO_VERSION
    return definition


def install_photo_form(db: sqlite_utils.Database) -> Form:
    with write_transaction(db):
        return install_form(db, photo_form_definition())[0]


def photo(seed: str) -> tuple[bytes, str]:
    """Some bytes standing for a JPEG, and their SHA-256."""
    content = b"\xff\xd8\xff\xe0 not really a JPEG " + seed.encode() * 200
    return content, hashlib.sha256(content).hexdigest()

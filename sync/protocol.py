"""Sync protocol v1: the envelopes every phone, server and tool exchanges, as marshmallow schemas.

Field errors carry codes, never English sentences: ``field_errors()`` turns them into the
``{field: [{"code", "vi", "en"}]}`` shape of the API's error body, words from the catalogue.
This module must not import Flask or the server: a province server and the CLI use it alone.
"""

from __future__ import annotations

import uuid
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates

from schemas.messages import message

PROTOCOL_VERSION = 1
MAX_BATCH_ITEMS = 100
MAX_BATCH_BYTES = 1_000_000
DEFAULT_PULL_LIMIT = 500
MAX_PULL_LIMIT = 1000

# Every status a pushed item can get back.
APPLIED, DUPLICATE, CONFLICT, REJECTED = "applied", "duplicate", "conflict", "rejected"

_CODES = {"required": "required", "null": "required", "invalid": "wrong_type",
          "type": "wrong_type"}


def _uuid(value: str) -> None:
    try:
        uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        raise ValidationError("not_uuid") from None


def _text(required: bool = True, max_length: int = 200, validate_with: Any = None) -> fields.String:
    validators: list[Any] = [validate.Length(min=1, max=max_length, error="bad_length")]
    if validate_with:
        validators.append(validate_with)
    return fields.String(required=required, error_messages=_CODES, validate=validators)


class RecordSchema(Schema):
    """One visit to one household with one form, as a phone finalized it."""

    class Meta:
        unknown = RAISE

    id = _text(validate_with=_uuid)
    rev = _text(validate_with=_uuid)
    base_rev = fields.String(load_default=None, allow_none=True, validate=_uuid,
                             error_messages=_CODES)
    form_id = _text()
    form_version = _text()
    household_id = fields.String(load_default=None, allow_none=True, error_messages=_CODES,
                                 validate=validate.Length(max=100, error="bad_length"))
    village_id = _text()
    data = fields.Dict(required=True, error_messages=_CODES)
    meta = fields.Dict(load_default=dict, error_messages=_CODES)

    @validates("id", "rev")
    def _lowercase(self, value: str, data_key: str) -> None:
        # (id, rev) is the identity of a revision: one spelling only, or a retry could
        # slip past the duplicate check as a "new" revision.
        if value != value.lower():
            raise ValidationError("not_lowercase")


class PushSchema(Schema):
    """The batch; items are checked one by one so one bad item cannot sink the others."""

    class Meta:
        unknown = EXCLUDE

    items = fields.List(fields.Raw(), required=True, error_messages=_CODES,
                        validate=validate.Length(max=MAX_BATCH_ITEMS, error="too_many_items"))


class EnrollSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    code = _text(max_length=64)


class PullQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    since = fields.Integer(load_default=0, error_messages=_CODES,
                           validate=validate.Range(min=0, error="out_of_range"))
    limit = fields.Integer(load_default=DEFAULT_PULL_LIMIT, error_messages=_CODES,
                           validate=validate.Range(min=1, max=MAX_PULL_LIMIT,
                                                   error="out_of_range"))


def field_errors(messages: Any, prefix: str = "") -> dict[str, list[dict[str, str]]]:
    """marshmallow's nested ``{field: [code, ...]}`` → ``{"a.b": [{"code", "vi", "en"}]}``."""
    out: dict[str, list[dict[str, str]]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for field, items in field_errors(value, name).items():
                out.setdefault(field, []).extend(items)
    elif isinstance(messages, list):
        for item in messages:
            if isinstance(item, str):
                code = item if item.replace("_", "").isalpha() and item.islower() else "invalid"
                if item == "Unknown field.":
                    code = "unknown_field"
                out.setdefault(prefix or "_", []).append({"code": code,
                                                          **message(f"field.{code}")})
            else:
                for field, items in field_errors(item, prefix).items():
                    out.setdefault(field, []).extend(items)
    return out

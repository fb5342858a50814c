"""/api/v1/device: what a phone tells the server about itself, so the commune admin sees on the
devices page how many records each phone still holds unsent."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify
from marshmallow import EXCLUDE, Schema, fields, validate

from server.domain.db import write_transaction
from server.domain.devices import record_device_report
from server.web.api.openapi import operation
from server.web.api.routes import _json_body, device_required
from server.web.db import get_db

bp = Blueprint("device", __name__, url_prefix="/api/v1/device")
_CODES = {"required": "required", "null": "required", "invalid": "wrong_type", "type": "wrong_type"}


class ReportSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # a newer collector may say more

    unsynced = fields.Integer(
        required=True,
        strict=True,
        error_messages=_CODES,
        validate=validate.Range(min=0, max=1_000_000, error="out_of_range"),
    )
    app_version = fields.String(
        load_default="", error_messages=_CODES, validate=validate.Length(max=40, error="bad_length")
    )
    # The form versions the phone holds (``form_id@version``), for the admin's Forms page.
    forms = fields.List(
        fields.String(error_messages=_CODES, validate=validate.Length(max=520, error="bad_length")),
        load_default=None,
        error_messages=_CODES,
        validate=validate.Length(max=200, error="bad_length"),
    )


@bp.post("/report")
@operation(
    summary="A phone reports how many records it still holds unsent",
    body=ReportSchema,
    responses={200: None, 400: None, 401: None, 422: None},
    description="Shown to the commune admin beside the phone's last sync.",
)
@device_required
def report() -> Any:
    """``{unsynced, app_version, forms}`` → ``{ok, device_id}``; a revoked phone gets 401
    ``bad_token`` like every other Bearer route."""
    # 200 form versions of 520 characters at most, with room for the rest.
    body = _json_body(ReportSchema(), limit=120_000)
    db = get_db()
    with write_transaction(db):
        record_device_report(
            db, g.device["id"], body["unsynced"], body["app_version"], body["forms"]
        )
    return jsonify({"ok": True, "device_id": g.device["id"]})

"""What the server answers, as marshmallow schemas: the OpenAPI document is generated from them,
and the tests load every real answer through them (``unknown = RAISE``), so the document cannot
drift from what the server sends.

Like ``protocol.py``, this module never imports Flask or the server.
"""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from sync.protocol import APPLIED, CONFLICT, DUPLICATE, REJECTED


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class TextSchema(_Strict):
    """One text in both languages."""

    vi = fields.String(required=True)
    en = fields.String(required=True)


class FieldErrorSchema(_Strict):
    code = fields.String(required=True)
    vi = fields.String(required=True)
    en = fields.String(required=True)


_FIELD_ERRORS = fields.Dict(
    keys=fields.String(),
    values=fields.List(fields.Nested(FieldErrorSchema)),
    metadata={"description": "field path → its errors"},
)


class ErrorSchema(_Strict):
    """The one error body of the API."""

    ok = fields.Boolean(required=True, metadata={"example": False})
    status = fields.Integer(required=True)
    code = fields.String(required=True, metadata={"example": "validation_failed"})
    message = fields.Nested(TextSchema, required=True)
    errors = _FIELD_ERRORS


class UserSchema(_Strict):
    id = fields.Integer(required=True)
    username = fields.String(required=True)
    display_name = fields.String(required=True)


class CommuneRefSchema(_Strict):
    id = fields.String(required=True)
    name = fields.String(required=True)
    province_name = fields.String(required=True)


class VillageRefSchema(_Strict):
    id = fields.String(required=True)
    name = fields.String(required=True)


class EnrollResponseSchema(_Strict):
    protocol = fields.Integer(required=True)
    device_id = fields.String(required=True)
    token = fields.String(required=True, metadata={"description": "shown once; Bearer token"})
    user = fields.Nested(UserSchema, required=True)
    commune = fields.Nested(CommuneRefSchema, required=True)
    villages = fields.List(fields.Nested(VillageRefSchema), required=True)


class PushResultSchema(_Strict):
    id = fields.String(required=True, allow_none=True)
    rev = fields.String(required=True, allow_none=True)
    status = fields.String(
        required=True, validate=validate.OneOf([APPLIED, DUPLICATE, CONFLICT, REJECTED])
    )
    first_status = fields.String(
        validate=validate.OneOf([APPLIED, CONFLICT]),
        metadata={"description": "duplicate: how it was stored first"},
    )
    server_rev = fields.String(
        metadata={"description": "conflict and duplicate: the server's current rev"}
    )
    errors = _FIELD_ERRORS


class PushResponseSchema(_Strict):
    results = fields.List(
        fields.Nested(PushResultSchema),
        required=True,
        metadata={"description": "one per item, in order"},
    )
    checkpoint = fields.Integer(metadata={"description": "server peers: the stored checkpoint"})
    batches_at_once = fields.Integer(
        validate=validate.Range(min=1),
        metadata={
            "description": "batches the phone may keep at the server at once from now on: 3"
            " while its sync requests in hand are no more than its worker processes (a phone"
            " alone), 2 while it has sync slots free (always, when its sync work is not"
            " bounded), else 1"
        },
    )


class ChangeSchema(_Strict):
    seq = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"example": "household"})
    id = fields.String(required=True)
    op = fields.String(required=True, validate=validate.OneOf(["put", "delete"]))
    data = fields.Dict(required=True, metadata={"description": "the entity; on delete its id"})


class PullResponseSchema(_Strict):
    changes = fields.List(fields.Nested(ChangeSchema), required=True)
    next_since = fields.Integer(required=True)
    has_more = fields.Boolean(required=True)


class StatusResponseSchema(_Strict):
    device_id = fields.String(allow_none=True, required=True)
    records = fields.Integer(required=True)
    revisions = fields.Integer(required=True)
    by_state = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    digest = fields.String(
        required=True,
        metadata={"description": "SHA-256 of the sorted lines '{id} {rev}\\n' the server holds"},
    )
    peer = fields.Boolean(metadata={"description": "true for a server peer's token"})
    commune_id = fields.String(metadata={"description": "server peers: the commune it sends"})
    checkpoint = fields.Integer(metadata={"description": "server peers: stored for ?source="})


class HealthSchema(_Strict):
    ok = fields.Boolean(required=True)
    protocol = fields.Integer(required=True)


class BlobSchema(_Strict):
    sha256 = fields.String(required=True)
    size = fields.Integer(required=True)
    created = fields.Boolean(required=True, metadata={"description": "false: it was there"})

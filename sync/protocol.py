"""Sync protocol v1: the envelopes every phone, server and tool exchanges, as marshmallow schemas.

Field errors carry codes, never English sentences: ``field_errors()`` turns them into the
``{field: [{"code", "vi", "en"}]}`` shape of the API's error body, words from the catalogue.
This module must not import Flask or the server: a province server and the CLI use it alone.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates

from schemas.messages import message

PROTOCOL_VERSION = 1
MAX_BATCH_ITEMS = 100
MAX_BATCH_BYTES = 1_000_000
DEFAULT_PULL_LIMIT = 500
MAX_PULL_LIMIT = 1000
# A photo downscaled on the phone is a few hundred KB; a recording or a film several MB. One
# bound for every upload, the largest answer's (schemas/media.py: ANSWER_MAX_BYTES); a record
# naming a file larger than its question's type allows is refused when it is pushed.
MAX_BLOB_BYTES = 20_000_000
SHA256_PATTERN = r"^[0-9a-f]{64}$"
# How deep a record's ``data`` or ``meta`` may nest: the default survey needs 3 (a repeat of
# objects); anything deeper is no form's answer, and would only cost the checker's stack.
MAX_RECORD_DEPTH = 32
# The largest integer a phone (JavaScript numbers) holds exactly; also far inside SQLite's.
MAX_SAFE_INTEGER = 2**53 - 1
# A household's head and address on the register (the phone's *Thêm hộ mới* holds the same).
MAX_HEAD_NAME = 200
MAX_ADDRESS = 300
# The register's own bounds (server/domain/register.py holds a village's name to 120).
MAX_VILLAGE_NAME = 120
MAX_HOUSEHOLD_CODE = 100

# Every status a pushed item can get back.
APPLIED, DUPLICATE, CONFLICT, REJECTED = "applied", "duplicate", "conflict", "rejected"

_ANY_CASE_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}"
    r"-[0-9a-fA-F]{12}"
)
_CODES = {"required": "required", "null": "required", "invalid": "wrong_type", "type": "wrong_type"}


def _uuid(value: str) -> None:
    # The hyphenated form only: uuid.UUID() also takes "{…}", "urn:uuid:…" and bare hex, and
    # an id becomes part of staff addresses (/review/…/<id>) and of the (id, rev) identity.
    # Case is checked apart (``not_lowercase``), so an upper-case UUID says what is wrong.
    if not isinstance(value, str) or not _ANY_CASE_UUID.fullmatch(value):
        raise ValidationError("not_uuid")


def _sha256(value: str) -> None:
    if not isinstance(value, str) or len(value) != 64 or value.strip("0123456789abcdef"):
        raise ValidationError("not_hash")


def _moment(value: str) -> None:
    # A time a peer stamped (merged, removed, resolved): ISO 8601 with its zone, as the sender's
    # database keeps them; it is compared and shown, so "yesterday" or a bare date is refused.
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError("not_datetime") from None
    if moment.tzinfo is None:
        raise ValidationError("not_datetime")


def _optional(max_length: int, validate_with: Any = None, default: Any = None) -> fields.String:
    """A text a peer may leave out or send as null, bounded like every other input."""
    validators: list[Any] = [validate.Length(max=max_length, error="bad_length")]
    if validate_with:
        validators.append(validate_with)
    # With a default, null is refused as before (the column is NOT NULL); without, null is "none".
    options: dict[str, Any] = (
        {"load_default": default} if default is not None else {"allow_none": True}
    )
    return fields.String(error_messages=_CODES, validate=validators, **options)


def _text(required: bool = True, max_length: int = 200, validate_with: Any = None) -> fields.String:
    validators: list[Any] = [validate.Length(min=1, max=max_length, error="bad_length")]
    if validate_with:
        validators.append(validate_with)
    return fields.String(required=required, error_messages=_CODES, validate=validators)


class _Object(fields.Nested):
    """A nested object whose wrong type is the field's own error (``wrong_type``), not one
    under ``_schema``."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, partial: Any = None, **kwargs: Any
    ) -> Any:
        if not isinstance(value, dict):
            raise self.make_error("type")
        return super()._deserialize(value, attr, data, partial=partial, **kwargs)


class NewHouseholdSchema(Schema):
    """A household met on the lane, as the volunteer typed it in *Thêm hộ mới*: the phone sends
    it with each visit to a household the server may not hold yet. The server reads it only when
    the household joins the register (a household already there is never renamed by a visit);
    a visit that ended at the door (nobody home, come back later) asks no name in its answers."""

    class Meta:
        unknown = RAISE

    head_name = _text(max_length=MAX_HEAD_NAME)
    address = fields.String(
        load_default="",
        error_messages=_CODES,
        validate=validate.Length(max=MAX_ADDRESS, error="bad_length"),
    )


class RecordSchema(Schema):
    """One visit to one household with one form, as a phone finalized it."""

    class Meta:
        unknown = RAISE

    id = _text(validate_with=_uuid)
    rev = _text(validate_with=_uuid)
    base_rev = fields.String(
        load_default=None, allow_none=True, validate=_uuid, error_messages=_CODES
    )
    form_id = _text()
    form_version = _text()
    # The phone makes a new household's id ordered by time (pwa/js/ids.js: uuid, version 7), an
    # older phone at random, the server with uuid4: a UUID, never "" nor a "/" that would break
    # its staff page's address.
    household_id = fields.String(
        load_default=None, allow_none=True, error_messages=_CODES, validate=_uuid
    )
    village_id = _text()
    data = fields.Dict(required=True, error_messages=_CODES)
    meta = fields.Dict(load_default=dict, error_messages=_CODES)
    # Optional: older phones send none, and the register falls back to the answers.
    household = _Object(
        NewHouseholdSchema, load_default=None, allow_none=True, error_messages=_CODES
    )

    @validates("id", "rev", "base_rev", "household_id")
    def _lowercase(self, value: str | None, data_key: str) -> None:
        # (id, rev) is the identity of a revision: one spelling only, or a retry could
        # slip past the duplicate check as a "new" revision.
        if value is not None and value != value.lower():
            raise ValidationError("not_lowercase")


class CommuneSchema(Schema):
    class Meta:
        unknown = RAISE

    id = _text(max_length=5, validate_with=validate.Regexp(r"^\d{5}$", error="not_commune_code"))
    name = _text()
    province_code = _text(max_length=2)
    province_name = _text()


class FormVersionSchema(Schema):
    class Meta:
        unknown = RAISE

    form_id = _text()
    version = _text()
    definition = fields.Dict(required=True, error_messages=_CODES)


_OP = fields.String(
    load_default="put",
    error_messages=_CODES,
    validate=validate.OneOf(["put", "delete"], error="not_a_choice"),
)


class VillageSchema(Schema):
    """A village as it travels upstream: its current state, or ``op: delete``."""

    class Meta:
        unknown = RAISE

    id = _text(max_length=100)
    op = _OP
    name = _optional(MAX_VILLAGE_NAME, default="")
    active = fields.Boolean(load_default=True, error_messages=_CODES)
    # A merged village stays as a version and names its survivor (absent: not sent).
    merged_into = _optional(100)
    merged_at = _optional(40, _moment)


class HouseholdSchema(Schema):
    class Meta:
        unknown = RAISE

    id = _text(max_length=100)
    op = _OP
    village_id = fields.String(
        load_default=None,
        allow_none=True,
        error_messages=_CODES,
        validate=validate.Length(max=100, error="bad_length"),
    )
    code = _optional(MAX_HOUSEHOLD_CODE, default="")
    head_name = _optional(MAX_HEAD_NAME, default="")
    address = _optional(MAX_ADDRESS, default="")
    removed_at = _optional(40, _moment)


class RecordStateSchema(Schema):
    """Which revision of a record is current and its review state, after the batch's items."""

    class Meta:
        unknown = RAISE

    id = _text(validate_with=_uuid)
    rev = _text(validate_with=_uuid)
    review_state = _text(max_length=40)


class RewriteSchema(Schema):
    """A stored revision's answers as they are now: changed in place only by an erasure."""

    class Meta:
        unknown = RAISE

    id = _text(validate_with=_uuid)
    rev = _text(validate_with=_uuid)
    data = fields.Dict(required=True, error_messages=_CODES)


class ErasureSchema(Schema):
    """A person's data erased on the sender: the receiver scrubs its copies of the household,
    the row and every pull-feed entry, before it applies the batch's households."""

    class Meta:
        unknown = RAISE

    kind = fields.String(
        required=True,
        error_messages=_CODES,
        validate=validate.OneOf(["household"], error="not_a_choice"),
    )
    id = _text(max_length=100)


RESOLUTIONS = ("kept_current", "took_conflict", "merged")


class ResolutionSchema(Schema):
    """A conflict revision settled on the sender (kept aside, or its answers taken in whole
    or in part by a new revision that travels as an item): the receiver marks its copy so."""

    class Meta:
        unknown = RAISE

    id = _text(validate_with=_uuid)
    rev = _text(validate_with=_uuid)
    resolution = fields.String(
        required=True,
        error_messages=_CODES,
        validate=validate.OneOf(RESOLUTIONS, error="not_a_choice"),
    )
    resolved_at = _text(max_length=40, validate_with=_moment)


class UpstreamSchema(Schema):
    """What a commune server sends beside its records: only server peers may send it.

    ``checkpoint`` is the sender's outbox position this batch completes; the receiver stores
    it for ``source`` in the batch's own transaction."""

    class Meta:
        unknown = RAISE

    source = _text(max_length=64)
    checkpoint = fields.Integer(
        required=True,
        error_messages=_CODES,
        validate=validate.Range(min=0, max=MAX_SAFE_INTEGER, error="out_of_range"),
    )
    commune = fields.Nested(CommuneSchema, load_default=None, allow_none=True)
    forms = fields.List(fields.Nested(FormVersionSchema), load_default=list)
    villages = fields.List(fields.Nested(VillageSchema), load_default=list)
    households = fields.List(fields.Nested(HouseholdSchema), load_default=list)
    records = fields.List(fields.Nested(RecordStateSchema), load_default=list)
    rewrites = fields.List(fields.Nested(RewriteSchema), load_default=list)
    erasures = fields.List(fields.Nested(ErasureSchema), load_default=list)
    resolutions = fields.List(fields.Nested(ResolutionSchema), load_default=list)


_RECORD_SCHEMA = RecordSchema()
_RECORD_KEYS = frozenset(_RECORD_SCHEMA.fields)
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def load_record(item: dict[str, Any]) -> dict[str, Any]:
    """``RecordSchema().load(item)``, with a quick path for the plainly valid record (canonical
    lower-case UUIDs, strings within their lengths, dicts, no new household): every pushed
    record passes here, and marshmallow's general machinery costs as much as storing it.
    Anything else (a new household's ``household`` object too: rare, and checked by the schema
    alone) goes through the schema, which raises ValidationError with the field errors."""
    if item.keys() <= _RECORD_KEYS and item.get("household") is None:
        get = item.get
        rid, rev, base_rev = get("id"), get("rev"), get("base_rev")
        texts = (get("form_id"), get("form_version"), get("village_id"))
        household, data, meta = get("household_id"), get("data"), get("meta", {})
        if (
            type(rid) is str
            and _CANONICAL_UUID.fullmatch(rid)
            and type(rev) is str
            and _CANONICAL_UUID.fullmatch(rev)
            and (
                base_rev is None or (type(base_rev) is str and _CANONICAL_UUID.fullmatch(base_rev))
            )
            and all(type(t) is str and 0 < len(t) <= 200 for t in texts)
            and (
                household is None
                or (type(household) is str and _CANONICAL_UUID.fullmatch(household))
            )
            and type(data) is dict
            and type(meta) is dict
        ):
            return {
                "id": rid,
                "rev": rev,
                "base_rev": base_rev,
                "form_id": texts[0],
                "form_version": texts[1],
                "household_id": household,
                "village_id": texts[2],
                "data": dict(data),
                "meta": dict(meta),
                "household": None,
            }
    return _RECORD_SCHEMA.load(item)


class _Item(fields.Raw):
    """Any JSON value, null too: a null item is one bad item (rejected alone, as any other),
    not a bad batch. (Not ``allow_none``: the document still says an item is a Record.)"""

    def deserialize(
        self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any
    ) -> Any:
        return None if value is None else super().deserialize(value, attr, data, **kwargs)


class PushSchema(Schema):
    """The batch; items are checked one by one so one bad item cannot sink the others."""

    class Meta:
        unknown = EXCLUDE

    # Each item is a Record (checked on its own); the OpenAPI document says so by reference.
    items = fields.List(
        _Item(metadata={"allOf": [{"$ref": "#/components/schemas/Record"}]}),
        required=True,
        error_messages=_CODES,
        validate=validate.Length(max=MAX_BATCH_ITEMS, error="too_many_items"),
    )
    upstream = fields.Nested(UpstreamSchema, load_default=None, allow_none=True)


class EnrollSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    code = _text(max_length=64)


class StatusQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    source = fields.String(
        load_default=None,
        error_messages=_CODES,
        validate=validate.Length(max=64, error="bad_length"),
    )


class BlobPathSchema(Schema):
    sha256 = fields.String(required=True, validate=_sha256, error_messages=_CODES)


class FormMediaPathSchema(Schema):
    """A file a form version's labels show, named as the form's ``media`` names it."""

    form_id = fields.String(required=True, validate=validate.Length(max=255))
    version = fields.String(required=True, validate=validate.Length(max=255))
    name = fields.String(required=True, validate=validate.Length(max=255))


class PullQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    # Bounded above too: SQLite's integers stop at 2**63 - 1 (a larger one is an
    # OverflowError, not an empty page), and a phone counts in JavaScript numbers.
    since = fields.Integer(
        load_default=0,
        error_messages=_CODES,
        validate=validate.Range(min=0, max=MAX_SAFE_INTEGER, error="out_of_range"),
    )
    limit = fields.Integer(
        load_default=DEFAULT_PULL_LIMIT,
        error_messages=_CODES,
        validate=validate.Range(min=1, max=MAX_PULL_LIMIT, error="out_of_range"),
    )


class Unreadable:
    """What the push body's reader (``sync.body``) puts where JSON held something no record may
    hold and Python cannot even build: nesting past its depth, an integer of thousands of
    digits. ``code`` is the field error the item is rejected with."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __repr__(self) -> str:
        return f"Unreadable({self.code!r})"


TOO_DEEP, TOO_LARGE = Unreadable("too_deep"), Unreadable("out_of_range")
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(value: Any) -> bool:
    """A string that UTF-8 (and so SQLite and every phone) can hold: no lone surrogate, which
    JSON's ``"\\ud800"`` escape can carry although no text contains one."""
    return isinstance(value, str) and not _SURROGATE.search(value)


def value_problems(item: dict[str, Any], texts: dict[str, str] | None = None) -> dict[str, str]:
    """Field → error code for what no record may hold whatever its form says: text that is not
    Unicode (a lone surrogate), a number no phone can hold (past ±2**53 - 1, or not finite),
    nesting deeper than MAX_RECORD_DEPTH. Checked before anything else reads the item, so that
    neither the checker's recursion nor SQLite's UTF-8 meets it. Iterative: any depth is safe.

    ``texts``, when given, receives ``data``: the item's answers as compact JSON (UTF-8 as is),
    when the shortcut encoded them on the way; the push stores that text instead of encoding
    the answers a second time."""
    if _plainly_fine(item, texts):
        return {}
    problems: dict[str, str] = {}
    for key, value in item.items():
        name = key if clean_text(key) else "_"
        stack: list[tuple[Any, int]] = [(value, 1)]
        while stack:
            value, depth = stack.pop()
            code = _scalar_problem(value)
            if code is None and isinstance(value, dict | list):
                if depth > MAX_RECORD_DEPTH:
                    code = "too_deep"
                elif isinstance(value, dict):
                    if not all(clean_text(k) for k in value):
                        code = "bad_text"
                    stack.extend((v, depth + 1) for v in value.values())
                else:
                    stack.extend((v, depth + 1) for v in value)
            if code is not None:
                problems[name] = code
                break
    return problems


# Sixteen ASCII digits in a row may be a number past MAX_SAFE_INTEGER (or a long text: then the
# walk below just finds nothing). Found in the UTF-8 bytes with every digit translated to NUL
# and every other byte to 1: a tenth of a regular expression's time, which tried a match at
# every digit of the ids and dates. No byte of a multi-byte character is an ASCII digit.
_DIGIT_BYTES = bytes(0 if chr(byte) in "0123456789" else 1 for byte in range(256))
_LONG_DIGITS = bytes(16)


def _plainly_fine(item: dict[str, Any], texts: dict[str, str] | None = None) -> bool:
    """The push path's shortcut: what nearly every record is, proven in C rather than by the
    walk. Encoding refuses lone surrogates and non-finite numbers; no run of 16 digits means no
    number past MAX_SAFE_INTEGER; fewer brackets than MAX_RECORD_DEPTH means no deeper nesting.
    Anything else (a marker of a too-deep item included) takes the walk, which names the field.
    With ``texts``, the answers are encoded apart from the rest (the same characters, split
    between a bracket and a bracket), compactly, and kept there."""
    data = item.get("data")
    answers = ""
    try:
        if texts is not None and type(data) is dict:
            answers = json.dumps(
                data,
                ensure_ascii=False,
                separators=(",", ":"),
                allow_nan=False,
                check_circular=False,
            )
            rest = {key: value for key, value in item.items() if key != "data"}
            text = json.dumps(rest, ensure_ascii=False, allow_nan=False, check_circular=False)
            text += answers
        else:
            text = json.dumps(item, ensure_ascii=False, allow_nan=False, check_circular=False)
        encoded = text.encode("utf-8")
    except (ValueError, TypeError, RecursionError):
        return False
    fine = (
        _LONG_DIGITS not in encoded.translate(_DIGIT_BYTES)
        and text.count("[") + text.count("{") <= MAX_RECORD_DEPTH
    )
    if fine and answers and texts is not None:
        texts["data"] = answers
    return fine


def _scalar_problem(value: Any) -> str | None:
    if isinstance(value, str):
        return None if clean_text(value) else "bad_text"
    if value is None or isinstance(value, bool | dict | list):
        return None
    if isinstance(value, int):
        return None if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else "out_of_range"
    if isinstance(value, float):
        return None if math.isfinite(value) else "out_of_range"
    return value.code if isinstance(value, Unreadable) else "wrong_type"


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
                out.setdefault(prefix or "_", []).append({"code": code, **message(f"field.{code}")})
            else:
                for field, items in field_errors(item, prefix).items():
                    out.setdefault(field, []).extend(items)
    return out


def visit_day(record: dict[str, Any]) -> str | None:
    """The day of the visit (``YYYY-MM-DD``) a record's meta names, or None: ``today()`` in a
    form's rules means that day, on the phone, at push and in an office edit alike, not the day
    the phone found signal or the office looked."""
    meta = record["meta"]
    day = str(meta.get("visit_date") or meta.get("started_at") or "")[:10]
    return day if len(day) == 10 else None

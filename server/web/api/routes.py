"""/api/v1: the sync protocol's HTTP face. Parsing, auth and limits here; the work in service.py."""

from __future__ import annotations

import gzip
import math
import zlib
from functools import wraps
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request, send_file
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import ClientDisconnected

from schemas.messages import message
from server.domain import blobs, devices, feeds, forms, personal_data
from server.domain.audit import client_address
from server.domain.db import purge_erased, write_transaction
from server.domain.devices import EnrollmentRefused, device_for_token
from server.domain.records import push as records_push
from server.web import admission
from server.web.api.auth import bearer_token, caller_required
from server.web.api.openapi import build_spec, operation
from server.web.db import get_db
from server.web.errors import ApiError, error_response
from server.web.staff import defer_audit
from sync.body import loads
from sync.protocol import (
    MAX_BATCH_BYTES,
    MAX_BATCH_ITEMS,
    MAX_BLOB_BYTES,
    PROTOCOL_VERSION,
    BlobPathSchema,
    EnrollSchema,
    FormMediaPathSchema,
    PullQuerySchema,
    PushSchema,
    StatusQuerySchema,
    field_errors,
    value_problems,
)
from sync.responses import (
    BlobSchema,
    EnrollResponseSchema,
    HealthSchema,
    PullResponseSchema,
    PushResponseSchema,
    StatusResponseSchema,
)

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _body_bytes(limit: int) -> bytes:
    raw = request.get_data(cache=False)
    if request.headers.get("Content-Encoding", "").lower() == "gzip":
        inflater = zlib.decompressobj(wbits=31)
        try:
            # Inflate at most limit+1 bytes: a small gzip bomb must not fill memory.
            raw = inflater.decompress(raw, limit + 1)
        except zlib.error:
            raise ApiError(400, "bad_gzip") from None
    if len(raw) > limit:
        raise ApiError(413, "batch_too_large", max_bytes=limit, max_items=MAX_BATCH_ITEMS)
    return raw


def _json_body(schema: Schema, limit: int = MAX_BATCH_BYTES) -> dict[str, Any]:
    raw = _body_bytes(limit)
    try:
        # One item nested thousands deep, or holding a 5,000-digit number, is still JSON:
        # sync.body reads it so that only that item is rejected, not the batch.
        body = loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise ApiError(400, "bad_json", detail=str(error)) from None
    if not isinstance(body, dict):
        raise ApiError(400, "not_object")
    try:
        return schema.load(body)
    except ValidationError as error:
        errors = field_errors(error.messages)
        if any(e["code"] == "too_many_items" for e in errors.get("items", [])):
            raise ApiError(
                413, "batch_too_large", max_bytes=limit, max_items=MAX_BATCH_ITEMS
            ) from None
        raise ApiError(422, "validation_failed", errors) from None


def _query(schema: Schema) -> dict[str, Any]:
    try:
        return schema.load(request.args.to_dict())
    except ValidationError as error:
        raise ApiError(422, "validation_failed", field_errors(error.messages)) from None


def device_required(view: Any) -> Any:
    """Bearer device token → ``g.device``; 401 with a reason a phone can show otherwise.
    (Routes that server peers may call too use ``caller_required``.)"""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        device = device_for_token(get_db(), bearer_token())
        if device is None:
            raise ApiError(401, "bad_token")
        g.device = device
        return view(*args, **kwargs)

    return wrapper


_ERRORS = {400: None, 401: None, 413: None, 422: None}


@bp.post("/enroll")
@operation(
    summary="Turn a one-time enrollment code into a device token",
    auth=False,
    body=EnrollSchema,
    responses={200: EnrollResponseSchema, 400: None, 410: None, 422: None, 429: None},
)
def enroll() -> Any:
    wait = devices.enroll_wait(get_db(), client_address.get())
    if wait:  # too many refused codes from this address: guessing, or a very unlucky phone
        locked = error_response(429, "enroll_locked", minutes=math.ceil(wait / 60))
        locked.headers["Retry-After"] = str(wait)
        return locked
    body = _json_body(EnrollSchema(), limit=10_000)
    try:
        return jsonify(devices.enroll(get_db(), body["code"]))
    except EnrollmentRefused as refused:
        if refused.audit:
            defer_audit("enroll_refused", **refused.audit)
        raise ApiError(
            400 if refused.reason == "unknown" else 410, f"enroll_{refused.reason}"
        ) from None


@bp.post("/sync/push")
@operation(
    summary="Push a batch of records (at most 100 items and 1 MB)",
    body=PushSchema,
    responses={200: PushResponseSchema, **_ERRORS, 403: None, 409: None, 503: None},
    description="One result per item, in order, in one transaction. `upstream` is for"
    " server peers only (a commune server replicating to its province).",
)
@caller_required(touch=False)
def push() -> Any:
    body = _json_body(PushSchema())
    if body["upstream"] is not None and g.caller["kind"] != "peer":
        raise ApiError(403, "peers_only")
    db, upstream = get_db(), body["upstream"]
    if upstream is not None:
        # What a record may not hold, the context beside it may not either (it is stored too).
        problems = value_problems(upstream)
        if problems:
            raise ApiError(
                422,
                "validation_failed",
                {
                    f"upstream.{name}": [{"code": code, **message(f"field.{code}")}]
                    for name, code in problems.items()
                },
            )
    answer = records_push.push(
        db, g.caller, body["items"], upstream, current_app.config["DATA_DIR"]
    )
    if upstream is not None and (upstream["erasures"] or upstream["rewrites"]):
        personal_data.sweep(db, current_app.config["DATA_DIR"], g.caller["commune_id"])
        purge_erased(db)  # the commune erased a person: no old copy stays in the WAL here
    return jsonify({**answer, "batches_at_once": admission.batches_at_once()})


@bp.get("/sync/pull")
@operation(
    summary="The changes this caller may see after a checkpoint, one page",
    query=PullQuerySchema,
    responses={200: PullResponseSchema, 401: None, 422: None, 503: None},
)
@caller_required
def pull() -> Any:
    query = _query(PullQuerySchema())
    page = feeds.page_json(get_db(), g.caller, query["since"], query["limit"])
    return current_app.response_class(page, mimetype="application/json")


@bp.get("/sync/status")
@operation(
    summary="What the server holds from this caller: counts and a digest",
    query=StatusQuerySchema,
    responses={200: StatusResponseSchema, 401: None, 422: None},
)
@caller_required
def status() -> Any:
    query = _query(StatusQuerySchema())
    return jsonify(records_push.status(get_db(), g.caller, query["source"]))


def _blob_address(sha256: str) -> str:
    try:
        return BlobPathSchema().load({"sha256": sha256})["sha256"]
    except ValidationError as error:
        raise ApiError(422, "validation_failed", field_errors(error.messages)) from None


@bp.route("/blobs/<sha256>", methods=["HEAD"])
@operation(
    summary="Does the server hold this blob? 200 with its size, or 404",
    path=BlobPathSchema,
    responses={200: None, 404: None, 401: None},
    methods=("HEAD",),
)
@caller_required
def blob_head(sha256: str) -> Any:
    size = blobs.blob_visible(
        get_db(), current_app.config["DATA_DIR"], g.caller["commune_id"], _blob_address(sha256)
    )
    response = Response(status=404 if size is None else 200)
    if size is not None:
        response.headers["X-Blob-Size"] = str(size)
    return response


@bp.put("/blobs/<sha256>")
@operation(
    summary="Upload a photo or file, addressed by its SHA-256 (idempotent)",
    path=BlobPathSchema,
    binary_body=True,
    responses={200: BlobSchema, 201: BlobSchema, **_ERRORS},
    description=f"At most {MAX_BLOB_BYTES:,} bytes. The body's SHA-256 must be the"
    " address; it is stored only whole (temporary file, then rename).",
)
@caller_required
def blob_put(sha256: str) -> Any:
    # A recording or a film is larger than the app's bound for other requests.
    request.max_content_length = MAX_BLOB_BYTES
    sha256 = _blob_address(sha256)
    length = request.content_length
    if length is not None and length > MAX_BLOB_BYTES:
        raise ApiError(413, "blob_too_large", max_bytes=MAX_BLOB_BYTES)
    try:
        size, _ = blobs.store_blob(
            current_app.config["DATA_DIR"],
            sha256,
            request.stream,
            MAX_BLOB_BYTES,
            expected_length=length,
        )
    except blobs.BlobTooLarge:
        raise ApiError(413, "blob_too_large", max_bytes=MAX_BLOB_BYTES) from None
    except blobs.BlobHashMismatch as mismatch:
        raise ApiError(422, "blob_hash_mismatch", expected=sha256, actual=mismatch.actual) from None
    except (blobs.BlobIncomplete, ClientDisconnected):
        raise ApiError(400, "blob_incomplete") from None
    # Only now, the whole body read and its hash checked: the caller has the content.
    # "created" is from its commune's side, so the answer says nothing of other communes.
    db = get_db()
    try:
        with write_transaction(db):
            created = blobs.claim_blob(
                db, g.caller["commune_id"], sha256, current_app.config["DATA_DIR"]
            )
    except blobs.BlobIncomplete:
        raise ApiError(400, "blob_incomplete") from None  # swept meanwhile: sent again
    response = jsonify({"sha256": sha256, "size": size, "created": created})
    response.status_code = 201 if created else 200
    return response


@bp.get("/forms/<form_id>/<version>/media/<name>")
@operation(
    summary="A file a form version's labels show (a picture, a sound, a film)",
    path=FormMediaPathSchema,
    responses={200: None, 304: None, 404: None, 401: None},
    description="Named as the form's `media` names it; its ETag is its SHA-256, and it never"
    " changes: the collector keeps it for offline use.",
)
@caller_required
def form_media(form_id: str, version: str, name: str) -> Any:
    media = forms.form_media(get_db(), form_id[:255], version[:255], g.caller["commune_id"])
    entry = (media or {}).get(name)
    if entry is None:
        raise ApiError(404, "not_found")
    path = blobs.blob_path(current_app.config["DATA_DIR"], entry["sha256"])
    if not path.is_file():
        raise ApiError(404, "not_found")
    response = send_file(
        path, mimetype=entry["type"], etag=entry["sha256"], conditional=True, max_age=31536000
    )
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    return response


@bp.get("/openapi.json")
@operation(summary="This document", auth=False, responses={200: None})
def openapi() -> Any:
    spec = current_app.extensions.get("gocua_openapi")
    if spec is None:
        spec = current_app.extensions["gocua_openapi"] = build_spec(current_app)
    return jsonify(spec)


@bp.record_once
def _remove_stale_uploads(state: Any) -> None:
    # Uploads a killed process left half-written: never visible as blobs, only disk space.
    blobs.remove_stale_temps(state.app.config["DATA_DIR"])


@bp.after_request
def _compress(response: Response) -> Response:
    # Phones on 2G pay for every byte: JSON shrinks five- to tenfold.
    if (
        response.direct_passthrough
        or response.status_code < 200
        or "gzip" not in request.headers.get("Accept-Encoding", "").lower()
        or response.headers.get("Content-Encoding")
    ):
        return response
    data = response.get_data()
    if len(data) < 1024:
        return response
    response.set_data(gzip.compress(data, compresslevel=5))
    response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    return response


@bp.get("/health")
@operation(
    summary="The server answers and knows its protocol", auth=False, responses={200: HealthSchema}
)
def health() -> Any:
    """For load balancers and tests: the server answers and knows its protocol."""
    return jsonify({"ok": True, "protocol": PROTOCOL_VERSION})

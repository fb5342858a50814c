"""/api/v1: the sync protocol's HTTP face. Parsing, auth and limits here; the work in service.py."""

from __future__ import annotations

import gzip
import json
import zlib
from functools import wraps
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from marshmallow import Schema, ValidationError

from server.api import service
from server.db import get_db
from server.errors import ApiError
from server.people import EnrollmentRefused, device_for_token
from sync.protocol import (
    MAX_BATCH_BYTES,
    MAX_BATCH_ITEMS,
    PROTOCOL_VERSION,
    EnrollSchema,
    PullQuerySchema,
    PushSchema,
    field_errors,
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
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise ApiError(400, "bad_json", detail=str(error)) from None
    if not isinstance(body, dict):
        raise ApiError(400, "not_object")
    try:
        return schema.load(body)
    except ValidationError as error:
        errors = field_errors(error.messages)
        if any(e["code"] == "too_many_items" for e in errors.get("items", [])):
            raise ApiError(413, "batch_too_large", max_bytes=limit,
                           max_items=MAX_BATCH_ITEMS) from None
        raise ApiError(422, "validation_failed", errors) from None


def device_required(view: Any) -> Any:
    """Bearer device token → ``g.device``; 401 with a reason a phone can show otherwise."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or not header[7:].strip():
            raise ApiError(401, "no_token")
        device = device_for_token(get_db(), header[7:].strip())
        if device is None:
            raise ApiError(401, "bad_token")
        g.device = device
        return view(*args, **kwargs)

    return wrapper


@bp.post("/enroll")
def enroll() -> Any:
    body = _json_body(EnrollSchema(), limit=10_000)
    try:
        return jsonify(service.enroll(get_db(), body["code"]))
    except EnrollmentRefused as refused:
        raise ApiError(400 if refused.reason == "unknown" else 410,
                       f"enroll_{refused.reason}") from None


@bp.post("/sync/push")
@device_required
def push() -> Any:
    body = _json_body(PushSchema())
    results = service.push(get_db(), g.device, body["items"])
    return jsonify({"results": results})


@bp.get("/sync/pull")
@device_required
def pull() -> Any:
    try:
        query = PullQuerySchema().load(request.args.to_dict())
    except ValidationError as error:
        raise ApiError(422, "validation_failed", field_errors(error.messages)) from None
    return jsonify(service.pull(get_db(), g.device, query["since"], query["limit"]))


@bp.get("/sync/status")
@device_required
def status() -> Any:
    return jsonify(service.status(get_db(), g.device))


@bp.after_request
def _compress(response: Response) -> Response:
    # Phones on 2G pay for every byte: JSON shrinks five- to tenfold.
    if (response.direct_passthrough or response.status_code < 200
            or "gzip" not in request.headers.get("Accept-Encoding", "").lower()
            or response.headers.get("Content-Encoding")):
        return response
    data = response.get_data()
    if len(data) < 1024:
        return response
    response.set_data(gzip.compress(data, compresslevel=5))
    response.headers["Content-Encoding"] = "gzip"
    response.headers["Vary"] = "Accept-Encoding"
    return response


@bp.get("/health")
def health() -> Any:
    """For load balancers and tests: the server answers and knows its protocol."""
    return jsonify({"ok": True, "protocol": PROTOCOL_VERSION})

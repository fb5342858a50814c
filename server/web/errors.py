"""One error body for the whole API, and the handlers that make every failure one of them.

``{"ok": false, "status": 422, "code": "validation_failed", "message": {"vi": .., "en": ..},
"errors": {field: [{"code", "vi", "en"}]}}`` — the code is for programs, the words for people.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from schemas.messages import message
from server.domain.errors import ApiError

__all__ = [
    "ApiError",
    "error_body",
    "error_response",
    "http_error_response",
    "register_error_handlers",
]


# ``status`` and ``code`` are positional-only so that a message may have a ``{status}`` of its
# own (``error.http_error``) without colliding with them.
def error_body(
    status: int, code: str, errors: dict[str, Any] | None = None, /, **params: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ok": False,
        "status": status,
        "code": code,
        "message": message(f"error.{code}", **params),
    }
    if errors:
        body["errors"] = errors
    return body


def error_response(
    status: int, code: str, errors: dict[str, Any] | None = None, /, **params: Any
) -> Response:
    response = jsonify(error_body(status, code, errors, **params))
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="gocua"'
    return response


# HTTP errors Flask raises itself, mapped to our codes.
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}


def _is_api() -> bool:
    return request.path.startswith("/api/")


def http_error_response(error: HTTPException) -> Response:
    """An HTTP error Flask raised itself (404, 405, 413 ...) as the API's JSON body. Both
    handlers that may get one for an /api/ path use it: the HTTPException handler below and the
    staff site's error pages (server/web/site.py), which Flask prefers for their statuses."""
    status = error.code or 500
    response = error_response(status, _HTTP_CODES.get(status, "http_error"), status=status)
    allowed = getattr(error, "valid_methods", None)
    if allowed:  # a 405 says which methods the address does take
        response.headers["Allow"] = ", ".join(allowed)
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> Response:
        return error_response(error.status, error.code, error.errors, **error.params)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Any:
        if not _is_api():
            return error
        return http_error_response(error)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Any:
        app.logger.exception("unexpected error on %s %s", request.method, request.path)
        if not _is_api():
            return "Lỗi máy chủ / Server error", 500
        return error_response(500, "server_error")

"""The OpenAPI document of /api/v1, generated from the marshmallow schemas the routes validate
with (apispec and its marshmallow plugin): a view names its schemas once, with ``operation()``,
and uses the very same classes to load its input; the document is built from the URL map, so a
route cannot be missing from it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask
from marshmallow import Schema

from sync.protocol import PROTOCOL_VERSION, RecordSchema
from sync.responses import ErrorSchema

_DESCRIPTIONS = {
    200: "OK",
    201: "Created",
    400: "Bad request",
    401: "No or bad Bearer token",
    403: "Not allowed for this caller",
    404: "Not found",
    409: "Conflict",
    410: "Gone",
    413: "Too large: the body states the limit",
    422: "Invalid fields",
    503: "Busy: try again after Retry-After seconds; nothing was stored",
}
_PATH_VARIABLE = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def operation(
    *,
    summary: str,
    responses: dict[int, type[Schema] | None],
    body: type[Schema] | None = None,
    query: type[Schema] | None = None,
    path: type[Schema] | None = None,
    binary_body: bool = False,
    auth: bool = True,
    methods: tuple[str, ...] | None = None,
    description: str = "",
) -> Callable:
    """Describe a view for the document. Errors answer with the one error body."""

    def decorate(view: Callable) -> Callable:
        view._openapi = {  # type: ignore[attr-defined]
            "summary": summary,
            "description": description,
            "responses": responses,
            "body": body,
            "query": query,
            "path": path,
            "binary_body": binary_body,
            "auth": auth,
            "methods": methods,
        }
        return view

    return decorate


def build_spec(app: Flask) -> dict[str, Any]:
    spec = APISpec(
        title="Gõ Cửa sync API",
        version=str(PROTOCOL_VERSION),
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={
            "description": "Sync protocol v1 for phones and servers: docs/sync-protocol.md."
            " Bodies may be gzip-compressed both ways."
        },
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    # Push items are loaded one by one (a bad one cannot sink the batch), so the schema is
    # named here rather than nested in Push.
    spec.components.schema("Record", schema=RecordSchema)
    rules = sorted(
        (r for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/")), key=lambda r: r.rule
    )
    paths: dict[str, dict[str, Any]] = {}
    for rule in rules:
        view = app.view_functions[rule.endpoint]
        doc = getattr(view, "_openapi", None)
        methods = (doc or {}).get("methods") or sorted(
            (rule.methods or set()) - {"HEAD", "OPTIONS"}
        )
        target = paths.setdefault(_PATH_VARIABLE.sub(r"{\1}", rule.rule), {})
        for method in methods:
            target[method.lower()] = _operation(view, doc)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _operation(view: Callable, doc: dict[str, Any] | None) -> dict[str, Any]:
    if doc is None:
        summary = (view.__doc__ or view.__name__).strip().splitlines()[0]
        return {
            "summary": summary,
            "responses": {"200": {"description": "OK"}},
            "x-undocumented": True,
        }
    op: dict[str, Any] = {"summary": doc["summary"], "responses": {}}
    if doc["description"]:
        op["description"] = doc["description"]
    for status, schema in sorted(doc["responses"].items()):
        response: dict[str, Any] = {"description": _DESCRIPTIONS.get(status, str(status))}
        schema = schema if schema is not None or status < 400 else ErrorSchema
        if schema is not None:
            response["content"] = {"application/json": {"schema": schema}}
        op["responses"][str(status)] = response
    parameters = []
    if doc["path"] is not None:
        parameters.append({"in": "path", "schema": doc["path"]})
    if doc["query"] is not None:
        parameters.append({"in": "query", "schema": doc["query"]})
    if parameters:
        op["parameters"] = parameters
    if doc["body"] is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": doc["body"]}},
        }
    elif doc["binary_body"]:
        op["requestBody"] = {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    if doc["auth"]:
        op["security"] = [{"bearer": []}]
    return op

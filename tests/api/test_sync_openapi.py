"""The OpenAPI document of /api/v1: valid, complete, and true to what the server answers."""

from __future__ import annotations

import re
import uuid
from typing import Any

from marshmallow import Schema
from openapi_spec_validator import validate

from sync.protocol import MAX_BATCH_ITEMS, PushSchema, RecordSchema
from sync.responses import (
    EnrollResponseSchema,
    ErrorSchema,
    HealthSchema,
    PullResponseSchema,
    PushResponseSchema,
    StatusResponseSchema,
)
from tests.records import household_data, record
from tests.sync.photo_form import photo


def spec(client: Any) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_the_document_is_valid_openapi(client):
    validate(spec(client))


def test_every_api_route_and_method_is_in_the_document(app, client):
    paths = spec(client)["paths"]
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        methods = {m.lower() for m in rule.methods or ()} - {"options", "head"}
        if rule.methods == {"HEAD", "OPTIONS"}:
            methods = {"head"}
        assert methods <= set(paths.get(path, {})), (path, methods)


def test_the_sync_routes_are_documented_with_their_schemas(app, client):
    paths = spec(client)["paths"]
    ours = {
        re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", r.rule)
        for r in app.url_map.iter_rules()
        if r.endpoint.startswith("api.")
    }
    assert {
        "/api/v1/sync/push",
        "/api/v1/sync/pull",
        "/api/v1/sync/status",
        "/api/v1/enroll",
        "/api/v1/blobs/{sha256}",
        "/api/v1/health",
        "/api/v1/openapi.json",
    } <= ours
    for path in ours:
        for method, operation in paths[path].items():
            assert "x-undocumented" not in operation, (method, path)
            assert operation["responses"], (method, path)
    push = paths["/api/v1/sync/push"]["post"]
    assert push["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Push"
    }
    assert push["security"] == [{"bearer": []}]
    assert "security" not in paths["/api/v1/enroll"]["post"]
    assert {p["name"] for p in paths["/api/v1/sync/pull"]["get"]["parameters"]} == {
        "since",
        "limit",
    }


def test_component_schemas_are_the_validating_schemas(client):
    components = spec(client)["components"]["schemas"]
    push = components["Push"]["properties"]
    assert set(push) == set(PushSchema().fields)
    assert push["items"]["maxItems"] == MAX_BATCH_ITEMS  # from the validator that enforces it
    assert push["items"]["items"] == {"allOf": [{"$ref": "#/components/schemas/Record"}]}
    record_doc = components["Record"]
    assert set(record_doc["properties"]) == set(RecordSchema().fields)
    assert set(record_doc["required"]) == {
        n for n, f in RecordSchema().fields.items() if f.required
    }


def load(schema: type[Schema], body: Any) -> Any:
    """Raises if the answer has a field the document does not describe, or lacks one."""
    return schema().load(body)


def test_real_answers_match_the_documented_response_schemas(client, phone, db):
    village = phone["villages"][0]["id"]
    load(EnrollResponseSchema, {k: v for k, v in phone.items() if k != "headers"})
    load(HealthSchema, client.get("/api/v1/health").get_json())
    good, bad = record(village), record(village, data=household_data(residents="x"))
    stale = {**good, "rev": str(uuid.uuid4()), "base_rev": str(uuid.uuid4())}
    headers = phone["headers"]
    first = client.post("/api/v1/sync/push", json={"items": [good, bad]}, headers=headers)
    again = client.post("/api/v1/sync/push", json={"items": [good, stale]}, headers=headers)
    statuses = [
        r["status"]
        for body in (first, again)
        for r in load(PushResponseSchema, body.get_json())["results"]
    ]
    assert statuses == ["applied", "rejected", "duplicate", "conflict"]
    load(PullResponseSchema, client.get("/api/v1/sync/pull", headers=headers).get_json())
    load(StatusResponseSchema, client.get("/api/v1/sync/status", headers=headers).get_json())
    errors = [
        client.post("/api/v1/sync/push", json={"items": [{}] * 101}, headers=headers),
        client.get("/api/v1/sync/pull?since=-1", headers=headers),
        client.put(f"/api/v1/blobs/{photo('x')[1]}", data=b"no", headers=headers),
        client.get("/api/v1/sync/status"),
    ]
    assert [e.status_code for e in errors] == [413, 422, 422, 401]
    for error in errors:
        load(ErrorSchema, error.get_json())

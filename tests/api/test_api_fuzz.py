"""Schemathesis reads the sync API's own OpenAPI document and generates requests from it, both
what it allows and what it does not (wrong types, missing fields, out-of-range values), for
every operation, with a phone's token; then every path with every HTTP method. Whatever comes
in, the answer is never a server error."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode

from server import create_app

pytestmark = pytest.mark.slow

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")


def _schema(app: Any) -> Any:
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def _cases() -> list[tuple[str, GenerationMode]]:
    """Every operation with what it allows, and with what it does not where it takes anything
    at all (an operation without parameters or body has no wrong input to make). Read from the
    document of an empty server once, at collection, to name the cases."""
    folder = Path(tempfile.mkdtemp())
    app = create_app(
        {
            "DATA_DIR": str(folder),
            "DATABASE": str(folder / "gocua.db"),
            "SECRET_KEY": "fuzz" * 16,
            "TESTING": True,
        }
    )
    cases = []
    for result in _schema(app).get_all_operations():
        operation = result.ok()
        cases.append((operation.label, GenerationMode.POSITIVE))
        takes = (
            len(operation.path_parameters)
            + len(operation.query)
            + len(operation.headers)
            + len(operation.body)
        )
        if takes:
            cases.append((operation.label, GenerationMode.NEGATIVE))
    return sorted(cases)


CASES = _cases()
OPERATIONS = sorted({label for label, _ in CASES})


def test_the_document_names_every_operation_of_the_protocol():
    assert {
        "POST /api/v1/sync/push",
        "GET /api/v1/sync/pull",
        "POST /api/v1/enroll",
        "PUT /api/v1/blobs/{sha256}",
        "GET /api/v1/sync/status",
    } <= set(OPERATIONS)


@pytest.mark.parametrize(("label", "mode"), CASES)
def test_no_generated_request_is_a_server_error(
    app: Any, phone: dict[str, Any], label: str, mode: GenerationMode
) -> None:
    operation = next(r.ok() for r in _schema(app).get_all_operations() if r.ok().label == label)

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def check(case: Any) -> None:
        response = case.call(headers=phone["headers"])
        assert response.status_code < 500, (
            case.method,
            case.formatted_path,
            case.body,
            case.query,
            response.text[:500],
        )

    check()


@given(method=st.sampled_from(METHODS), body=st.binary(max_size=200))
@settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_every_path_with_every_method_is_never_a_server_error(
    client: Any, phone: dict[str, Any], method: str, body: bytes
) -> None:
    for path in (
        "/api/v1/sync/push",
        "/api/v1/sync/pull",
        "/api/v1/sync/status",
        "/api/v1/enroll",
        "/api/v1/device/report",
        "/api/v1/health",
        "/api/v1/blobs/" + "a" * 64,
        "/api/v1/openapi.json",
        "/api/v1/nowhere",
    ):
        for headers in ({}, phone["headers"]):
            response = client.open(path, method=method, data=body, headers=headers)
            assert response.status_code < 500, (method, path, response.status_code)

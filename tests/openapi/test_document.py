"""The OpenAPI document: every route has its metadata, and the document is valid OpenAPI 3.1."""

from __future__ import annotations

import re
from typing import Any

import httpx
import jsonschema_rs
import pytest

from tests.support import AppProcess
from zapline.admin import api, openapi


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi.document(tuple(api.ROUTES))


def test_every_route_has_metadata() -> None:
    """A route added to ROUTES without an entry in openapi.OPERATIONS fails here (and vice versa)."""
    assert openapi.missing(api.ROUTES) == []


def test_a_route_without_metadata_is_named() -> None:
    async def extra() -> None: ...

    routes: tuple[openapi.RouteSpec, ...] = (*api.ROUTES, ("/api/v1/extra", extra, "GET", "agent"))
    assert openapi.missing(routes) == ["GET /api/v1/extra: no OpenAPI metadata"]
    with pytest.raises(LookupError, match="GET /api/v1/extra"):
        openapi.document(routes)


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    # schemathesis ships the OpenAPI 3.1 meta-schema it checks documents with (openapi-spec-validator
    # does not come with it); the checks below cover what a meta-schema cannot.
    from schemathesis.specs.openapi.definitions import OPENAPI_31

    errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in
              jsonschema_rs.validator_for(OPENAPI_31).iter_errors(document)]  # fmt: skip
    assert errors == []
    assert document["openapi"].startswith("3.1.")


def _resolve(document: dict[str, Any], ref: str) -> dict[str, Any]:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    assert isinstance(node, dict)
    return node


def test_every_operation_is_complete(document: dict[str, Any]) -> None:
    roles = {(method.lower(), path): role for path, _, method, role in api.ROUTES}
    refs: set[str] = set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            assert operation["summary"], where
            assert operation["tags"] == [roles[method, path]], where
            in_path = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
            assert in_path == set(re.findall(r"{(\w+)}", path)), where
            statuses = set(operation["responses"])
            assert {"200", "401", "503"} <= statuses, where
            assert ("403" in statuses) == (roles[method, path] == "owner"), where
            if "requestBody" in operation:
                assert {"400", "413"} <= statuses, where
            refs |= {r["$ref"] for r in operation["responses"].values() if "$ref" in r}
    for ref in refs:
        body = _resolve(document, ref)["content"]["application/json"]["schema"]
        error = _resolve(document, body["$ref"])
        assert {"status", "error_type", "error"} <= set(error["required"]), ref
    assert len(refs) == 8  # 400 401 403 404 405 409 413 503
    for ref in re.findall(r'"\$ref": "([^"]+)"', __import__("json").dumps(document)):
        _resolve(document, ref)  # every reference resolves


def test_path_ids_follow_what_the_api_enforces(document: dict[str, Any]) -> None:
    params = {p["name"]: p for item in document["paths"].values() for op in item.values() for p in op["parameters"]}
    assert params["conversation_id"]["schema"]["pattern"] == "^conv_[0-9a-f]{12}$"
    assert params["lead_id"]["schema"]["pattern"] == "^lead_[0-9a-f]{12}$"
    assert params["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}
    assert params["Idempotency-Key"]["in"] == "header"
    assert document["components"]["securitySchemes"]["apiKey"] == {
        "type": "http", "scheme": "bearer", "description": "zk_<org_id>_<key_id>_<secret>"
    }  # fmt: skip


def test_served_without_a_key(app: AppProcess, document: dict[str, Any]) -> None:
    answer = httpx.get(f"{app.url}{openapi.PATH}", timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == document

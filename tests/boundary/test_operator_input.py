"""Operator API input that used to reach a 500 (or be accepted): every bad input is a 4xx in the
documented error shape, naming what the caller sent."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from tests.support import AppProcess, Tenant, wait_until
from zapline.sandbox.uazapi.payloads import Uazapi, body


def call(tenant: Tenant, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {tenant.api_key}", **kwargs.pop("headers", {})}
    return httpx.request(method, f"{tenant.env['APP_URL']}{path}", headers=headers, timeout=30, **kwargs)


def error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["status"] == "error" and answer["error_type"] and answer["error"]
    return str(answer["error"])


@pytest.fixture(scope="module")
def conversation(tenant_a: Tenant) -> dict[str, Any]:
    """A conversation of tenant A's, opened by a lead's message."""
    raw = body(Uazapi(token=tenant_a.token).text("oi", contact="5511977770001"))
    accepted = httpx.post(tenant_a.webhook_url, content=raw, headers={"Content-Type": "application/json"}, timeout=30)
    assert accepted.status_code == 200
    found = wait_until(lambda: tenant_a.api("/conversations").json()["items"], what="the conversation")
    conv: dict[str, Any] = found[0]
    return conv


@pytest.mark.parametrize(
    ("payload", "status", "names"),
    [
        ({"media_url": "file:///etc/passwd"}, 400, "media_url"),
        ({"media_url": "http://127.0.0.1:8080/x.jpg"}, 400, "media_url"),
        ({"media_url": "https://10.0.0.7/x.jpg"}, 400, "media_url"),
        ({"media_url": "http://169.254.169.254/latest/meta-data"}, 400, "media_url"),
        ({"media_url": "http://localhost/x.jpg"}, 400, "media_url"),
        ({"media_url": "http://2130706433/x.jpg"}, 400, "media_url"),  # 127.0.0.1, written as a number
        ({"media_url": "http://0x7f.1/x.jpg"}, 400, "media_url"),
        ({"media_url": "https://cdn.example.com/x.jpg", "media_type": "hologram"}, 400, "media_type"),
        ({"text": "x" * 4097}, 413, "text"),
        ({"media_url": "https://cdn.example.com/x.jpg", "caption": "x" * 1025}, 413, "caption"),
        ({"text": 5}, 400, "text"),
        ({}, 400, "text"),
    ],
)
def test_bad_replies_are_refused_naming_the_field(
    tenant_a: Tenant, conversation: dict[str, Any], payload: dict[str, Any], status: int, names: str
) -> None:
    answer = call(tenant_a, "POST", f"/api/v1/conversations/{conversation['id']}/messages", json=payload)
    assert names in error(answer, status)


def test_huge_and_deeply_nested_bodies_are_refused(tenant_a: Tenant, conversation: dict[str, Any]) -> None:
    path = f"/api/v1/conversations/{conversation['id']}/messages"
    huge = json.dumps({"text": "x" * 20_000_000})
    error(call(tenant_a, "POST", path, content=huge, headers={"Content-Type": "application/json"}), 413)
    deep = "[" * 30_000 + "]" * 30_000  # under the size limit, far over the nesting one
    error(call(tenant_a, "PUT", "/api/v1/followups", content=deep), 400)
    sent = call(tenant_a, "GET", f"/api/v1/conversations/{conversation['id']}/messages").json()["items"]
    assert all(len(m["text"]) < 5000 for m in sent)


def cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/conversations?limit=²", 400),
        ("/api/v1/conversations?limit=0", 400),
        (f"/api/v1/conversations?cursor={cursor([int('9' * 400), 'conv_1'])}", 400),
        ("/api/v1/conversations?cursor=" + base64.urlsafe_b64encode(b'[NaN, "conv_1"]').decode(), 400),
        (f"/api/v1/conversations?cursor={cursor(['x', 'conv_1'])}", 400),
        ("/api/v1/conversations/conv_000000000000:msgs", 404),
        ("/api/v1/conversations/conv_000000000000:msgs/messages", 404),
        ("/api/v1/leads/lead_000000000000:convs", 404),
        ("/api/v1/stats/daily?day=2026-13-45", 400),
        ("/api/v1/stats/daily?day=2026-2-1", 400),
        ("/api/v1/nowhere", 404),
    ],
)
def test_bad_reads_are_4xx_with_the_error_shape(tenant_a: Tenant, path: str, status: int) -> None:
    error(call(tenant_a, "GET", path), status)


@pytest.mark.parametrize("steps", [[1], [[None, None]], [{"after_seconds": "60", "text": "x"}], "x"])
def test_bad_followup_steps_are_400(tenant_a: Tenant, steps: Any) -> None:
    assert "steps" in error(call(tenant_a, "PUT", "/api/v1/followups", json={"steps": steps}), 400)


def test_wrong_method_and_unknown_function_routes_answer_json(logged_app: AppProcess, tenant_a: Tenant) -> None:
    assert "DELETE" in error(call(tenant_a, "DELETE", "/api/v1/followups"), 405)
    error(httpx.get(f"{logged_app.url}/api/jobs/nothing"), 404)
    error(httpx.get(f"{logged_app.url}/api/inbound/uazapi/x"), 405)


def test_close_answers_what_get_answers_and_404s_read_alike(tenant_a: Tenant, conversation: dict[str, Any]) -> None:
    closed = call(tenant_a, "POST", f"/api/v1/conversations/{conversation['id']}/close")
    assert closed.status_code == 200, closed.text
    shown = call(tenant_a, "GET", f"/api/v1/conversations/{conversation['id']}").json()
    assert closed.json()["conversation"] == shown and shown["message_count"] == 1
    assert "followup_epoch" not in shown and shown["is_group"] is False
    missing = "conv_00000000ffff"
    get = error(call(tenant_a, "GET", f"/api/v1/conversations/{missing}"), 404)
    close = error(call(tenant_a, "POST", f"/api/v1/conversations/{missing}/close"), 404)
    assert get == close == f"no conversation {missing}"


def test_a_national_number_is_read_in_the_organisations_country(tenant_a: Tenant, conversation: dict[str, Any]) -> None:
    for spelling in ("11977770001", "(11) 97777-0001", "+55 11 97777-0001", "5511977770001"):
        found = call(tenant_a, "GET", "/api/v1/leads", params={"phone": spelling})
        assert found.status_code == 200 and found.json()["phone"] == "+5511977770001", spelling

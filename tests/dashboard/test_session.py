"""The dashboard's session over plain HTTP against ``zapline serve``: the cookie, CSRF, logout, assets."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conversation_loop import Loop
from tests.dashboard.conftest import agent_key, login
from tests.support import AppProcess


def test_login_sets_a_signed_httponly_strict_cookie_without_the_key(app: AppProcess, loop: Loop) -> None:
    key = loop.tenant.api_key
    with httpx.Client(base_url=app.url, timeout=10) as client:
        response = client.post("/admin/login", json={"api_key": key})
        page = client.get("/admin")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["org_id"] == loop.tenant.org_id and body["role"] == "owner" and body["csrf_token"]
    cookie = response.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path", "max-age"} <= attributes and "samesite=strict" in cookie.lower()
    assert "Max-Age=28800" in cookie and "Path=/" in cookie
    assert "secure" not in attributes  # APP_URL is http://127.0.0.1 here
    secret = key.split("_", 5)[5]  # zk_org_<id>_key_<id>_<secret>: the secret may itself hold "_"
    assert len(secret) >= 20
    assert secret not in cookie and secret not in response.text
    assert secret not in page.text and page.headers["cache-control"] == "no-store"


def test_bad_logins_are_refused(app: AppProcess) -> None:
    with httpx.Client(base_url=app.url, timeout=10) as client:
        assert client.post("/admin/login", json={"api_key": "zk_org_nope_nope"}).status_code == 401
        form = client.post("/admin/login", data={"api_key": "zk_x"})  # a cross-site form cannot log anyone in
        assert form.status_code == 400
        assert client.get("/admin/session").status_code == 401
        assert "set-cookie" not in form.headers


def test_the_cookie_authenticates_and_writes_need_the_csrf_token(app: AppProcess, loop: Loop) -> None:
    with login(app, loop.tenant.api_key) as client:
        csrf = client.get("/admin/session").json()["csrf_token"]
        assert client.get("/api/v1/conversations").status_code == 200
        assert client.post("/api/v1/realtime/token").status_code == 403
        wrong = client.post("/api/v1/realtime/token", headers={"X-CSRF-Token": csrf[:-2] + "xx"})
        assert wrong.status_code == 403 and "X-CSRF-Token" in wrong.json()["error"]
        assert client.post("/api/v1/realtime/token", headers={"X-CSRF-Token": csrf}).status_code == 200
    with login(app, loop.tenant.api_key) as other:  # each session has its own token
        assert other.get("/admin/session").json()["csrf_token"] != csrf


def test_a_forged_or_tampered_cookie_is_refused(app: AppProcess, loop: Loop) -> None:
    with login(app, loop.tenant.api_key) as client:
        value = client.cookies["zapline_session"]
        payload, mac = value.split(".")
        for forged in (f"{payload}.{mac[:-2]}AA", f"{payload[:-2]}AA.{mac}", "x.y", payload):
            client.cookies.set("zapline_session", forged)
            assert client.get("/api/v1/conversations").status_code == 401


def test_an_agent_session_gets_403_on_owner_calls(app: AppProcess, loop: Loop) -> None:
    with login(app, agent_key(loop)) as client:
        csrf = client.get("/admin/session").json()["csrf_token"]
        assert client.get("/admin/session").json()["role"] == "agent"
        refused = client.post("/api/v1/lanes/pause", headers={"X-CSRF-Token": csrf})
        assert refused.status_code == 403 and refused.json()["required_role"] == "owner"
        assert client.get("/api/v1/lanes").status_code == 403


def test_revoking_the_key_ends_its_sessions(app: AppProcess, loop: Loop) -> None:
    key = agent_key(loop)
    with login(app, key) as client:
        assert client.get("/api/v1/conversations").status_code == 200
        key_id = client.get("/admin/session").json()["key_prefix"]
        listed = loop.operator("GET", "/keys").json()["keys"]
        record = next(k for k in listed if k["prefix"] == key_id)
        assert loop.operator("DELETE", f"/keys/{record['id']}").status_code == 200
        assert client.get("/api/v1/conversations").status_code == 401
        assert client.get("/admin/session").status_code == 401


def test_logout_needs_the_token_and_clears_the_cookie(app: AppProcess, loop: Loop) -> None:
    with login(app, loop.tenant.api_key) as client:
        csrf = client.get("/admin/session").json()["csrf_token"]
        assert client.post("/admin/logout").status_code == 403
        out = client.post("/admin/logout", headers={"X-CSRF-Token": csrf})
        assert out.status_code == 200 and 'zapline_session=""' in out.headers["set-cookie"]
        assert "zapline_session" not in client.cookies
        assert client.get("/admin/session").status_code == 401


def test_assets_are_small_cached_and_the_page_locked_down(app: AppProcess) -> None:
    with httpx.Client(base_url=app.url, timeout=10) as client:
        page = client.get("/admin")
        assert page.status_code == 200 and "frame-ancestors 'none'" in page.headers["content-security-policy"]
        total = len(page.content)
        for name in ("app.js", "app.css"):
            assert f"/admin/static/{name}?v=" in page.text
            asset = client.get(f"/admin/static/{name}")
            assert asset.status_code == 200 and asset.headers["cache-control"] == "public, max-age=86400"
            total += len(asset.content)
        assert total < 30 * 1024, total
        assert client.get("/admin/static/index.py").status_code == 404


@pytest.fixture(scope="module")
def https_app(sandbox: dict[str, str]) -> Iterator[AppProcess]:
    """The app as deployed behind https (APP_URL), still served on loopback."""
    from zapline.sandbox.redis_server import free_port

    process = AppProcess(sandbox, free_port())
    process.env["APP_URL"] = "https://zapline.test"
    try:
        process.start()
        yield process
    finally:
        process.stop()


def test_the_cookie_is_secure_when_app_url_is_https(https_app: AppProcess, loop: Loop) -> None:
    with httpx.Client(base_url=https_app.url, timeout=10) as client:
        response = client.post("/admin/login", json={"api_key": loop.tenant.api_key})
        assert response.status_code == 200, response.text
        assert "; secure" in response.headers["set-cookie"].lower()

"""The operator dashboard at ``/admin``: a login with an organisation API key, then a signed session cookie.

``POST /admin/login`` checks the key (:func:`zapline.admin.auth.authenticate`) and answers with a
cookie ``zapline_session`` = ``<payload>.<mac>``: base64url JSON ``{org, kid, role, pfx, kd, sid, exp}``
(8 hours) signed with HMAC-SHA256. The key itself is never in the cookie or the page; ``kd`` is a
prefix of the key's stored SHA-256 digest, so a rotated or revoked key ends its sessions at once.

The MAC key is derived HKDF-SHA256 (RFC 5869) from ``CENTRIFUGO_TOKEN_HMAC_SECRET`` with its own
``info``: no new secret to deploy, and a session MAC is never a valid Centrifugo token.

CSRF: the cookie is ``SameSite=Strict`` and ``HttpOnly``; every non-GET call made with it must also
carry ``X-CSRF-Token``, an HMAC of the session's random ``sid`` (another derived key), which the page
gets from ``/admin/login`` or ``GET /admin/session`` (same-origin reads only).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from functools import cache
from pathlib import Path
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from zapline.admin.auth import ROLES, ApiKey, Principal, Role, authenticate
from zapline.clients import redis_client
from zapline.config import get_settings
from zapline.errors import BadRequest, Forbidden, NotFound, Unauthorized
from zapline.http import guarded, read_limited
from zapline.store.keys import OrgKeys, api_key_field
from zapline.store.scripts import run_redis

__all__ = ["SESSION_COOKIE", "routes", "session_principal"]

SESSION_COOKIE = "zapline_session"
CSRF_HEADER = "x-csrf-token"
SESSION_SECONDS = 8 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
LEGACY_HASH = "api_key_hash"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _hkdf(secret: str, info: bytes) -> bytes:
    """HKDF-SHA256 (RFC 5869), one 32-byte block."""
    prk = hmac.new(b"zapline-dashboard-v1", secret.encode(), hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def _keys() -> tuple[bytes, bytes]:
    secret = get_settings().centrifugo_token_hmac_secret
    return _hkdf(secret, b"zapline admin session"), _hkdf(secret, b"zapline admin csrf")


def _seal(claims: dict[str, Any]) -> str:
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{payload}.{_b64(hmac.new(_keys()[0], payload.encode(), hashlib.sha256).digest())}"


def _open(cookie: str) -> dict[str, Any]:
    """The claims of a session cookie this deployment signed and that has not expired."""
    payload, _, mac = cookie.partition(".")
    expected = _b64(hmac.new(_keys()[0], payload.encode(), hashlib.sha256).digest())
    if not mac or not hmac.compare_digest(mac.encode(), expected.encode()):
        raise Unauthorized("session not valid: log in again at /admin")
    try:
        claims = json.loads(_unb64(payload))
    except (ValueError, binascii.Error):
        raise Unauthorized("session not valid: log in again at /admin") from None
    if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int) or claims["exp"] < time.time():
        raise Unauthorized("session expired: log in again at /admin")
    return cast(dict[str, Any], claims)


def csrf_token(claims: dict[str, Any]) -> str:
    return _b64(hmac.new(_keys()[1], f"csrf:{claims['sid']}".encode(), hashlib.sha256).digest())


async def _still_valid(claims: dict[str, Any]) -> bool:
    """The key behind the session still exists, unrevoked and unrotated (one ``HMGET``, as authenticating)."""
    stored, legacy_hash = await run_redis(
        redis_client().hmget(OrgKeys(claims["org"]).org, api_key_field(claims["kid"]), LEGACY_HASH)
    )
    if stored:
        record = ApiKey.from_json(stored)
        return not record.revoked and record.role == claims["role"] and record.digest[:16] == claims["kd"]
    return bool(legacy_hash) and str(legacy_hash)[:16] == claims["kd"]


async def session_principal(request: Request) -> Principal:
    """Who the session cookie speaks for; a non-GET call must carry the session's ``X-CSRF-Token``."""
    claims = _open(request.cookies.get(SESSION_COOKIE, ""))
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), csrf_token(claims).encode()):
            raise Forbidden("missing or wrong X-CSRF-Token for this session", required_role=claims["role"])
    if claims.get("role") not in ROLES or not await _still_valid(claims):
        raise Unauthorized("session ended (its key was rotated or revoked): log in again at /admin")
    return Principal(claims["org"], claims["kid"], claims["role"], claims["pfx"])


def _session_answer(claims: dict[str, Any]) -> dict[str, Any]:
    return {"org_id": claims["org"], "role": claims["role"], "key_prefix": claims["pfx"],
            "expires_at": claims["exp"], "csrf_token": csrf_token(claims)}  # fmt: skip


def _secure() -> bool:
    return str(get_settings().app_url).startswith("https://")


async def login(request: Request) -> Response:
    """``POST {"api_key"}`` (JSON only: a cross-site form cannot send it) → the session cookie."""

    async def run() -> Response:
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise BadRequest('send the key as JSON: {"api_key": "zk_..."}')
        body, _ = await read_limited(request, 4096)
        try:
            key = json.loads(body).get("api_key")
        except (ValueError, AttributeError):
            key = None
        if not isinstance(key, str):
            raise BadRequest('send the key as JSON: {"api_key": "zk_..."}')
        principal = await authenticate(f"Bearer {key}")
        from zapline.store.registry import digest

        role: Role = principal.role
        claims = {"org": principal.org_id, "kid": principal.key_id, "role": role, "pfx": principal.key_prefix,
                  "kd": digest(key.strip())[:16], "sid": secrets.token_urlsafe(16),
                  "exp": int(time.time()) + SESSION_SECONDS}  # fmt: skip
        response = JSONResponse(_session_answer(claims), headers={"Cache-Control": "no-store"})
        response.set_cookie(SESSION_COOKIE, _seal(claims), max_age=SESSION_SECONDS, path="/", httponly=True,
                            samesite="strict", secure=_secure())  # fmt: skip
        return response

    return await guarded(run, audience="operator", log_fields={"path": request.url.path})


async def logout(request: Request) -> Response:
    """Clears the cookie (with the session's CSRF token, when the session is still valid)."""

    async def run() -> Response:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            try:
                claims = _open(cookie)
            except Unauthorized:
                claims = None
            if claims and not hmac.compare_digest(
                request.headers.get(CSRF_HEADER, "").encode(), csrf_token(claims).encode()
            ):
                raise Forbidden("missing or wrong X-CSRF-Token for this session", required_role=claims["role"])
        response = JSONResponse({"logged_out": True}, headers={"Cache-Control": "no-store"})
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=_secure())
        return response

    return await guarded(run, audience="operator", log_fields={"path": request.url.path})


async def session(request: Request) -> Response:
    """The session's organisation, role and CSRF token (401 without a valid session)."""

    async def run() -> Response:
        claims = _open(request.cookies.get(SESSION_COOKIE, ""))
        if not await _still_valid(claims):
            raise Unauthorized("session ended (its key was rotated or revoked): log in again at /admin")
        return JSONResponse(_session_answer(claims), headers={"Cache-Control": "no-store"})

    return await guarded(run, audience="operator", log_fields={"path": request.url.path})


@cache
def _asset(name: str) -> tuple[bytes, str]:
    data = (STATIC / name).read_bytes()
    return data, hashlib.sha256(data).hexdigest()[:12]


def _csp() -> str:
    ws = get_settings().centrifugo_ws_url or ""
    origin = "/".join(ws.split("/")[:3]) if ws else ""
    return (f"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
            f"media-src https:; connect-src 'self' {origin}; form-action 'self'; base-uri 'none'; "
            "frame-ancestors 'none'")  # fmt: skip


async def page(request: Request) -> Response:
    """The one HTML page; its assets carry their content hash, so they can be cached for a day."""
    html = _asset("index.html")[0].decode()
    for name in ASSETS:
        html = html.replace(f"/admin/static/{name}", f"/admin/static/{name}?v={_asset(name)[1]}")
    headers = {"Cache-Control": "no-store", "Content-Security-Policy": _csp(), "X-Frame-Options": "DENY",
               "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}  # fmt: skip
    return Response(html, media_type="text/html; charset=utf-8", headers=headers)


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in ASSETS:
        from zapline.http import error_response

        return error_response(NotFound(f"no asset {name[:40]}"), "operator")
    headers = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}
    return Response(_asset(name)[0], media_type=ASSETS[name], headers=headers)


routes = [
    Route("/admin", page, methods=["GET"]),
    Route("/admin/", page, methods=["GET"]),
    Route("/admin/login", login, methods=["POST"]),
    Route("/admin/logout", logout, methods=["POST"]),
    Route("/admin/session", session, methods=["GET"]),
    Route("/admin/static/{name}", asset, methods=["GET"]),
]

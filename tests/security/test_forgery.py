"""Every forged, stale or misdirected ``Upstash-Signature`` on every signed route: 401 with the
documented error body, and not one byte of Redis database 0 changed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from tests.security.helpers import Stack, assert_error
from tests.support import Tenant, deliver, qstash_signature
from zapline.failures import routes as failure_routes
from zapline.inbound import routes as inbound_routes
from zapline.jobs.kinds import JOBS
from zapline.jobs.routes import routes as job_routes
from zapline.registry.jobs import FAILURES_PATH
from zapline.sandbox.uazapi.payloads import Uazapi, body


def _signed_paths() -> list[str]:
    """Every signed route the functions serve, from their own route lists (cron's when it has one)."""
    routes = [*inbound_routes, *job_routes, *failure_routes]
    try:
        from zapline.cronjobs import routes as cron_routes
    except ImportError:  # a deployment whose cron function serves only /health
        cron_routes = []
    routes += cron_routes
    return sorted(r.path for r in routes if isinstance(r, Route))


SIGNED_PATHS = _signed_paths()
INBOUND = "/api/inbound/uazapi/{instance_key}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def hand_made(header: dict[str, Any], claims: dict[str, Any], key: bytes | None, digest: Any = hashlib.sha256) -> str:
    """A JWT built by hand (for what PyJWT refuses to make: empty keys, ``alg`` lies, no MAC)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    mac = b"" if key is None else hmac.new(key, signing_input.encode(), digest).digest()
    return f"{signing_input}.{_b64(mac)}"


def claims_for(url: str, raw: bytes, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": "Upstash", "sub": url, "iat": now, "nbf": now, "exp": now + 300, "jti": secrets.token_hex(8),
              "body": _b64(hashlib.sha256(raw).digest())}  # fmt: skip
    claims.update(overrides)
    return claims


@dataclass(frozen=True)
class Target:
    """Where a forged delivery goes: the app, the route's path, a body that would write if accepted."""

    app_url: str
    path: str
    body: bytes
    key: str  # the current signing key
    next_key: str
    other_path: str  # another tenant's (or another route's) path on the same deployment

    @property
    def url(self) -> str:
        return self.app_url + self.path


@dataclass(frozen=True)
class Attempt:
    signature: str | None
    path: str
    body: bytes


Variant = Callable[[Target], Attempt]


def _same(t: Target, signature: str | None) -> Attempt:
    return Attempt(signature, t.path, t.body)


def _signed(t: Target, **overrides: Any) -> Attempt:
    """Genuinely signed (current key), with claims overridden; ``None`` leaves a claim out."""
    claims = {k: v for k, v in claims_for(t.url, t.body, **overrides).items() if v is not None}
    return _same(t, hand_made({"alg": "HS256", "typ": "JWT"}, claims, t.key.encode()))


def _huge_but_valid_shape(t: Target) -> Attempt:
    padding = secrets.token_urlsafe(75_000)  # ~100 KB once encoded, signed with a wrong key
    return _same(t, qstash_signature(t.url, t.body, secrets.token_hex(32), pad=padding))


VARIANTS: dict[str, Variant] = {
    "missing": lambda t: _same(t, None),
    "empty": lambda t: _same(t, ""),
    "garbage": lambda t: _same(t, "garbage"),
    "three_garbage_segments": lambda t: _same(t, "a.b.c"),
    "four_segments": lambda t: _same(t, qstash_signature(t.url, t.body, t.key) + ".x"),
    "bearer_prefixed": lambda t: _same(t, "Bearer " + qstash_signature(t.url, t.body, t.key)),
    "alg_none": lambda t: _same(t, hand_made({"alg": "none", "typ": "JWT"}, claims_for(t.url, t.body), None)),
    "alg_none_with_mac": lambda t: _same(
        t, hand_made({"alg": "none", "typ": "JWT"}, claims_for(t.url, t.body), t.key.encode())
    ),
    "alg_lowercase_hs256": lambda t: _same(t, hand_made({"alg": "hs256"}, claims_for(t.url, t.body), t.key.encode())),
    "hs512_right_key": lambda t: _same(
        t, hand_made({"alg": "HS512", "typ": "JWT"}, claims_for(t.url, t.body), t.key.encode(), hashlib.sha512)
    ),
    "hs384_right_key": lambda t: _same(
        t, hand_made({"alg": "HS384", "typ": "JWT"}, claims_for(t.url, t.body), t.key.encode(), hashlib.sha384)
    ),
    "rs256_header_hmac_body": lambda t: _same(
        t, hand_made({"alg": "RS256", "typ": "JWT"}, claims_for(t.url, t.body), t.key.encode())
    ),
    "hs256_header_sha512_mac": lambda t: _same(
        t, hand_made({"alg": "HS256"}, claims_for(t.url, t.body), t.key.encode(), hashlib.sha512)
    ),
    "wrong_key": lambda t: _same(t, qstash_signature(t.url, t.body, secrets.token_hex(32))),
    "empty_key": lambda t: _same(t, hand_made({"alg": "HS256", "typ": "JWT"}, claims_for(t.url, t.body), b"")),
    "key_prefix": lambda t: _same(t, hand_made({"alg": "HS256"}, claims_for(t.url, t.body), t.key[:8].encode())),
    "both_keys_concatenated": lambda t: _same(t, qstash_signature(t.url, t.body, t.key + t.next_key)),
    "truncated_mac": lambda t: _same(t, qstash_signature(t.url, t.body, t.key)[:-6]),
    "expired": lambda t: _signed(t, exp=int(time.time()) - 1, nbf=int(time.time()) - 600),
    "expired_now": lambda t: _signed(t, exp=int(time.time())),
    "not_yet_valid": lambda t: _signed(t, nbf=int(time.time()) + 120),
    "no_exp": lambda t: _signed(t, exp=None),
    "no_nbf": lambda t: _signed(t, nbf=None),
    "exp_as_string": lambda t: _signed(t, exp=str(int(time.time()) + 300)),
    "exp_as_float": lambda t: _signed(t, exp=time.time() + 300.5),
    "wrong_issuer": lambda t: _signed(t, iss="upstash"),
    "no_issuer": lambda t: _signed(t, iss=None),
    "issuer_list": lambda t: _signed(t, iss=["Upstash"]),
    "no_subject": lambda t: _signed(t, sub=None),
    "query_string_added": lambda t: Attempt(qstash_signature(t.url, t.body, t.key), t.path + "?x=1", t.body),
    "signed_with_query_string": lambda t: _signed(t, sub=t.url + "?x=1"),
    "trailing_slash_signed": lambda t: _signed(t, sub=t.url + "/"),
    "other_scheme": lambda t: _signed(t, sub=t.url.replace("http://", "https://", 1)),
    "other_host": lambda t: _signed(t, sub=t.url.replace("127.0.0.1", "localhost", 1)),
    "path_only": lambda t: _signed(t, sub=t.path),
    "another_tenants_url": lambda t: Attempt(qstash_signature(t.app_url + t.other_path, t.body, t.key), t.path, t.body),
    "body_changed": lambda t: Attempt(qstash_signature(t.url, t.body, t.key), t.path, t.body + b" "),
    "body_swapped": lambda t: Attempt(qstash_signature(t.url, b"{}", t.key), t.path, t.body),
    "no_body_claim": lambda t: _signed(t, body=None),
    "empty_body_claim": lambda t: _signed(t, body=""),
    "oversized_garbage": lambda t: _same(t, "x" * 100_000),
    "oversized_jwt_wrong_key": _huge_but_valid_shape,
}


@pytest.fixture(scope="module")
def tenants(stack: Stack) -> tuple[Tenant, Tenant]:
    return stack.tenant("A"), stack.tenant("B")


@pytest.fixture(scope="module")
def conversation(stack: Stack, tenants: tuple[Tenant, Tenant]) -> str:
    """A conversation of A's, stored by a genuine delivery (so that forged jobs have a target)."""
    a = tenants[0]
    genuine = body(Uazapi(token=a.token).text("oi", contact="5511977770001"))
    stored = deliver(stack.app.url, a.inbound_path, genuine, key=stack.sandbox["QSTASH_CURRENT_SIGNING_KEY"])
    assert stored.status_code == 200, stored.text
    conv_id: str = a.api("/conversations").json()["items"][0]["id"]
    return conv_id


def target(route: str, stack: Stack, tenants: tuple[Tenant, Tenant], conversation: str) -> Target:
    """A body per route that would write if its signature were accepted (A's organisation's)."""
    a, b = tenants
    org = a.org_id
    payloads: dict[str, Any] = {
        INBOUND: Uazapi(token=a.token).text("forged", contact="5511977770002"),
        "/api/jobs/send": {"org_id": org, "message_id": "msg_0000000000000000"},
        "/api/jobs/followup": {"org_id": org, "conversation_id": conversation, "epoch": 0, "step": 0},
        "/api/jobs/nps": {"org_id": org, "conversation_id": conversation, "action": "send"},
        FAILURES_PATH: {"status": 489, "sourceMessageId": "msg_forged", "dlqId": "dlq_forged",
                        "url": f"{stack.app.url}{a.inbound_path}", "sourceBody": ""},
    }  # fmt: skip
    payload = payloads.get(route, {"org_id": org})  # another job kind, or a cron route
    others = [p for p in SIGNED_PATHS if p not in (route, INBOUND)]
    path, other = (a.inbound_path, b.inbound_path) if route == INBOUND else (route, others[0])
    return Target(stack.app.url, path, json.dumps(payload).encode(), stack.sandbox["QSTASH_CURRENT_SIGNING_KEY"],
                  stack.sandbox["QSTASH_NEXT_SIGNING_KEY"], other)  # fmt: skip


def send(t: Target, attempt: Attempt) -> httpx.Response:
    headers = {"Content-Type": "application/json", "Upstash-Message-Id": f"msg_{secrets.token_hex(8)}",
               "Upstash-Retried": "0", "User-Agent": "Upstash-QStash"}  # fmt: skip
    if attempt.signature is not None:
        headers["Upstash-Signature"] = attempt.signature
    return httpx.post(t.app_url + attempt.path, content=attempt.body, headers=headers, timeout=30)


def test_every_signed_route_is_covered() -> None:
    expected = {INBOUND, FAILURES_PATH, *(kind.path for kind in JOBS)}
    assert expected <= set(SIGNED_PATHS)
    assert all(p.startswith(("/api/inbound/", "/api/jobs/", "/api/failures/", "/api/cron/")) for p in SIGNED_PATHS)


@pytest.mark.parametrize("route", SIGNED_PATHS)
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_a_forged_signature_is_401_and_writes_nothing(
    stack: Stack, tenants: tuple[Tenant, Tenant], conversation: str, route: str, variant: str
) -> None:
    t = target(route, stack, tenants, conversation)
    attempt = VARIANTS[variant](t)  # built inside the test: times are the test's own
    before = stack.digest()
    answer = send(t, attempt)
    assert_error(answer, 401, "invalid_signature")
    assert "upstash-nonretryable-error" not in answer.headers
    assert stack.digest() == before, f"{variant} on {route} changed Redis"

"""Shared by the security suites: a stack of their own, a digest of Redis, what must never leak."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import httpx
import redis

from tests.support import AppProcess, Tenant

TRACEBACK_MARKERS = ("Traceback (most recent call last)", 'File "/', "site-packages", '.py", line ')


@dataclass
class Stack:
    """A sandbox and every function over real HTTP, owned by one test module (so that nothing but
    the module's own requests touches its Redis), the app's JSON logs kept in a file."""

    sandbox: dict[str, str]
    app: AppProcess

    def tenant(self, name: str) -> Tenant:
        return Tenant({**self.sandbox, "APP_URL": self.app.url}, name=name)

    def digest(self, match: str = "*") -> str:
        return redis_digest(self.sandbox["REDIS_URL"], match)

    def deployment_secrets(self) -> list[str]:
        names = (
            *("QSTASH_TOKEN", "QSTASH_CURRENT_SIGNING_KEY", "QSTASH_NEXT_SIGNING_KEY", "UPSTASH_REDIS_REST_TOKEN"),
            *("CENTRIFUGO_API_KEY", "CENTRIFUGO_TOKEN_HMAC_SECRET", "UAZAPI_ADMIN_TOKEN", "UAZAPI_INSTANCE_TOKEN"),
        )
        return [self.sandbox[n] for n in names if self.sandbox.get(n)]


def redis_digest(url: str, match: str = "*") -> str:
    """SHA-256 over every key of database 0 matching ``match`` with its DUMPed value (sorted by key)."""
    client = redis.Redis.from_url(url, db=0)
    try:
        keys = sorted(set(client.scan_iter(match=match, count=1000)))
        digest = hashlib.sha256()
        for key in keys:
            digest.update(len(key).to_bytes(4, "big") + key)
            value = client.dump(key) or b""
            digest.update(len(value).to_bytes(4, "big") + value)
        return f"{len(keys)}:{digest.hexdigest()}"
    finally:
        client.close()


def org_pattern(org_id: str) -> str:
    """Every key of one organisation (``zl:{<org>}:*``; braces are plain characters in a SCAN pattern)."""
    return f"zl:{{{org_id}}}:*"


def tenant_secrets(tenant: Tenant) -> list[str]:
    """The tenant's API key, its instance key's secret part and its UAZAPI token."""
    return [tenant.api_key, tenant.instance_key.rsplit(".", 1)[1], tenant.token]


def leaked(text: str, secrets: Iterable[str]) -> list[str]:
    """The secrets (shown as a prefix) that ``text`` contains, and any traceback marker."""
    found = [f"secret {s[:6]}…" for s in secrets if s and s in text]
    return found + [f"traceback marker {m!r}" for m in TRACEBACK_MARKERS if m in text]


def assert_error(response: httpx.Response, status: int, error_type: str | None = None) -> dict[str, str]:
    """``status`` with the documented error body ``{"status": "error", "error_type", "error"}``."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    body = response.json()
    assert body["status"] == "error" and isinstance(body["error"], str) and body["error"], body
    assert set(body) <= {"status", "error_type", "error", "field"}, body
    if error_type is not None:
        assert body["error_type"] == error_type, body
    answer: dict[str, str] = body
    return answer

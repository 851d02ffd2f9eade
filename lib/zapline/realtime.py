"""Centrifugo: publishing live updates, and the tokens live inboxes connect with.

Centrifugo's server API is one JSON POST, so this speaks it with the shared httpx client instead
of importing ``cent`` (~270 ms of aiohttp and requests on every cold start). Every stored change
is ONE ``broadcast`` to the organisation's inbox channel and the conversation's channel, with an
``idempotency_key``: a QStash retry re-publishes and Centrifugo drops the duplicate.

Channels: ``inbox:<org_id>`` (every conversation's activity) and
``conversation:<org_id>:<conversation_id>`` (one conversation's messages).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from typing import Any

from zapline import hotpath, outgoing
from zapline.config import get_settings
from zapline.errors import RealtimeUnavailable

__all__ = ["broadcast", "connection_token", "conversation_channel", "inbox_channel", "subscription_token"]


def inbox_channel(org_id: str) -> str:
    return f"inbox:{org_id}"


def conversation_channel(org_id: str, conversation_id: str) -> str:
    return f"conversation:{org_id}:{conversation_id}"


async def broadcast(channels: Iterable[str], data: dict[str, Any], *, idempotency_key: str) -> None:
    """Publish ``data`` to every channel in one call; raise ``RealtimeUnavailable`` on any failure."""
    settings = get_settings()
    body = {"channels": list(dict.fromkeys(channels)), "data": data, "idempotency_key": idempotency_key}
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    try:  # every inbound message's second call: the small client of zapline.hotpath, not httpx
        response = await hotpath.post_json(
            f"{settings.centrifugo_api_url}/broadcast",
            raw,
            {"X-API-Key": settings.centrifugo_api_key},
            within=settings.http_timeout,
        )
    except hotpath.HotpathError as exc:
        raise RealtimeUnavailable(f"Centrifugo unreachable: {exc}") from None
    if response.status >= 400:
        raise outgoing.failure(
            "Centrifugo",
            response.status,
            response.body[:200].decode("utf-8", "replace"),
            response.headers.get("retry-after"),
            unavailable=RealtimeUnavailable,
            rejected=None,
        )
    try:
        reply = json.loads(response.body)
    except ValueError:
        raise RealtimeUnavailable("Centrifugo answered with something that is not JSON") from None
    errors = [reply["error"]] if "error" in reply else []
    errors += [r["error"] for r in reply.get("result", {}).get("responses", []) if r.get("error")]
    if errors:
        raise RealtimeUnavailable(f"Centrifugo refused the publication: {errors[0]}")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _hs256(claims: dict[str, Any], secret: str) -> str:
    header = _b64url(b'{"alg":"HS256","typ":"JWT"}')
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    mac = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(mac)}"


def connection_token(user: str, *, channels: Iterable[str] = (), ttl: int = 3600) -> str:
    """A connection JWT; ``channels`` become server-side subscriptions."""
    claims: dict[str, Any] = {"sub": user, "exp": int(time.time()) + ttl}
    if channels:
        claims["channels"] = list(channels)
    return _hs256(claims, get_settings().centrifugo_token_hmac_secret)


def subscription_token(user: str, channel: str, *, ttl: int = 3600) -> str:
    """A subscription JWT for one channel (e.g. a conversation an operator opens)."""
    claims = {"sub": user, "channel": channel, "exp": int(time.time()) + ttl}
    return _hs256(claims, get_settings().centrifugo_token_hmac_secret)

"""Signing keys: ``GET /v2/keys`` and ``POST /v2/keys/rotate`` (current := next, next := new).

Rotated keys are stored in Redis and win over the configured ones after a restart.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from zapline.sandbox.qstash.api.common import engine, reply
from zapline.sandbox.qstash.store import KEYS

__all__ = ["get", "rotate"]


async def get(request: Request) -> Response:
    signer = engine(request).signer
    return reply({"current": signer.current, "next": signer.next})


async def rotate(request: Request) -> Response:
    eng = engine(request)
    current, next_key = eng.signer.current, eng.signer.next
    eng.signer.rotate()
    try:
        await eng.writer.write(("HSET", KEYS, "current", eng.signer.current, "next", eng.signer.next))
    except Exception:
        eng.signer.current, eng.signer.next = current, next_key
        raise
    return reply({"current": eng.signer.current, "next": eng.signer.next})

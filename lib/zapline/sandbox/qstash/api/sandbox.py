"""The sandbox clock, for tests: ``GET /_sandbox/clock`` and ``POST /_sandbox/clock/advance``.

No token is needed (the sandbox binds loopback only); a valid one is accepted all the same.
``advance`` answers once every attempt that became due has finished (bounded by ``advance_wait_s``)
with ``{"now": <virtual ms>, "fired": <attempts started>, "deliveries": [...]}``: one entry per
attempt, in the order they started, ``{"messageId", "url", "scheduleId" (or null), "kind"
(message, callback, failure_callback), "retried", "outcome", "status"}`` plus ``error``,
``nextDelivery`` (for ``retry``) and ``dlqId`` (for ``dlq``) where they apply. ``outcome`` is one of
``delivered``, ``retry`` (another attempt is scheduled), ``dlq`` (given up), ``canceled``,
``pending`` (still running when the wait ran out) or ``error`` (the sandbox failed to settle it).
"""

from __future__ import annotations

import math

from starlette.requests import Request
from starlette.responses import Response

from zapline.sandbox.qstash.api.common import engine, json_body, reply
from zapline.sandbox.qstash.errors import ApiError

__all__ = ["advance", "clock"]

MAX_ADVANCE_S = 10 * 365 * 86400


async def clock(request: Request) -> Response:
    eng = engine(request)
    return reply({"now": eng.clock.now(), "offset": eng.clock.offset_ms})


async def advance(request: Request) -> Response:
    body = await json_body(request)
    seconds = body.get("seconds") if isinstance(body, dict) else None
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or not math.isfinite(seconds)
        or not 0 <= seconds <= MAX_ADVANCE_S
    ):
        raise ApiError(400, f'the body must be {{"seconds": N}} with 0 <= N <= {MAX_ADVANCE_S}')
    now, attempts = await engine(request).advance(float(seconds))
    return reply({"now": now, "fired": len(attempts), "deliveries": [a.api() for a in attempts]})

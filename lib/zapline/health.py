"""Deep health checks, one per dependency, beside every function's liveness probe (``/health``,
which does no I/O):

- ``/health/redis``: one ``PING`` through the Upstash REST API, with its latency;
- ``/health/qstash``: QStash's API answers an authenticated ``GET /v2/keys``; our signing keys are set
  and include the key QStash signs with now; the backlog per send lane, from QStash's flow-control
  API (``waitListSize`` of each ``send:<lane>:<instance>`` key);
- ``/health/queues`` (an organisation owner key): per job kind, what QStash still holds (its event log,
  by the ``job-<kind>`` label every enqueue sets) and its dead letters (its DLQ, by the same label);
- ``/health/centrifugo``: Centrifugo's ``info`` call.

Each check has one deadline, ``ZAPLINE_HTTP_TIMEOUT``. 200 ``{"status": "ok", …}`` when healthy;
503 ``{"status": "degraded", "down": [...], "error": …}`` naming what is down. No answer carries a
secret: keys are compared, never shown, and errors name the service, not its URL.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from zapline import outgoing
from zapline.clients import redis_client
from zapline.config import get_settings
from zapline.errors import QueueRejected, QueueUnavailable, RealtimeUnavailable, ZaplineError
from zapline.http import guarded
from zapline.logs import get_logger

__all__ = ["CHECKS", "ENDPOINTS", "Degraded"]

log = get_logger("zapline.health")

EVENT_PAGES = 5  # of 1,000 events per job kind: the newest 5,000 state changes are read
DLQ_PAGES = 10  # of 100 dead letters per job kind
LANES = ("realtime", "automation", "bulk")
PENDING = {"CREATED": "waiting", "ACTIVE": "active", "ERROR": "active", "RETRY": "retrying"}


class Degraded(Exception):
    """A check found its dependency unusable: ``down`` names what, ``details`` what was seen."""

    def __init__(self, message: str, *, down: list[str], details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.down = down
        self.details = details or {}


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


async def redis_check(request: Request) -> dict[str, Any]:
    from zapline.store.scripts import run_redis

    start = time.perf_counter()
    try:
        pong = await run_redis(redis_client().ping())
    except ZaplineError as exc:
        raise Degraded(exc.message, down=["redis"]) from None
    if pong != "PONG":
        raise Degraded("Upstash Redis did not answer PONG", down=["redis"])
    return {"latency_ms": _ms(start)}


async def _qstash(path: str, **params: Any) -> httpx.Response:
    settings = get_settings()
    return await outgoing.request("QStash", "GET", f"{settings.qstash_url}{path}", unavailable=QueueUnavailable,
                                  rejected=QueueRejected, params=params or None,
                                  headers={"Authorization": f"Bearer {settings.qstash_token}"})  # fmt: skip


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise QueueUnavailable("QStash answered with something that is not JSON") from None


async def _signing_keys() -> str:
    """``ok``, or what is wrong with our signing keys against the one QStash signs with now."""
    settings = get_settings()
    ours = [k for k in (settings.qstash_current_signing_key, settings.qstash_next_signing_key) if k]
    if len(ours) < 2:
        return "missing"
    current = _json(await _qstash("/v2/keys")).get("current")
    if not isinstance(current, str) or not any(hmac.compare_digest(current, key) for key in ours):
        return "stale"  # QStash signs with a key we do not have: every delivery would be refused (401)
    return "ok"


async def _lane_backlog() -> dict[str, Any]:
    """Messages waiting per send lane, from QStash's flow-control keys (``send:<lane>:<instance>``)."""
    try:
        keys = _json(await _qstash("/v2/flowControl", search="send:"))
    except QueueRejected as exc:
        if exc.context.get("status") == 404:
            return {"source": "unavailable", "lanes": None}
        raise
    lanes = dict.fromkeys(LANES, 0)
    for key in keys if isinstance(keys, list) else []:
        name = str(key.get("flowControlKey", "")) if isinstance(key, dict) else ""
        lane = name.split(":")[1] if name.count(":") >= 2 else ""
        if name.startswith("send:") and lane in lanes:
            lanes[lane] += int(key.get("waitListSize") or 0)
    return {"source": "flow_control", "lanes": lanes}


async def qstash_check(request: Request) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        keys, backlog = await asyncio.gather(_signing_keys(), _lane_backlog())
    except ZaplineError as exc:
        raise Degraded(exc.message, down=["qstash"]) from None
    details = {"latency_ms": _ms(start), "signing_keys": keys, "backlog": backlog}
    if keys != "ok":
        why = "are not set" if keys == "missing" else "do not include the key QStash signs with"
        raise Degraded(f"QSTASH_CURRENT_SIGNING_KEY / QSTASH_NEXT_SIGNING_KEY {why}", down=["qstash_signing_keys"],
                       details=details)  # fmt: skip
    return details


async def _pending(label: str) -> tuple[dict[str, int], bool]:
    """What QStash still holds of the messages labelled ``label``: each message's newest event."""
    from zapline.store.clock import now_ms

    counts = {"waiting": 0, "delayed": 0, "active": 0, "retrying": 0}
    seen: set[str] = set()
    cursor: str | None = None
    now = now_ms()
    for _ in range(EVENT_PAGES):
        params: dict[str, Any] = {"label": label, "count": 1000, **({"cursor": cursor} if cursor else {})}
        page = _json(await _qstash("/v2/events", **params))
        for event in page.get("events") or []:
            message_id = event.get("messageId")
            if not message_id or message_id in seen:
                continue
            seen.add(message_id)  # events come newest first: this is the message's state now
            state = PENDING.get(str(event.get("state")))
            if state == "waiting" and int(event.get("nextDeliveryTime") or 0) > now:
                state = "delayed"
            if state:
                counts[state] += 1
        cursor = page.get("cursor") or None
        if not cursor:
            return counts, True
    return counts, False


async def _failed(label: str) -> tuple[int, bool]:
    from zapline import qstash

    total, cursor = 0, None
    for _ in range(DLQ_PAGES):
        messages, cursor = await qstash.dlq_list(label=label, cursor=cursor)
        total += len(messages)
        if not cursor:
            return total, True
    return total, False


async def queues_check(request: Request) -> dict[str, Any]:
    from zapline.admin.auth import authenticate, require
    from zapline.jobs.kinds import JOBS

    require(await authenticate(request.headers.get("authorization")), "owner")
    names = [kind.name for kind in JOBS]

    async def one(name: str) -> dict[str, Any]:
        (pending, events_complete), (failed, dlq_complete) = await asyncio.gather(
            _pending(f"job-{name}"), _failed(f"job-{name}")
        )
        return {**pending, "failed": failed, "complete": events_complete and dlq_complete}

    try:
        counts = await asyncio.gather(*(one(name) for name in names))
    except (QueueUnavailable, QueueRejected) as exc:
        raise Degraded(exc.message, down=["qstash"]) from None
    return {"scope": "deployment", "jobs": dict(zip(names, counts, strict=True))}


async def centrifugo_check(request: Request) -> dict[str, Any]:
    settings = get_settings()
    start = time.perf_counter()
    try:
        response = await outgoing.request("Centrifugo", "POST", f"{settings.centrifugo_api_url}/info", json={},
                                          headers={"X-API-Key": settings.centrifugo_api_key},
                                          unavailable=RealtimeUnavailable, rejected=None)  # fmt: skip
        reply = response.json()
    except ZaplineError as exc:
        raise Degraded(exc.message, down=["centrifugo"]) from None
    except ValueError:
        raise Degraded("Centrifugo answered with something that is not JSON", down=["centrifugo"]) from None
    if not isinstance(reply, dict) or "error" in reply:
        error = reply.get("error") if isinstance(reply, dict) else None
        raise Degraded(f"Centrifugo refused the info call: {str(error)[:200]}", down=["centrifugo"])
    nodes = (reply.get("result") or {}).get("nodes") or []
    return {"latency_ms": _ms(start), "nodes": len(nodes) if isinstance(nodes, list) else 0}


Check = Callable[[Request], Awaitable[dict[str, Any]]]
CHECKS: dict[str, Check] = {
    "redis": redis_check,
    "qstash": qstash_check,
    "queues": queues_check,
    "centrifugo": centrifugo_check,
}


CACHED = frozenset({"redis", "qstash", "centrifugo"})  # the open ones; queues needs an owner key
CACHE_SECONDS = 5.0  # an open check answers from memory in between: probing it costs nobody's quota
_cache: dict[str, tuple[float, int, bytes]] = {}


def _endpoint(name: str, check: Check) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        if name in CACHED:
            hit = _cache.get(name)
            if hit and time.monotonic() - hit[0] < CACHE_SECONDS:
                return Response(hit[2], status_code=hit[1], media_type="application/json")
            response = await answer(request)
            _cache[name] = (time.monotonic(), response.status_code, bytes(response.body))
            return response
        return await answer(request)

    async def answer(request: Request) -> Response:
        async def run() -> Response:
            timeout = get_settings().http_timeout
            try:
                async with asyncio.timeout(timeout):
                    details = await check(request)
            except Degraded as exc:
                log.warning("health degraded", check=name, down=exc.down, error=exc.message)
                body = {"status": "degraded", "check": name, "down": exc.down, "error": exc.message, **exc.details}
                return JSONResponse(body, status_code=503)
            except TimeoutError:
                error = f"no answer within ZAPLINE_HTTP_TIMEOUT={timeout}s"
                log.warning("health degraded", check=name, down=[name], error=error)
                return JSONResponse({"status": "degraded", "check": name, "down": [name], "error": error},
                                    status_code=503)  # fmt: skip
            return JSONResponse({"status": "ok", "check": name, **details})

        return await guarded(run, audience="operator", log_fields={"path": request.url.path})

    return endpoint


# served under ``<prefix>/health/<check>`` by every function (zapline.asgi, imported on first use)
ENDPOINTS = {name: _endpoint(name, check) for name, check in CHECKS.items()}

"""Operator API, org-scoped by ``Authorization: Bearer <api key>``: another org's key sees nothing."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from zapline import automation, jsonsafe, realtime
from zapline.admin import operations
from zapline.admin.requests import MAX_BODY_BYTES, FollowupSteps, SendMessage, SubscriptionRequest
from zapline.config import get_settings
from zapline.errors import (
    BadRequest,
    NotFound,
    RequestTooLarge,
)
from zapline.http import guarded, read_limited
from zapline.logs import get_logger
from zapline.store import queries
from zapline.store.clock import org_day, org_timezone
from zapline.store.registry import authenticate, key_prefix
from zapline.uazapi.national import dial_code, international

__all__ = ["routes"]

log = get_logger("zapline.admin")

Handler = Callable[[Request, str], Awaitable[BaseModel | dict[str, Any]]]


def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """An operator route: the organisation from its API key, errors through the one error path."""

    async def run(request: Request) -> Response:
        async def call() -> Response:
            org_id = await authenticate(request.headers.get("authorization"))
            result = await handler(request, org_id)
            return JSONResponse(result.model_dump(mode="json") if isinstance(result, BaseModel) else result)

        return await guarded(call, audience="operator", log_fields={"path": request.url.path})

    return run


_IDS = {"conversation_id": re.compile(r"^conv_[0-9a-f]{12}$"), "lead_id": re.compile(r"^lead_[0-9a-f]{12}$")}
_WHAT = {"conversation_id": "conversation", "lead_id": "lead"}
M = TypeVar("M", bound=BaseModel)


def _path_id(request: Request, name: str) -> str:
    """A record id from the path; one that Zapline could not have issued is simply not found."""
    value: str = request.path_params[name]
    if not _IDS[name].match(value):
        raise NotFound(f"no {_WHAT[name]} {value[:64]}")
    return value


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit", "50")
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 200):
        raise BadRequest("limit must be a whole number between 1 and 200")
    return int(raw)


async def _json_object(request: Request) -> dict[str, Any]:
    body, whole = await read_limited(request, MAX_BODY_BYTES)
    if not whole:
        raise RequestTooLarge(f"body exceeds {MAX_BODY_BYTES} bytes")
    try:
        data = jsonsafe.loads_limited(body)
    except ValueError as exc:
        raise BadRequest(f"body must be JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    return data


async def _body(request: Request, model: type[M]) -> M:
    data = await _json_object(request)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        too_long = first["type"] in ("string_too_long", "too_long")
        raise (RequestTooLarge if too_long else BadRequest)(f"{where}: {message}" if where else message) from None


async def list_conversations(request: Request, org_id: str) -> BaseModel:
    return await queries.list_conversations(org_id, limit=_limit(request), cursor=request.query_params.get("cursor"))


async def get_conversation(request: Request, org_id: str) -> BaseModel:
    return await queries.get_conversation(org_id, _path_id(request, "conversation_id"))


async def list_messages(request: Request, org_id: str) -> BaseModel:
    return await queries.list_messages(
        org_id,
        _path_id(request, "conversation_id"),
        limit=_limit(request),
        cursor=request.query_params.get("cursor"),
    )


async def find_lead(request: Request, org_id: str) -> BaseModel:
    phone = request.query_params.get("phone")
    if not phone:
        raise BadRequest("pass ?phone=<number>, e.g. ?phone=%2B5511999990001")
    if len(phone) > 64:
        raise BadRequest("phone is too long to be a phone number")
    country = dial_code(await org_timezone(org_id))
    return await queries.find_lead(org_id, international(phone, country))


async def get_lead(request: Request, org_id: str) -> BaseModel:
    return await queries.get_lead(org_id, _path_id(request, "lead_id"))


async def send_message(request: Request, org_id: str) -> dict[str, Any]:
    """Queue a reply in the realtime lane: ``{"text"}`` or ``{"media_url", "media_type", "caption"?}``.

    An ``Idempotency-Key`` header makes a double submit (same key) one message, sent once.
    """
    conversation_id = _path_id(request, "conversation_id")
    body = await _body(request, SendMessage)
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= 255:
        raise BadRequest("Idempotency-Key must be 1 to 255 characters")
    message_id = f"msg_{hashlib.sha256(f'{org_id}:{conversation_id}:{key}'.encode()).hexdigest()[:16]}" if key else None
    if body.media_url is not None:
        media = {"url": body.media_url, "media_type": body.media_type}
        if body.file_name:
            media["file_name"] = body.file_name
        fields: dict[str, Any] = {"kind": body.kind, "text": body.caption or "", "media": media}
    else:
        fields = {"text": body.text}
    message = await automation.operator_reply(
        org_id, conversation_id, message_id=message_id, author="operator", **fields
    )
    return {"message": message}


async def close_conversation(request: Request, org_id: str) -> dict[str, Any]:
    """Close it (and schedule its NPS survey); answers the conversation as ``GET`` shows it."""
    conversation_id = _path_id(request, "conversation_id")
    await automation.close_conversation(org_id, conversation_id)
    conversation = await queries.get_conversation(org_id, conversation_id)
    return {"conversation": conversation.model_dump(mode="json")}


async def opt_out_lead(request: Request, org_id: str) -> BaseModel:
    lead_id = _path_id(request, "lead_id")
    await automation.opt_out(org_id, lead_id, reason="operator")
    return await queries.get_lead(org_id, lead_id)


async def followups(request: Request, org_id: str) -> dict[str, Any]:
    """``GET``: the organisation's follow-up steps; ``PUT {"steps": [{"after_seconds", "text"}]}``."""
    if request.method == "PUT":
        body = await _body(request, FollowupSteps)
        steps = [step.model_dump() for step in body.steps]
        return {"steps": await automation.set_followup_steps(org_id, steps)}
    return {"steps": await automation.followup_steps(org_id)}


async def daily(request: Request, org_id: str) -> dict[str, Any]:
    """``?day=YYYY-MM-DD`` (default: today in the organisation's timezone)."""
    day = request.query_params.get("day") or await org_day(org_id)
    try:
        valid = len(day) == 10 and date.fromisoformat(day).isoformat() == day
    except ValueError:
        valid = False
    if not valid:
        raise BadRequest("day must be a date written YYYY-MM-DD, e.g. 2026-11-30")
    counters = await queries.daily_counters(org_id, day)
    responses = counters.get("nps_responses", 0)
    nps = None
    if responses:
        nps = round(100 * (counters.get("nps_promoters", 0) - counters.get("nps_detractors", 0)) / responses, 1)
    return {"day": day, "counters": counters, "nps": nps}


async def dead_letters(request: Request, org_id: str) -> dict[str, Any]:
    """``?job=&reason=<substring>&since=&until=`` (YYYY-MM-DD in the organisation's timezone, or epoch ms)."""
    filters = operations.Filters.from_query(request.query_params, await org_timezone(org_id))
    return {"items": await operations.listing(org_id, filters, limit=_limit(request))}


async def realtime_token(request: Request, org_id: str) -> dict[str, Any]:
    """A Centrifugo connection token subscribed (server-side) to the organisation's inbox."""
    channel = realtime.inbox_channel(org_id)
    return {
        "token": realtime.connection_token(f"operator:{org_id}", channels=[channel]),
        "url": get_settings().centrifugo_ws_url,
        "channels": [channel],
    }


async def realtime_subscription(request: Request, org_id: str) -> dict[str, Any]:
    """A subscription token for one of the organisation's conversation channels."""
    body = await _body(request, SubscriptionRequest)
    if not _IDS["conversation_id"].match(body.conversation_id):
        raise NotFound(f"no conversation {body.conversation_id}")
    conversation = await queries.get_conversation(org_id, body.conversation_id)
    channel = realtime.conversation_channel(org_id, conversation.id)
    return {"token": realtime.subscription_token(f"operator:{org_id}", channel), "channel": channel}


def _actor(request: Request, org_id: str) -> operations.Actor:
    """Who acts, for the operations log: the organisation and its API key's prefix."""
    return operations.Actor(org_id, key_prefix(request.headers.get("authorization", "").partition(" ")[2].strip()))


async def retry_dead_letter(request: Request, org_id: str) -> dict[str, Any]:
    return await operations.retry(_actor(request, org_id), request.path_params["dlq_id"])


async def retry_dead_letters(request: Request, org_id: str) -> dict[str, Any]:
    """``{"dlq_ids": [...]}`` (at most 100) or ``{"job": "send"}``: one result per dead letter."""
    return await operations.retry_many(_actor(request, org_id), await _body(request, operations.RetryRequest))


async def delete_dead_letter(request: Request, org_id: str) -> dict[str, Any]:
    return await operations.delete(_actor(request, org_id), request.path_params["dlq_id"])


async def clean_dead_letters(request: Request, org_id: str) -> dict[str, Any]:
    """``{"older_than_days": N}``: from QStash's DLQ and the organisation's records."""
    return await operations.clean(_actor(request, org_id), await _body(request, operations.CleanRequest))


routes = [
    Route("/api/v1/conversations", endpoint(list_conversations), methods=["GET"]),
    Route("/api/v1/conversations/{conversation_id}", endpoint(get_conversation), methods=["GET"]),
    Route("/api/v1/conversations/{conversation_id}/messages", endpoint(list_messages), methods=["GET"]),
    Route("/api/v1/conversations/{conversation_id}/messages", endpoint(send_message), methods=["POST"]),
    Route("/api/v1/conversations/{conversation_id}/close", endpoint(close_conversation), methods=["POST"]),
    Route("/api/v1/leads", endpoint(find_lead), methods=["GET"]),
    Route("/api/v1/leads/{lead_id}/opt-out", endpoint(opt_out_lead), methods=["POST"]),
    Route("/api/v1/followups", endpoint(followups), methods=["GET", "PUT"]),
    Route("/api/v1/stats/daily", endpoint(daily), methods=["GET"]),
    Route("/api/v1/dead-letters", endpoint(dead_letters), methods=["GET"]),
    Route("/api/v1/leads/{lead_id}", endpoint(get_lead), methods=["GET"]),
    Route("/api/v1/realtime/token", endpoint(realtime_token), methods=["POST"]),
    Route("/api/v1/realtime/subscription", endpoint(realtime_subscription), methods=["POST"]),
    Route("/api/v1/dead-letters/retry", endpoint(retry_dead_letters), methods=["POST"]),
    Route("/api/v1/dead-letters/clean", endpoint(clean_dead_letters), methods=["POST"]),
    Route("/api/v1/dead-letters/{dlq_id}/retry", endpoint(retry_dead_letter), methods=["POST"]),
    Route("/api/v1/dead-letters/{dlq_id}", endpoint(delete_dead_letter), methods=["DELETE"]),
]

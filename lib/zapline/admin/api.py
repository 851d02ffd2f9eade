"""Operator API, org-scoped by ``Authorization: Bearer <api key>``: another org's key sees nothing."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from zapline import automation, realtime
from zapline.config import get_settings
from zapline.errors import BadRequest, ZaplineError
from zapline.http import error_response
from zapline.logs import get_logger
from zapline.store import queries
from zapline.store.clock import org_day
from zapline.store.registry import authenticate

__all__ = ["routes"]

log = get_logger("zapline.admin")

Handler = Callable[[Request, str], Awaitable[BaseModel | dict[str, Any]]]


def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        try:
            org_id = await authenticate(request.headers.get("authorization"))
            result = await handler(request, org_id)
        except ZaplineError as exc:
            return error_response(exc)
        except Exception:
            log.error("api request crashed", path=request.url.path, exc_info=True)
            return error_response(ZaplineError("unexpected error"))
        body = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
        return JSONResponse(body)

    return run


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit", "50")
    if not raw.isdigit():
        raise BadRequest("limit must be a whole number between 1 and 200")
    return int(raw)


async def list_conversations(request: Request, org_id: str) -> BaseModel:
    return await queries.list_conversations(org_id, limit=_limit(request), cursor=request.query_params.get("cursor"))


async def get_conversation(request: Request, org_id: str) -> BaseModel:
    return await queries.get_conversation(org_id, request.path_params["conversation_id"])


async def list_messages(request: Request, org_id: str) -> BaseModel:
    return await queries.list_messages(
        org_id,
        request.path_params["conversation_id"],
        limit=_limit(request),
        cursor=request.query_params.get("cursor"),
    )


async def find_lead(request: Request, org_id: str) -> BaseModel:
    phone = request.query_params.get("phone")
    if not phone:
        raise BadRequest("pass ?phone=<number>, e.g. ?phone=%2B5511999990001")
    return await queries.find_lead(org_id, phone)


async def get_lead(request: Request, org_id: str) -> BaseModel:
    return await queries.get_lead(org_id, request.path_params["lead_id"])


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        raise BadRequest("body must be JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    return data


async def send_message(request: Request, org_id: str) -> dict[str, Any]:
    """Queue a reply in the realtime lane: ``{"text"}`` or ``{"media_url", "media_type", "caption"?}``.

    An ``Idempotency-Key`` header makes a double submit (same key) one message, sent once.
    """
    data = await _json_object(request)
    conversation_id = request.path_params["conversation_id"]
    key = request.headers.get("idempotency-key")
    message_id = f"msg_{hashlib.sha256(f'{org_id}:{conversation_id}:{key}'.encode()).hexdigest()[:16]}" if key else None
    if data.get("media_url"):
        media_type = str(data.get("media_type") or "image")
        media = {"url": str(data["media_url"]), "media_type": media_type}
        if data.get("file_name"):
            media["file_name"] = str(data["file_name"])
        kind = {"ptt": "audio", "myaudio": "audio", "ptv": "video"}.get(media_type, media_type)
        fields: dict[str, Any] = {"kind": kind, "text": str(data.get("caption") or ""), "media": media}
    elif isinstance(data.get("text"), str):
        fields = {"text": data["text"]}
    else:
        raise BadRequest('send {"text": "..."} or {"media_url": "https://...", "media_type": "image"}')
    message = await automation.operator_reply(
        org_id, conversation_id, message_id=message_id, author="operator", **fields
    )
    return {"message": message}


async def close_conversation(request: Request, org_id: str) -> dict[str, Any]:
    return {"conversation": await automation.close_conversation(org_id, request.path_params["conversation_id"])}


async def opt_out_lead(request: Request, org_id: str) -> BaseModel:
    await automation.opt_out(org_id, request.path_params["lead_id"], reason="operator")
    return await queries.get_lead(org_id, request.path_params["lead_id"])


async def followups(request: Request, org_id: str) -> dict[str, Any]:
    """``GET``: the organisation's follow-up steps; ``PUT {"steps": [{"after_seconds", "text"}]}``."""
    if request.method == "PUT":
        steps = (await _json_object(request)).get("steps")
        if not isinstance(steps, list):
            raise BadRequest('send {"steps": [{"after_seconds": 3600, "text": "Oi {name}!"}, ...]}')
        return {"steps": await automation.set_followup_steps(org_id, steps)}
    return {"steps": await automation.followup_steps(org_id)}


async def daily(request: Request, org_id: str) -> dict[str, Any]:
    """``?day=YYYY-MM-DD`` (default: today in the organisation's timezone)."""
    day = request.query_params.get("day") or await org_day(org_id)
    counters = await queries.daily_counters(org_id, day)
    responses = counters.get("nps_responses", 0)
    nps = None
    if responses:
        nps = round(100 * (counters.get("nps_promoters", 0) - counters.get("nps_detractors", 0)) / responses, 1)
    return {"day": day, "counters": counters, "nps": nps}


async def dead_letters(request: Request, org_id: str) -> dict[str, Any]:
    return {"items": await queries.dead_letters(org_id, limit=_limit(request))}


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
    try:
        conversation_id = (await request.json())["conversation_id"]
    except (ValueError, KeyError, TypeError):
        raise BadRequest('send {"conversation_id": "conv_..."}') from None
    conversation = await queries.get_conversation(org_id, str(conversation_id))
    channel = realtime.conversation_channel(org_id, conversation.id)
    return {"token": realtime.subscription_token(f"operator:{org_id}", channel), "channel": channel}


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
]

"""Operator API, org-scoped by ``Authorization: Bearer <api key>``: another org's key sees nothing.

Every route names the role it needs (``admin/auth.py``): ``agent`` for reading, replying, closing
and live updates; ``owner`` for the rest. An agent key on an owner route gets 403 ``forbidden``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from zapline import automation, jsonsafe, realtime
from zapline.admin import automations as org_automations
from zapline.admin import campaigns, dashboard, keys, lanes, metrics, operations, org_schedules, platform, stats
from zapline.admin.auth import Principal, Role, authenticate, require
from zapline.admin.requests import (
    CAMPAIGN_BODY_BYTES,
    MAX_BODY_BYTES,
    CreateCampaign,
    FollowupSteps,
    KnowledgeDecision,
    RetentionSettings,
    SendMessage,
    SubscriptionRequest,
)
from zapline.ai import knowledge
from zapline.ai import settings as ai_settings
from zapline.ai import store as ai_store
from zapline.config import get_settings
from zapline.errors import (
    BadRequest,
    NotFound,
    RequestTooLarge,
)
from zapline.http import guarded, read_limited
from zapline.jobs.owner import recent_owner_messages
from zapline.logs import get_logger
from zapline.store import leads, queries, retention
from zapline.store.clock import org_day, org_timezone
from zapline.uazapi.national import dial_code, international

__all__ = ["routes"]

log = get_logger("zapline.admin")

Handler = Callable[[Request, str], Awaitable[BaseModel | dict[str, Any] | Response]]


def endpoint(handler: Handler, *, role: Role) -> Callable[[Request], Awaitable[Response]]:
    """An operator route: the organisation from its API key (or the dashboard's session cookie), which
    must have ``role`` (an owner key may do everything); errors through the one error path. The key is
    ``request.state.principal``."""

    async def run(request: Request) -> Response:
        async def call() -> Response:
            authorization = request.headers.get("authorization")
            if authorization is None and dashboard.SESSION_COOKIE in request.cookies:
                principal = await dashboard.session_principal(request)  # the dashboard: cookie + X-CSRF-Token
            else:
                principal = await authenticate(authorization)
            require(principal, role)
            request.state.principal = principal
            result = await handler(request, principal.org_id)
            if isinstance(result, Response):
                return result
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


async def _json_object(request: Request, limit: int = MAX_BODY_BYTES) -> dict[str, Any]:
    body, whole = await read_limited(request, limit)
    if not whole:
        raise RequestTooLarge(f"body exceeds {limit} bytes")
    try:
        data = jsonsafe.loads_limited(body)
    except ValueError as exc:
        raise BadRequest(f"body must be JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    return data


async def _body(request: Request, model: type[M], limit: int = MAX_BODY_BYTES) -> M:
    data = await _json_object(request, limit)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        too_long = first["type"] in ("string_too_long", "too_long")
        raise (RequestTooLarge if too_long else BadRequest)(f"{where}: {message}" if where else message) from None


async def create_campaign(request: Request, org_id: str) -> dict[str, Any]:
    """A campaign to ``recipients`` (at most 10,000; a body of up to 4 MiB) or to a ``filter`` over the leads,
    from ``start_at`` (local time) within a daily ``window``: through the bulk lane, each recipient once."""
    return await campaigns.create(org_id, await _body(request, CreateCampaign, CAMPAIGN_BODY_BYTES))


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


async def update_lead(request: Request, org_id: str) -> BaseModel:
    """Change the given fields; ``null`` clears one. The fields an operator sets are the lead's from then
    on: the AI and the contact sync leave them alone (the lead's ``edited`` list)."""
    lead_id = _path_id(request, "lead_id")
    return await leads.update_lead(org_id, lead_id, await _body(request, leads.LeadChanges), source="operator")


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
    await ai_store.pause_ai(org_id, conversation_id, "operator")  # a human has it: the AI steps back
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
    """The organisation's follow-up steps."""
    return {"steps": await automation.followup_steps(org_id)}


async def set_followups(request: Request, org_id: str) -> dict[str, Any]:
    """``PUT {"steps": [{"after_seconds", "text"}]}``."""
    body = await _body(request, FollowupSteps)
    steps = [step.model_dump() for step in body.steps]
    return {"steps": await automation.set_followup_steps(org_id, steps)}


async def daily(request: Request, org_id: str) -> dict[str, Any]:
    """``?day=YYYY-MM-DD`` (default: today in the organisation's timezone)."""
    day = request.query_params.get("day") or await org_day(org_id)
    try:
        valid = len(day) == 10 and date.fromisoformat(day).isoformat() == day
    except ValueError:
        valid = False
    if not valid:
        raise BadRequest("day must be a date written YYYY-MM-DD, e.g. 2026-11-30")
    counters, hourly = await queries.daily(org_id, day)
    responses = counters.get("nps_responses", 0)
    nps = None
    if responses:
        nps = round(100 * (counters.get("nps_promoters", 0) - counters.get("nps_detractors", 0)) / responses, 1)
    return {"day": day, "counters": counters, "hourly": hourly, "nps": nps}


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


def _principal(request: Request) -> Principal:
    principal: Principal = request.state.principal
    return principal


def _actor(request: Request, org_id: str) -> operations.Actor:
    """Who acts, for the operations log: the organisation and its API key's prefix."""
    return operations.Actor(org_id, _principal(request).key_prefix)


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


async def list_keys(request: Request, org_id: str) -> dict[str, Any]:
    """Every key of the organisation, by prefix: never a secret or a digest."""
    return {"keys": [record.public() for record in await keys.listing(org_id)]}


async def create_key(request: Request, org_id: str) -> dict[str, Any]:
    """``{"role": "owner" | "agent", "name"?}``: the key itself is in this answer only."""
    body = await _body(request, keys.CreateKey)
    record, api_key = await keys.create(org_id, role=body.role, name=body.name, by=_principal(request).key_prefix)
    return {"key": record.public(), "api_key": api_key}


async def rotate_key(request: Request, org_id: str) -> dict[str, Any]:
    """A new secret (in this answer only); the old one stops at once."""
    by = _principal(request).key_prefix
    record, api_key = await keys.rotate(org_id, request.path_params["key_id"], by=by)
    return {"key": record.public(), "api_key": api_key}


async def revoke_key(request: Request, org_id: str) -> dict[str, Any]:
    """Revoke a key; the last owner key cannot be (409)."""
    return {
        "key": (await keys.revoke(org_id, request.path_params["key_id"], by=_principal(request).key_prefix)).public()
    }


async def metrics_text(request: Request, org_id: str) -> Response:
    """The organisation's counters in Prometheus' text format."""
    return Response(await metrics.exposition(org_id), media_type=metrics.CONTENT_TYPE)


async def lane_states(request: Request, org_id: str) -> dict[str, Any]:
    """Each send lane: running, paused or partly paused (per instance), who paused it, its backlog."""
    return await lanes.listing(org_id)


async def automations_list(request: Request, org_id: str) -> BaseModel:
    """Each automation: on or off (its schedule's pause flag), its texts and settings, its next local run."""
    return await org_automations.listing(org_id)


async def automations_update(request: Request, org_id: str) -> BaseModel:
    """Change the given sections' given fields (the rest stays); ``enabled`` pauses or resumes its schedule."""
    body = await _body(request, org_automations.AutomationsUpdate)
    return await org_automations.update(org_id, body, _actor(request, org_id).key_prefix)


async def org_schedule_list(request: Request, org_id: str) -> dict[str, Any]:
    """The declared schedules as this organisation sees them: next run in its timezone, paused or not."""
    return await org_schedules.list_for_org(org_id)


async def org_schedule_pause(request: Request, org_id: str) -> dict[str, Any]:
    """Pause a per-organisation schedule for this organisation (the tick skips it); idempotent."""
    actor = _actor(request, org_id)
    return await org_schedules.pause(org_id, request.path_params["name"], actor.key_prefix)


async def org_schedule_resume(request: Request, org_id: str) -> dict[str, Any]:
    actor = _actor(request, org_id)
    return await org_schedules.resume(org_id, request.path_params["name"], actor.key_prefix)


async def org_schedule_run(request: Request, org_id: str) -> dict[str, Any]:
    """Run a per-organisation schedule's job for this organisation, now."""
    actor = _actor(request, org_id)
    return await org_schedules.run_now(org_id, request.path_params["name"], actor.key_prefix)


async def retention_settings(request: Request, org_id: str) -> dict[str, Any]:
    """How long the organisation keeps messages, and what the retention job did last."""
    return {"message_days": await retention.message_days(org_id), "dead_letter_days": retention.DEAD_LETTER_DAYS,
            "last_run": await retention.last_run(org_id)}  # fmt: skip


async def set_retention(request: Request, org_id: str) -> dict[str, Any]:
    """``PUT {"message_days": 7..3650}``: the next retention run deletes messages older than that."""
    body = await _body(request, RetentionSettings)
    await retention.set_message_days(org_id, body.message_days)
    log.info("retention set", org=org_id, key_prefix=_principal(request).key_prefix, message_days=body.message_days)
    return await retention_settings(request, org_id)


async def pause_lane(request: Request, org_id: str) -> dict[str, Any]:
    """Hold one lane (``/lanes/{lane}/pause``) or all (``/lanes/pause``) for every instance; idempotent."""
    return await lanes.pause(_actor(request, org_id), request.path_params.get("lane"))


async def resume_lane(request: Request, org_id: str) -> dict[str, Any]:
    """Send again what a paused lane held, once; idempotent."""
    return await lanes.resume(_actor(request, org_id), request.path_params.get("lane"))


async def stats_range(request: Request, org_id: str) -> dict[str, Any]:
    """``?from=YYYY-MM-DD&to=YYYY-MM-DD`` (at most 92 local days; ``to`` defaults to ``from``)."""
    start = stats.parse_day(request.query_params.get("from"), "from")
    end = stats.parse_day(request.query_params.get("to") or start.isoformat(), "to")
    return await stats.stats(org_id, start, end)


# (path, handler, method, role): an agent reads, replies, closes and follows live; the rest is an owner's.
# --- AI (zapline.ai; nothing here imports openai) ------------------------------------------------


async def get_ai(request: Request, org_id: str) -> BaseModel:
    """The organisation's AI settings (off until enabled)."""
    return await ai_settings.ai_settings(org_id)


async def put_ai(request: Request, org_id: str) -> BaseModel:
    """Replace the AI settings; ``enabled`` takes effect on the next lead message."""
    wanted = await _body(request, ai_settings.AiSettings)
    ai_settings.check_allowed(wanted)  # the deployment pays OpenAI: its models, its ceiling
    return await ai_settings.save_ai_settings(org_id, wanted)


async def pause_conversation_ai(request: Request, org_id: str) -> dict[str, Any]:
    """Take the conversation over: the AI answers it no more until resumed (an operator's reply does this too)."""
    conversation = await queries.get_conversation(org_id, _path_id(request, "conversation_id"))
    paused = await ai_store.pause_ai(org_id, conversation.id, "takeover")  # False: it already was, for its reason
    return {"conversation_id": conversation.id, "ai_paused": "takeover" if paused else conversation.ai_paused}


async def resume_conversation_ai(request: Request, org_id: str) -> dict[str, Any]:
    """Let the AI answer the conversation again (after a takeover, an operator's reply or a hand-off)."""
    conversation = await queries.get_conversation(org_id, _path_id(request, "conversation_id"))
    await ai_store.resume_ai(org_id, conversation.id)
    return {"conversation_id": conversation.id, "ai_paused": None}


_KNOWLEDGE_ID = re.compile(r"^kn_[0-9a-f]{12}$")


async def list_knowledge(request: Request, org_id: str) -> dict[str, Any]:
    """What the AI learned from closed conversations: ``?status=pending|approved|rejected``."""
    status = request.query_params.get("status")
    if status not in (None, "pending", "approved", "rejected"):
        raise BadRequest("status must be pending, approved or rejected")
    return {"items": await knowledge.list_knowledge(org_id, status)}


async def _decide_knowledge(request: Request, org_id: str, status: Literal["approved", "rejected"]) -> dict[str, Any]:
    entry = request.path_params["entry_id"]
    if not _KNOWLEDGE_ID.match(entry):
        raise NotFound(f"no knowledge entry {entry[:64]}")
    body = None
    if status == "approved":
        raw, whole = await read_limited(request, MAX_BODY_BYTES)
        if not whole:
            raise RequestTooLarge(f"body exceeds {MAX_BODY_BYTES} bytes")
        if raw.strip():
            try:
                data = jsonsafe.loads_limited(raw)
            except ValueError as exc:
                raise BadRequest(f"body must be JSON: {exc}") from None
            try:
                body = KnowledgeDecision.model_validate(data)
            except ValidationError as exc:
                first = exc.errors()[0]
                raise BadRequest(f"{'.'.join(str(p) for p in first['loc']) or 'body'}: {first['msg']}") from None
    return await knowledge.decide(org_id, entry, status, body.answer if body else None)


async def approve_knowledge(request: Request, org_id: str) -> dict[str, Any]:
    """Let the AI use this answer (optionally corrected: ``{"answer": ...}``)."""
    return await _decide_knowledge(request, org_id, "approved")


async def reject_knowledge(request: Request, org_id: str) -> dict[str, Any]:
    """Never use this answer."""
    return await _decide_knowledge(request, org_id, "rejected")


async def owner_messages(request: Request, org_id: str) -> dict[str, Any]:
    """The last messages sent to the owner's WhatsApp (assistant answers, summaries, notifications)."""
    return {"items": await recent_owner_messages(org_id, _limit(request))}


ROUTES: list[tuple[str, Handler, str, Role]] = [
    ("/api/v1/conversations", list_conversations, "GET", "agent"),
    ("/api/v1/conversations/{conversation_id}", get_conversation, "GET", "agent"),
    ("/api/v1/conversations/{conversation_id}/messages", list_messages, "GET", "agent"),
    ("/api/v1/conversations/{conversation_id}/messages", send_message, "POST", "agent"),
    ("/api/v1/conversations/{conversation_id}/close", close_conversation, "POST", "agent"),
    ("/api/v1/leads", find_lead, "GET", "agent"),
    ("/api/v1/leads/{lead_id}/opt-out", opt_out_lead, "POST", "owner"),
    ("/api/v1/followups", followups, "GET", "agent"),
    ("/api/v1/followups", set_followups, "PUT", "owner"),
    ("/api/v1/stats/daily", daily, "GET", "agent"),
    ("/api/v1/dead-letters", dead_letters, "GET", "agent"),
    ("/api/v1/leads/{lead_id}", get_lead, "GET", "agent"),
    ("/api/v1/leads/{lead_id}", update_lead, "PATCH", "agent"),
    ("/api/v1/realtime/token", realtime_token, "POST", "agent"),
    ("/api/v1/realtime/subscription", realtime_subscription, "POST", "agent"),
    ("/api/v1/dead-letters/retry", retry_dead_letters, "POST", "owner"),
    ("/api/v1/dead-letters/clean", clean_dead_letters, "POST", "owner"),
    ("/api/v1/dead-letters/{dlq_id}/retry", retry_dead_letter, "POST", "owner"),
    ("/api/v1/dead-letters/{dlq_id}", delete_dead_letter, "DELETE", "owner"),
    ("/api/v1/keys", list_keys, "GET", "owner"),
    ("/api/v1/keys", create_key, "POST", "owner"),
    ("/api/v1/keys/{key_id}/rotate", rotate_key, "POST", "owner"),
    ("/api/v1/keys/{key_id}", revoke_key, "DELETE", "owner"),
    ("/api/v1/metrics", metrics_text, "GET", "owner"),
    ("/api/v1/schedules", org_schedule_list, "GET", "owner"),
    ("/api/v1/automations", automations_list, "GET", "owner"),
    ("/api/v1/automations", automations_update, "PUT", "owner"),
    ("/api/v1/schedules/{name}/pause", org_schedule_pause, "POST", "owner"),
    ("/api/v1/schedules/{name}/resume", org_schedule_resume, "POST", "owner"),
    ("/api/v1/schedules/{name}/run", org_schedule_run, "POST", "owner"),
    ("/api/v1/retention", retention_settings, "GET", "owner"),
    ("/api/v1/retention", set_retention, "PUT", "owner"),
    ("/api/v1/lanes", lane_states, "GET", "owner"),
    ("/api/v1/lanes/pause", pause_lane, "POST", "owner"),
    ("/api/v1/lanes/resume", resume_lane, "POST", "owner"),
    ("/api/v1/lanes/{lane}/pause", pause_lane, "POST", "owner"),
    ("/api/v1/lanes/{lane}/resume", resume_lane, "POST", "owner"),
    ("/api/v1/stats", stats_range, "GET", "owner"),
    ("/api/v1/campaigns", campaigns.list_campaigns, "GET", "owner"),
    ("/api/v1/campaigns", create_campaign, "POST", "owner"),
    ("/api/v1/campaigns/{campaign_id}", campaigns.get_campaign, "GET", "owner"),
    ("/api/v1/campaigns/{campaign_id}/pause", campaigns.pause_campaign, "POST", "owner"),
    ("/api/v1/campaigns/{campaign_id}/resume", campaigns.resume_campaign, "POST", "owner"),
    ("/api/v1/campaigns/{campaign_id}/cancel", campaigns.cancel_campaign, "POST", "owner"),
    ("/api/v1/ai", get_ai, "GET", "agent"),
    ("/api/v1/ai", put_ai, "PUT", "owner"),
    ("/api/v1/conversations/{conversation_id}/ai/pause", pause_conversation_ai, "POST", "agent"),
    ("/api/v1/conversations/{conversation_id}/ai/resume", resume_conversation_ai, "POST", "agent"),
    ("/api/v1/ai/knowledge", list_knowledge, "GET", "owner"),
    ("/api/v1/ai/knowledge/{entry_id}/approve", approve_knowledge, "POST", "owner"),
    ("/api/v1/ai/knowledge/{entry_id}/reject", reject_knowledge, "POST", "owner"),
    ("/api/v1/owner/messages", owner_messages, "GET", "owner"),
]

routes = [Route(path, endpoint(handler, role=role), methods=[method]) for path, handler, method, role in ROUTES]


async def openapi_json(request: Request) -> Response:
    """The OpenAPI 3.1 document of every route above; no key needed: it holds no organisation's data."""
    from zapline.admin.openapi import document  # built on first request: no part of a cold start

    return JSONResponse(document(tuple(ROUTES)))


routes.append(Route("/api/v1/openapi.json", openapi_json, methods=["GET"]))
routes += platform.routes  # deployment-wide: the platform admin token, never an organisation key

"""Reads for the operator API: one organisation's inbox, conversations, messages and leads."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from typing import Any

from zapline import jsonsafe
from zapline.clients import redis_client
from zapline.errors import BadRequest, NotFound
from zapline.store.counters import fold_hours
from zapline.store.keys import OrgKeys
from zapline.store.records import Conversation, Lead, Message, Page
from zapline.store.registry import redact_path
from zapline.store.scripts import Script, run_redis, script_json
from zapline.uazapi.phones import e164

__all__ = [
    "daily_counters",
    "dead_letters",
    "find_lead",
    "get_conversation",
    "get_lead",
    "list_conversations",
    "list_messages",
    "normalise_dead_letter",
]


MAX_SCORE = 10**15  # scores are epoch milliseconds
_CURSOR_MEMBER = re.compile(r"^(conv|msg)_[0-9A-Za-z_]{1,64}$")


def _encode_cursor(score: float, member: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([score, member]).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> dict[str, Any]:
    if not cursor:
        return {}
    try:
        if len(cursor) > 256:
            raise ValueError("too long")
        score, member = jsonsafe.loads_limited(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(score, bool) or not isinstance(score, int | float) or not isinstance(member, str):
            raise TypeError("not a cursor")
        if not (math.isfinite(score) and 0 <= score < MAX_SCORE and _CURSOR_MEMBER.match(member)):
            raise ValueError("out of range")
        return {"score": float(score), "member": member}
    except (ValueError, TypeError, binascii.Error):
        raise BadRequest("cursor is not one this API returned") from None


async def _page(org_id: str, op: str, limit: int, cursor: str | None, **args: Any) -> dict[str, Any]:
    if not 1 <= limit <= 200:
        raise BadRequest("limit must be between 1 and 200")
    payload = {"limit": limit, **_decode_cursor(cursor), **args}
    raw = await Script.load("page").run([OrgKeys(org_id).org], [op, script_json(payload)])
    result: dict[str, Any] = json.loads(raw)
    return result


async def list_conversations(org_id: str, *, limit: int = 50, cursor: str | None = None) -> Page[Conversation]:
    """Conversations, most recent activity first."""
    result = await _page(org_id, "conversations", limit, cursor)
    rows = list(result["items"] or [])
    items = [Conversation.model_validate(row) for row in rows]
    last = rows[-1] if rows else None
    next_cursor = _encode_cursor(last["cursor_score"], last["id"]) if result["more"] and last else None
    return Page[Conversation](items=items, next_cursor=next_cursor)


async def get_conversation(org_id: str, conversation_id: str) -> Conversation:
    record = await run_redis(redis_client().hgetall(OrgKeys(org_id).conversation(conversation_id)))
    if not record:
        raise NotFound(f"no conversation {conversation_id}")
    return Conversation.model_validate(record)


async def list_messages(
    org_id: str, conversation_id: str, *, limit: int = 50, cursor: str | None = None
) -> Page[Message]:
    """A conversation's messages in WhatsApp order (oldest first)."""
    result = await _page(org_id, "messages", limit, cursor, conversation_id=conversation_id)
    if result.get("missing"):
        raise NotFound(f"no conversation {conversation_id}")
    items = [Message.model_validate_json(raw) for raw in (result["items"] or [])]
    last = items[-1] if items else None
    next_cursor = _encode_cursor(last.timestamp, last.id) if result["more"] and last else None
    return Page[Message](items=items, next_cursor=next_cursor)


async def get_lead(org_id: str, lead_id: str) -> Lead:
    record = await run_redis(redis_client().hgetall(OrgKeys(org_id).lead(lead_id)))
    if not record:
        raise NotFound(f"no lead {lead_id}")
    return Lead.model_validate(record)


async def find_lead(org_id: str, phone: str) -> Lead:
    """The lead with this phone number, in any common spelling (+55 11 99999-0001, a JID, …)."""
    normalised = e164(phone)
    if normalised is None:
        raise BadRequest(f"{phone!r} is not a phone number")
    lead_id = await run_redis(redis_client().hget(OrgKeys(org_id).lead_index, normalised))
    if not lead_id:
        raise NotFound(f"no lead with phone {normalised}")
    return await get_lead(org_id, lead_id)


async def daily_counters(org_id: str, day: str) -> dict[str, int]:
    """One local day's counters: inbound, outbound, new_leads, new_conversations, nps_*, opt_outs, …"""
    return (await daily(org_id, day))[0]


async def daily(org_id: str, day: str) -> tuple[dict[str, int], dict[str, list[int]]]:
    """One local day's counters, and inbound/outbound per local hour (0–23)."""
    if len(day) != 10 or day[4] != "-" or day[7] != "-" or not day.replace("-", "").isdigit():
        raise BadRequest("day must be YYYY-MM-DD")
    counters = await run_redis(redis_client().hgetall(OrgKeys(org_id).daily(day)))
    return fold_hours(counters)


async def dead_letters(org_id: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """The newest dead letters the failures function recorded (QStash keeps the messages)."""
    if not 1 <= limit <= 200:
        raise BadRequest("limit must be between 1 and 200")
    rows = await run_redis(redis_client().lrange(OrgKeys(org_id).dead_letters, 0, limit - 1))
    return [normalise_dead_letter(json.loads(row)) for row in rows]


def normalise_dead_letter(item: dict[str, Any]) -> dict[str, Any]:
    """A stored dead letter as the API shows it, whenever it was recorded."""
    item["path"] = redact_path(str(item.get("path", "")))  # recorded before paths were redacted at write time
    if "http_status" not in item and "status" in item:
        item["http_status"] = item.pop("status")
    return item

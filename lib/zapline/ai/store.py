"""What the AI reads and writes in the store: a conversation's recent messages, its lead, the
per-conversation pause, and what it read in a message (``lua/ai.lua``)."""

from __future__ import annotations

import json
from typing import Any, Literal

from zapline.clients import redis_client
from zapline.errors import RecordMissing
from zapline.store.keys import OrgKeys
from zapline.store.scripts import Script, run_redis, script_json

__all__ = ["annotate", "conversation", "lead", "pause_ai", "recent_messages", "resume_ai"]

PAUSED = "ai_paused"  # conversation hash: why the AI stays out (operator, handoff, takeover)


async def conversation(org_id: str, conversation_id: str) -> dict[str, str]:
    record: dict[str, str] = await run_redis(redis_client().hgetall(OrgKeys(org_id).conversation(conversation_id)))
    if not record:
        raise RecordMissing("conversation", conversation_id, org=org_id)
    return record


async def lead(org_id: str, lead_id: str | None) -> dict[str, str]:
    if not lead_id:
        return {}
    record: dict[str, str] = await run_redis(redis_client().hgetall(OrgKeys(org_id).lead(lead_id))) or {}
    return record


async def recent_messages(org_id: str, conversation_id: str, limit: int = 20) -> list[dict[str, Any]]:
    """The conversation's last ``limit`` messages, oldest first."""
    keys = OrgKeys(org_id)
    redis = redis_client()
    ids = await run_redis(redis.zrange(keys.conversation_messages(conversation_id), 0, limit - 1, rev=True))
    if not ids:
        return []
    raw = await run_redis(redis.mget(*[keys.message(i) for i in ids]))
    return [json.loads(r) for r in reversed(raw) if r]


async def get_message(org_id: str, message_id: str) -> dict[str, Any]:
    raw = await run_redis(redis_client().get(OrgKeys(org_id).message(message_id)))
    if not raw:
        raise RecordMissing("message", message_id, org=org_id)
    record: dict[str, Any] = json.loads(raw)
    return record


async def annotate(
    org_id: str, message_id: str, field: Literal["transcript", "analysis", "document"], value: Any
) -> dict[str, Any]:
    """Store what the AI read on the message (``message.ai.<field>``); return the message."""
    payload = {"message_id": message_id, "field": field, "value": value}
    raw = await Script.load("ai").run([OrgKeys(org_id).org], ["annotate", script_json(payload)])
    result: dict[str, Any] = json.loads(raw)
    if result.get("error"):
        raise RecordMissing("message", message_id, org=org_id)
    message: dict[str, Any] = result["message"]
    return message


async def pause_ai(org_id: str, conversation_id: str, reason: str) -> bool:
    """Keep the AI out of the conversation; False when it already was."""
    key = OrgKeys(org_id).conversation(conversation_id)
    return bool(await run_redis(redis_client().hsetnx(key, PAUSED, reason)))


async def resume_ai(org_id: str, conversation_id: str) -> None:
    await run_redis(redis_client().hdel(OrgKeys(org_id).conversation(conversation_id), PAUSED))

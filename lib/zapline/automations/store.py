"""The Redis reads and markers of the automations, each one pipelined round trip.

Reads only what records already hold (conversations, messages, daily counters); the one thing the
automations write of their own is ``automation_marks``: which lead was greeted which year, and when a
lead was last sent a reactivation.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from zapline.clients import redis_client
from zapline.store.counters import fold_hours
from zapline.store.keys import FIELDS, OrgKeys
from zapline.store.scripts import run_redis

__all__ = [
    "active_conversations",
    "birthday_marks",
    "conversation_field",
    "inactive_marks",
    "inbound_texts",
    "latest_conversations",
    "message_counts",
    "opted_out",
    "set_marks",
    "sum_days",
]

NO_END = 10**15  # a score beyond any time in ms
MAX_CONVERSATIONS = 2000  # the most a report reads (the inbox's most recent within its window)
BATCH = 200


async def _marks(org_id: str, template: str, lead_ids: list[str]) -> dict[str, str]:
    if not lead_ids:
        return {}
    fields = [FIELDS[template].format(lead_id) for lead_id in lead_ids]
    values = await run_redis(redis_client().hmget(OrgKeys(org_id).automation_marks, *fields))
    return {lead_id: value for lead_id, value in zip(lead_ids, values, strict=True) if value}


async def birthday_marks(org_id: str, lead_ids: list[str]) -> dict[str, str]:
    """Lead id → the last year it was greeted."""
    return await _marks(org_id, "mark_birthday", lead_ids)


async def inactive_marks(org_id: str, lead_ids: list[str]) -> dict[str, str]:
    """Lead id → when (ms) it was last sent a reactivation."""
    return await _marks(org_id, "mark_inactive", lead_ids)


async def set_marks(org_id: str, template: str, values: Mapping[str, str]) -> None:
    if values:
        fields = {FIELDS[template].format(lead_id): value for lead_id, value in values.items()}
        await run_redis(redis_client().hset(OrgKeys(org_id).automation_marks, values=fields))


async def latest_conversations(org_id: str, lead_ids: list[str]) -> dict[str, str]:
    """Lead id → its most recently opened conversation (leads without one are left out)."""
    if not lead_ids:
        return {}
    keys = OrgKeys(org_id)
    pipe = redis_client().pipeline()
    for lead_id in lead_ids:
        pipe.zrange(keys.lead_conversations(lead_id), -1, -1)
    found = await run_redis(pipe.exec())
    return {lead_id: convs[0] for lead_id, convs in zip(lead_ids, found, strict=True) if convs}


async def conversation_field(org_id: str, conversation_ids: list[str], field: str) -> dict[str, str]:
    """Conversation id → its ``field`` (conversations without one are left out)."""
    if not conversation_ids:
        return {}
    keys = OrgKeys(org_id)
    pipe = redis_client().pipeline()
    for conv_id in conversation_ids:
        pipe.hget(keys.conversation(conv_id), field)
    values = await run_redis(pipe.exec())
    return {conv_id: value for conv_id, value in zip(conversation_ids, values, strict=True) if value}


async def opted_out(org_id: str, lead_ids: list[str]) -> set[str]:
    """Which of ``lead_ids`` opted out."""
    if not lead_ids:
        return set()
    keys = OrgKeys(org_id)
    pipe = redis_client().pipeline()
    for lead_id in lead_ids:
        pipe.hget(keys.lead(lead_id), "opted_out")
    flags = await run_redis(pipe.exec())
    return {lead_id for lead_id, flag in zip(lead_ids, flags, strict=True) if flag == "1"}


async def active_conversations(org_id: str, since_ms: int, until_ms: int) -> list[dict[str, Any]]:
    """The conversations with activity in ``[since_ms, until_ms]``, most recent first (at most
    ``MAX_CONVERSATIONS``), as their stored hashes."""
    keys = OrgKeys(org_id)
    redis = redis_client()
    ids: list[str] = await run_redis(
        redis.zrevrangebyscore(keys.inbox, until_ms, since_ms, offset=0, count=MAX_CONVERSATIONS)
    )
    records: list[dict[str, Any]] = []
    for start in range(0, len(ids), BATCH):
        pipe = redis.pipeline()
        for conv_id in ids[start : start + BATCH]:
            pipe.hgetall(keys.conversation(conv_id))
        records += [r for r in await run_redis(pipe.exec()) if r]
    return records


async def inbound_texts(org_id: str, conversation_ids: list[str], since_ms: int, *, per_conversation: int = 30
                        ) -> dict[str, list[str]]:  # fmt: skip
    """Conversation id → the texts of its latest inbound messages since ``since_ms`` (newest first)."""
    if not conversation_ids:
        return {}
    keys = OrgKeys(org_id)
    redis = redis_client()
    pipe = redis.pipeline()
    for conv_id in conversation_ids:
        pipe.zrevrangebyscore(keys.conversation_messages(conv_id), "+inf", since_ms, offset=0, count=per_conversation)
    message_ids: list[list[str]] = await run_redis(pipe.exec())
    pairs = [(conv_id, m) for conv_id, ids in zip(conversation_ids, message_ids, strict=True) for m in ids]
    texts: dict[str, list[str]] = {conv_id: [] for conv_id in conversation_ids}
    for start in range(0, len(pairs), BATCH):
        chunk = pairs[start : start + BATCH]
        pipe = redis.pipeline()
        for _, message_id in chunk:
            pipe.get(keys.message(message_id))
        for (conv_id, _), raw in zip(chunk, await run_redis(pipe.exec()), strict=True):
            record = json.loads(raw) if raw else {}
            if record.get("direction") == "in" and record.get("text"):
                texts[conv_id].append(str(record["text"]))
    return texts


async def message_counts(org_id: str, conversation_ids: list[str], start_ms: int, end_ms: int) -> dict[str, int]:
    """Conversation id → how many messages (either way) it holds in ``[start_ms, end_ms)``."""
    keys = OrgKeys(org_id)
    redis = redis_client()
    counts: dict[str, int] = {}
    for start in range(0, len(conversation_ids), BATCH):
        chunk = conversation_ids[start : start + BATCH]
        pipe = redis.pipeline()
        for conv_id in chunk:
            pipe.zcount(keys.conversation_messages(conv_id), start_ms, f"({end_ms}")
        counts.update(zip(chunk, (int(n) for n in await run_redis(pipe.exec())), strict=True))
    return counts


async def sum_days(org_id: str, days: Iterable[date]) -> dict[str, int]:
    """The daily counters of ``days`` added up (hourly fields folded into their day's total)."""
    keys = OrgKeys(org_id)
    pipe = redis_client().pipeline()
    listed = list(days)
    for day in listed:
        pipe.hgetall(keys.daily(day.isoformat()))
    total: dict[str, int] = {}
    for raw in await run_redis(pipe.exec()) if listed else []:
        counters, _ = fold_hours(raw or {})
        for name, value in counters.items():
            total[name] = total.get(name, 0) + value
    return total

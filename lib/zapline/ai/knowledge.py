"""Knowledge the AI proposes from closed conversations (question → answer), used in its replies
only once the organisation approved it (``/api/v1/ai/knowledge``)."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from zapline.clients import redis_client
from zapline.errors import RecordMissing
from zapline.store.clock import now_ms
from zapline.store.keys import OrgKeys
from zapline.store.scripts import run_redis

__all__ = ["approved", "decide", "list_knowledge", "propose"]

MAX_ENTRIES = 500  # proposals kept per organisation; past it, new ones are dropped until some are decided
MAX_IN_PROMPT = 30


def entry_id(question: str) -> str:
    return "kn_" + hashlib.sha256(" ".join(question.lower().split()).encode()).hexdigest()[:12]


async def propose(org_id: str, conversation_id: str, items: list[tuple[str, str]]) -> list[str]:
    """Store new proposals (pending); a question already known (any status) is not proposed again."""
    key = OrgKeys(org_id).ai_knowledge
    redis = redis_client()
    if await run_redis(redis.hlen(key)) >= MAX_ENTRIES:
        return []
    if not items:
        return []
    idents = [entry_id(question) for question, _ in items]
    pipe = redis.pipeline()  # in order: the first of two same questions wins, as one by one
    for ident, (question, answer) in zip(idents, items, strict=True):
        record = {"id": ident, "question": question, "answer": answer, "status": "pending",
                  "conversation_id": conversation_id, "created_at": now_ms()}  # fmt: skip
        pipe.hsetnx(key, ident, json.dumps(record, ensure_ascii=False))
    return [ident for ident, new in zip(idents, await run_redis(pipe.exec()), strict=True) if new]


async def list_knowledge(org_id: str, status: str | None = None) -> list[dict[str, Any]]:
    raw = await run_redis(redis_client().hgetall(OrgKeys(org_id).ai_knowledge)) or {}
    items = [json.loads(v) for v in raw.values()]
    return sorted((i for i in items if status in (None, i["status"])), key=lambda i: (i["created_at"], i["id"]))


async def decide(
    org_id: str, entry: str, status: Literal["approved", "rejected"], answer: str | None = None
) -> dict[str, Any]:
    key = OrgKeys(org_id).ai_knowledge
    redis = redis_client()
    raw = await run_redis(redis.hget(key, entry))
    if not raw:
        raise RecordMissing("knowledge entry", entry, org=org_id)
    record: dict[str, Any] = json.loads(raw)
    record["status"] = status
    record["decided_at"] = now_ms()
    if answer:
        record["answer"] = answer
    await run_redis(redis.hset(key, entry, json.dumps(record, ensure_ascii=False)))
    return record


async def approved(org_id: str) -> list[tuple[str, str]]:
    items = await list_knowledge(org_id, "approved")
    return [(i["question"], i["answer"]) for i in items[-MAX_IN_PROMPT:]]

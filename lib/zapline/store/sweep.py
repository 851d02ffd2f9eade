"""The outbox and timers the sweeper reads: what was stored but not yet confirmed in QStash.

Storing comes first and publishing second, so a publish that fails (QStash down) or never happens
(the function died in between) leaves its entry here; a confirmed publish removes it. An
organisation whose publish failed is marked in ``sweep_marks`` so the five-minute sweep visits it;
the hourly full sweep visits every organisation, for the crash that marked nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from zapline.clients import redis_client
from zapline.store.clock import now_ms
from zapline.store.keys import OrgKeys, all_orgs, sweep_marks
from zapline.store.scripts import run_redis

__all__ = ["Backlog", "backlog", "confirm_queued", "confirm_timer", "mark", "marked_orgs", "unmark"]

BATCH = 200  # entries per organisation and sweep: a backlog larger than that takes several sweeps


@dataclass(frozen=True)
class Backlog:
    org_id: str
    messages: list[str]  # outbound message ids whose send job was never confirmed
    timers: list[str]  # timer entries (``keys.timer_member``) never confirmed


async def mark(org_id: str) -> None:
    """A publish failed: visit this organisation at the next sweep."""
    await run_redis(redis_client().zadd(sweep_marks(), {org_id: now_ms()}))


async def confirm_queued(org_id: str, message_id: str) -> None:
    await run_redis(redis_client().zrem(OrgKeys(org_id).outbox, message_id))


async def confirm_timer(org_id: str, member: str) -> None:
    await run_redis(redis_client().zrem(OrgKeys(org_id).timers, member))


async def marked_orgs(*, everyone: bool) -> list[str]:
    """The organisations to visit: the marked ones, or all of them (the hourly full sweep)."""
    redis = redis_client()
    key = all_orgs() if everyone else sweep_marks()
    orgs = await run_redis(redis.smembers(key) if everyone else redis.zrange(key, 0, -1))
    return sorted(orgs)


async def backlog(org_ids: list[str], *, older_than_ms: int) -> list[Backlog]:
    """Each organisation's unconfirmed entries older than ``older_than_ms`` (one pipelined request)."""
    if not org_ids:
        return []
    cutoff = now_ms() - older_than_ms
    pipe = redis_client().pipeline()
    for org_id in org_ids:
        keys = OrgKeys(org_id)
        pipe.zrangebyscore(keys.outbox, "-inf", cutoff, offset=0, count=BATCH)
        pipe.zrangebyscore(keys.timers, "-inf", cutoff, offset=0, count=BATCH)
    found = await run_redis(pipe.exec())
    return [Backlog(org_id, list(found[2 * i]), list(found[2 * i + 1])) for i, org_id in enumerate(org_ids)]


async def unmark(org_id: str, *, marked_before: int) -> None:
    """Forget the mark when nothing is left and nobody marked it again since ``marked_before``."""
    redis = redis_client()
    keys = OrgKeys(org_id)
    pipe = redis.pipeline()
    pipe.zcard(keys.outbox)
    pipe.zcard(keys.timers)
    pipe.zscore(sweep_marks(), org_id)
    outbox, timers, score = await run_redis(pipe.exec())
    if not outbox and not timers and score is not None and float(score) <= marked_before:
        await run_redis(redis.zrem(sweep_marks(), org_id))

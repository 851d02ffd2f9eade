"""The schedules as one organisation sees them (owner keys): ``/api/v1/schedules``.

A per-organisation schedule (``fan_out="per_org"``: the daily summary at 18:00 in the organisation's
timezone, …) belongs to each organisation too: its owner can see when it runs next, pause and resume
it for the organisation (the hourly tick skips a paused one) and run it now. A deployment schedule
(the sweeper) serves every organisation: an owner sees it, and only the platform admin token
(``/api/v1/admin/schedules``) changes it.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from zapline.clients import redis_client
from zapline.cron import parse_cron
from zapline.errors import Forbidden, NotFound
from zapline.logs import get_logger
from zapline.registry.jobs import enqueue
from zapline.registry.schedules import SCHEDULES, Schedule
from zapline.store.clock import org_timezone
from zapline.store.keys import FIELDS, OrgKeys
from zapline.store.scripts import run_redis

__all__ = ["list_for_org", "pause", "resume", "run_now"]

log = get_logger("zapline.admin.schedules")


def _schedule(name: str) -> Schedule:
    for schedule in SCHEDULES:
        if schedule.name == name:
            return schedule
    raise NotFound(f"no schedule {name[:60]}")


def _per_org(name: str) -> Schedule:
    schedule = _schedule(name)
    if not schedule.per_org:
        raise Forbidden(f"{name} serves every organisation: only the platform admin token changes it",
                        required_role="admin")  # fmt: skip
    return schedule


async def list_for_org(org_id: str) -> dict[str, Any]:
    zone = await org_timezone(org_id)
    fields = [FIELDS["schedule_paused"].format(s.name) for s in SCHEDULES]
    flags = await run_redis(redis_client().hmget(OrgKeys(org_id).org, *fields)) if fields else []
    now_ms = int(time.time() * 1000)
    items = []
    for schedule, flag in zip(SCHEDULES, flags, strict=True):
        tz = ZoneInfo(zone) if schedule.per_org and schedule.timezone == "org" else ZoneInfo("UTC")
        next_ms = parse_cron(schedule.cron).in_zone(tz).next_after(now_ms)
        next_run = datetime.fromtimestamp(next_ms / 1000, tz).isoformat()
        items.append({"name": schedule.name, "cron": schedule.cron, "timezone": tz.key,
                      "scope": "organisation" if schedule.per_org else "deployment", "job": schedule.job.name,
                      "paused": bool(flag), "next_run": next_run})  # fmt: skip
    return {"schedules": items}


async def _set_paused(org_id: str, name: str, paused: bool, actor: str) -> dict[str, Any]:
    _per_org(name)
    field, key = FIELDS["schedule_paused"].format(name), OrgKeys(org_id).org
    redis = redis_client()
    changed = bool(await run_redis(redis.hsetnx(key, field, actor) if paused else redis.hdel(key, field)))
    log.info("schedule paused" if paused else "schedule resumed", org=org_id, schedule=name, key_prefix=actor,
             changed=changed)  # fmt: skip
    return {"schedule": name, "paused": paused, "changed": changed}


async def pause(org_id: str, name: str, actor: str) -> dict[str, Any]:
    return await _set_paused(org_id, name, True, actor)


async def resume(org_id: str, name: str, actor: str) -> dict[str, Any]:
    return await _set_paused(org_id, name, False, actor)


async def run_now(org_id: str, name: str, actor: str) -> dict[str, Any]:
    """This organisation's job of the schedule, once, now (its own firing: not deduplicated with the tick's)."""
    schedule = _per_org(name)
    local = datetime.now(ZoneInfo(await org_timezone(org_id))).strftime("%Y-%m-%dT%H:%M:%S")
    payload = schedule.job.payload(org_id=org_id, schedule=name, local_time=f"now-{local}")
    message_id = await enqueue(schedule.job, payload)
    log.info("schedule run now", org=org_id, schedule=name, key_prefix=actor, qstash_message_id=message_id)
    return {"schedule": name, "qstash_message_id": message_id}

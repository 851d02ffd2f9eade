"""The cron function's routes, generated from the schedule registry (:mod:`zapline.registry.schedules`).

- ``POST /api/cron/<name>`` for each ``once`` schedule runs its job kind's handler right here.
  The QStash schedule's delivery already is a signed, retried message with the kind's retries and
  a dead letter on failure; publishing a job from it would only double the messages (and the
  bill) per firing and add a hop.
- ``POST /api/cron/tick`` (hourly, only scheduled when a ``per_org`` schedule is declared) plans
  the hour ahead for every organisation and publishes those jobs in QStash batches.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.routing import Route

from zapline.clients import redis_client
from zapline.http import Delivery, signed
from zapline.logs import get_logger
from zapline.registry.jobs import enqueue_many
from zapline.registry.schedules import SCHEDULES, TICK, Planned, Schedule, plan_tick, tick_hour
from zapline.store.clock import queue_now
from zapline.store.keys import FIELDS, OrgKeys, all_orgs
from zapline.store.scripts import run_redis

__all__ = ["cron_routes", "org_timezones", "routes", "run_tick"]

log = get_logger("zapline.cronjobs")


async def org_timezones() -> dict[str, str]:
    """Every organisation's IANA zone: the set of ids, then one pipeline of ``HGET timezone``.

    An organisation without a known zone is left out (and logged): its local times mean nothing.
    """
    redis = redis_client()
    org_ids = sorted(await run_redis(redis.smembers(all_orgs())))
    if not org_ids:
        return {}
    pipe = redis.pipeline()
    for org_id in org_ids:
        pipe.hget(OrgKeys(org_id).org, "timezone")
    zones = await run_redis(pipe.exec())
    known: dict[str, str] = {}
    for org_id, zone in zip(org_ids, zones, strict=True):
        try:
            ZoneInfo(zone or "")
        except (ZoneInfoNotFoundError, ValueError):
            log.warning("organisation without a known timezone: no scheduled jobs", org=org_id, timezone=zone)
            continue
        known[org_id] = zone
    return known


async def paused_schedules(org_ids: list[str], names: list[str]) -> dict[str, set[str]]:
    """Which per-organisation schedules each organisation paused (one pipelined request)."""
    if not org_ids or not names:
        return {}
    pipe = redis_client().pipeline()
    for org_id in org_ids:
        pipe.hmget(OrgKeys(org_id).org, *[FIELDS["schedule_paused"].format(n) for n in names])
    flags = await run_redis(pipe.exec())
    return {
        org: {n for n, flag in zip(names, row, strict=True) if flag} for org, row in zip(org_ids, flags, strict=True)
    }


async def run_tick(schedules: Iterable[Schedule], now: datetime) -> dict[str, Any]:
    """Plan the hour of the tick nearest ``now`` and publish its jobs (one batch per firing instant)."""
    per_org = {s.name: s for s in schedules if s.per_org}
    tick = tick_hour(now)
    if not per_org:
        return {"outcome": "ticked", "tick": tick.isoformat(), "enqueued": 0}
    orgs = await org_timezones()
    paused = await paused_schedules(list(orgs), list(per_org))
    planned = [f for f in plan_tick(per_org.values(), orgs, tick) if f.schedule not in paused.get(f.org_id, ())]
    groups: dict[tuple[str, int], list[Planned]] = defaultdict(list)
    for firing in planned:
        groups[(firing.schedule, firing.not_before)].append(firing)
    for (name, not_before), firings in groups.items():
        kind = per_org[name].job
        payloads = [kind.payload(org_id=f.org_id, schedule=name, local_time=f.local_time) for f in firings]
        await enqueue_many(kind, payloads, not_before=not_before)
    log.info("tick planned", tick=tick.isoformat(), orgs=len(orgs), enqueued=len(planned))
    return {"outcome": "ticked", "tick": tick.isoformat(), "orgs": len(orgs), "enqueued": len(planned)}


def _once_endpoint(schedule: Schedule) -> Any:
    kind = schedule.job
    handler = kind.resolve()

    async def run(delivery: Delivery) -> Mapping[str, Any]:
        return {"schedule": schedule.name, **(await handler(kind.parse(delivery.body), delivery))}

    run.__qualname__ = f"cron.{schedule.name}"
    return signed(run)


async def tick_now() -> datetime:
    """When the tick is: QStash's now (the sandbox's clock in the sandbox, :func:`queue_now`)."""
    return datetime.fromtimestamp(await queue_now(), UTC)


def _tick_endpoint(schedules: list[Schedule]) -> Any:
    async def tick(delivery: Delivery) -> Mapping[str, Any]:
        return await run_tick(schedules, await tick_now())

    tick.__qualname__ = "cron.tick"
    return signed(tick)


def cron_routes(schedules: Iterable[Schedule]) -> list[Route]:
    """One signed ``POST /api/cron/<name>`` per ``once`` schedule, plus ``/api/cron/tick``."""
    listed = list(schedules)
    routes = [Route(s.path, _once_endpoint(s), methods=["POST"]) for s in listed if not s.per_org]
    return [*routes, Route(TICK.path, _tick_endpoint(listed), methods=["POST"])]


routes = cron_routes(SCHEDULES)

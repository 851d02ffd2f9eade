"""Schedules: ``POST /v2/schedules/{destination}`` (``Upstash-Schedule-Id`` upserts), get, list,
delete, and pause/resume by ``PATCH`` (the SDK) or ``POST`` (the OpenAPI document)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from zapline.cron import parse_cron
from zapline.sandbox.qstash.api.common import caller_ip, empty, engine, header_items, raw_path, reply
from zapline.sandbox.qstash.destination import parse_target
from zapline.sandbox.qstash.engine import Engine
from zapline.sandbox.qstash.errors import ApiError
from zapline.sandbox.qstash.ids import random_id
from zapline.sandbox.qstash.schedules import Schedule
from zapline.sandbox.qstash.spec import parse_spec
from zapline.sandbox.qstash.store import SCHEDULES, dumps

__all__ = ["create", "delete", "get", "list_all", "pause", "resume"]

PREFIX = "/v2/schedules/"


def _schedule(eng: Engine, request: Request) -> Schedule:
    schedule_id = request.path_params["schedule_id"]
    schedule = eng.schedules.get(schedule_id)
    if schedule is None:
        raise ApiError(404, f"schedule {schedule_id} not found")
    return schedule


async def create(request: Request) -> Response:
    eng = engine(request)
    target = parse_target(raw_path(request)[len(PREFIX) :], request.scope.get("query_string", b""))
    spec = parse_spec([*target.config, *header_items(request)])
    if not spec.cron:
        raise ApiError(400, "Upstash-Cron header is required, e.g. 'Upstash-Cron: */5 * * * *'")
    try:
        parsed = parse_cron(spec.cron)
    except ValueError as exc:
        raise ApiError(400, f"invalid Upstash-Cron {spec.cron!r}: {exc}") from None
    if target.group is not None and target.group not in eng.topics:
        raise ApiError(
            404, f"url group {target.group!r} not found; schedule a url (http:// or https://) or an existing url group"
        )
    body = await request.body()
    if len(body) > eng.options.max_message_size:
        raise ApiError(413, f"body exceeds the {eng.options.max_message_size}-byte limit")
    now = eng.clock.now()
    schedule_id = spec.schedule_id or random_id("scd_")
    previous = eng.schedules.get(schedule_id)
    schedule = Schedule(
        id=schedule_id,
        destination=target.url or target.group or "",
        group=target.group is not None,
        cron=spec.cron,
        spec=spec,
        body=body,
        created_at=previous.created_at if previous else now,
        caller_ip=caller_ip(request),
        paused=previous.paused if previous else False,
        parsed=parsed,
    )
    await eng.writer.write(("HSET", SCHEDULES, schedule_id, dumps(schedule.to_record())))
    eng.schedules[schedule_id] = schedule
    eng.plan(schedule, now)
    return reply({"scheduleId": schedule_id})


async def get(request: Request) -> Response:
    return reply(_schedule(engine(request), request).api())


async def list_all(request: Request) -> Response:
    return reply([s.api() for s in sorted(engine(request).schedules.values(), key=lambda s: s.created_at)])


async def delete(request: Request) -> Response:
    eng = engine(request)
    schedule = _schedule(eng, request)
    await eng.writer.write(("HDEL", SCHEDULES, schedule.id))
    eng.schedules.pop(schedule.id, None)
    return empty()


async def _set_paused(request: Request, paused: bool) -> Response:
    eng = engine(request)
    schedule = _schedule(eng, request)
    if schedule.paused != paused:
        schedule.paused = paused
        await eng.writer.write(("HSET", SCHEDULES, schedule.id, dumps(schedule.to_record())))
        if not paused:
            eng.plan(schedule, eng.clock.now())
    return empty()


async def pause(request: Request) -> Response:
    return await _set_paused(request, True)


async def resume(request: Request) -> Response:
    return await _set_paused(request, False)

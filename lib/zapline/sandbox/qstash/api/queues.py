"""Queues: ``POST /v2/queues`` (upsert), ``GET /v2/queues[/{name}]``, ``DELETE``, pause and resume."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from zapline.sandbox.qstash.api.common import empty, engine, json_body, reply
from zapline.sandbox.qstash.engine import Engine
from zapline.sandbox.qstash.errors import ApiError
from zapline.sandbox.qstash.queues import Queue
from zapline.sandbox.qstash.spec import check_name
from zapline.sandbox.qstash.store import MESSAGES, QUEUES, dumps

__all__ = ["delete", "get", "list_all", "pause", "resume", "upsert"]

MAX_PARALLELISM = 1000


def _queue(eng: Engine, request: Request) -> Queue:
    name = request.path_params["name"]
    queue = eng.queues.get(name)
    if queue is None:
        raise ApiError(404, f"queue {name} not found")
    return queue


async def _save(eng: Engine, queue: Queue) -> None:
    await eng.writer.write(("HSET", QUEUES, queue.name, dumps(queue.to_record())))


async def upsert(request: Request) -> Response:
    eng = engine(request)
    body = await json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("queueName"), str):
        raise ApiError(400, 'the body must be {"queueName": "...", "parallelism": 1, "paused": false}')
    name = check_name(body["queueName"], "queue name")
    parallelism = body.get("parallelism", 1)
    paused = body.get("paused", False)
    if isinstance(parallelism, bool) or not isinstance(parallelism, int) or not 1 <= parallelism <= MAX_PARALLELISM:
        raise ApiError(400, f"invalid parallelism {parallelism!r}: an integer from 1 to {MAX_PARALLELISM}")
    if not isinstance(paused, bool):
        raise ApiError(400, f"invalid paused {paused!r}: true or false")
    now = eng.clock.now()
    existing = eng.queues.get(name)
    queue = existing or Queue(name, now, now)
    record = {**queue.to_record(), "parallelism": parallelism, "paused": paused, "updated_at": now}
    await eng.writer.write(("HSET", QUEUES, name, dumps(record)))
    queue = eng.queues.setdefault(name, queue)
    queue.parallelism, queue.paused, queue.updated_at = parallelism, paused, now
    eng.pump_queue(queue)
    return empty()


async def get(request: Request) -> Response:
    return reply(_queue(engine(request), request).api())


async def list_all(request: Request) -> Response:
    return reply([q.api() for q in sorted(engine(request).queues.values(), key=lambda q: q.created_at)])


async def delete(request: Request) -> Response:
    eng = engine(request)
    queue = _queue(eng, request)
    await eng.writer.write(("HDEL", QUEUES, queue.name))
    del eng.queues[queue.name]
    now = eng.clock.now()
    for msg in [m for m in eng.messages.values() if m.queue == queue.name and m.slot_queue is None]:
        if msg.id not in eng.inflight:  # waiting messages go with their queue; active ones finish
            eng.events.add(now, "CANCELED", msg, error=f"queue {queue.name} was deleted")
            eng.finish(msg, "CANCELED", [("HDEL", MESSAGES, msg.id)])
    return empty()


async def _set_paused(request: Request, paused: bool) -> Response:
    eng = engine(request)
    queue = _queue(eng, request)
    if queue.paused != paused:
        queue.paused, queue.updated_at = paused, eng.clock.now()
        await _save(eng, queue)
        eng.pump_queue(queue)
    return empty()


async def pause(request: Request) -> Response:
    return await _set_paused(request, True)


async def resume(request: Request) -> Response:
    return await _set_paused(request, False)

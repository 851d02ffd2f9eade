"""URL groups under their API name, topics: endpoints upsert/remove, get, list, delete.

Deleting a group that does not exist succeeds (qstash-py's own tests start by deleting theirs);
deleting one that schedules still target is refused with 412, as QStash asks to delete those first.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from zapline.sandbox.qstash.api.common import empty, engine, json_body, reply
from zapline.sandbox.qstash.errors import ApiError
from zapline.sandbox.qstash.spec import check_name, check_url
from zapline.sandbox.qstash.store import TOPICS, dumps
from zapline.sandbox.qstash.topics import Endpoint, Topic

__all__ = ["delete", "get", "list_all", "remove_endpoints", "upsert_endpoints"]


def _endpoints(body: Any, *, need_url: bool) -> list[Endpoint]:
    items = body.get("endpoints") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise ApiError(400, 'the body must be {"endpoints": [{"url": "https://…", "name": "optional"}]}')
    out = []
    for item in items:
        url, name = (item.get("url"), item.get("name")) if isinstance(item, dict) else (None, None)
        if url is not None and not isinstance(url, str) or name is not None and not isinstance(name, str):
            raise ApiError(400, "endpoint url and name must be strings")
        if need_url and not url:
            raise ApiError(400, "every endpoint needs a url")
        if not url and not name:
            raise ApiError(400, "give each endpoint to remove by url or by name")
        out.append(
            Endpoint(check_url(url, "endpoint url") if url else "", check_name(name, "endpoint name") if name else None)
        )
    return out


async def upsert_endpoints(request: Request) -> Response:
    eng = engine(request)
    name = check_name(request.path_params["name"], "url group name")
    endpoints = _endpoints(await json_body(request), need_url=True)
    now = eng.clock.now()
    existing = eng.topics.get(name)
    topic = Topic(name, existing.created_at if existing else now, now, list(existing.endpoints) if existing else [])
    for endpoint in endpoints:
        topic.upsert(endpoint)
    await eng.writer.write(("HSET", TOPICS, name, dumps(topic.to_record())))
    eng.topics[name] = topic
    return empty()


async def remove_endpoints(request: Request) -> Response:
    eng = engine(request)
    name = request.path_params["name"]
    existing = eng.topics.get(name)
    if existing is None:
        raise ApiError(404, f"url group {name} not found")
    topic = Topic(name, existing.created_at, eng.clock.now(), list(existing.endpoints))
    for endpoint in _endpoints(await json_body(request), need_url=False):
        topic.remove(endpoint.url or None, endpoint.name)
    if topic.endpoints:
        await eng.writer.write(("HSET", TOPICS, name, dumps(topic.to_record())))
        eng.topics[name] = topic
    else:  # a group goes with its last endpoint
        await eng.writer.write(("HDEL", TOPICS, name))
        eng.topics.pop(name, None)
    return empty()


async def get(request: Request) -> Response:
    name = request.path_params["name"]
    topic = engine(request).topics.get(name)
    if topic is None:
        raise ApiError(404, f"url group {name} not found")
    return reply(topic.api())


async def list_all(request: Request) -> Response:
    return reply([t.api() for t in sorted(engine(request).topics.values(), key=lambda t: t.created_at)])


async def delete(request: Request) -> Response:
    eng = engine(request)
    name = request.path_params["name"]
    users = [s.id for s in eng.schedules.values() if s.group and s.destination == name]
    if users:
        raise ApiError(412, f"url group {name} is the destination of schedule(s) {', '.join(users)}: delete them first")
    if name in eng.topics:
        await eng.writer.write(("HDEL", TOPICS, name))
        eng.topics.pop(name, None)
    return empty()

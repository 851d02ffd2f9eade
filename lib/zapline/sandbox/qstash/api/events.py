"""The event log: ``GET /v2/events`` → ``{"events"}`` (the SDKs) and ``GET /v2/logs`` → ``{"logs"}``
(the OpenAPI document); newest first, filtered, with an opaque cursor."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from zapline.sandbox.qstash.api.common import engine, reply
from zapline.sandbox.qstash.errors import ApiError
from zapline.sandbox.qstash.filters import Filter, parse_count

__all__ = ["events", "logs"]

FILTERS = ("messageId", "state", "url", "topicName", "queueName", "scheduleId", "label", "flowControlKey", "callerIp")


async def _page(request: Request, key: str, maximum: int) -> Response:
    query = request.query_params
    raw_cursor = query.get("cursor")
    if raw_cursor and not raw_cursor.isdigit():
        raise ApiError(400, f"invalid cursor {raw_cursor!r}: pass back the cursor a previous page returned")
    flt = Filter.from_query(query, FILTERS)
    found, cursor = engine(request).events.query(
        flt, cursor=int(raw_cursor) if raw_cursor else None, count=parse_count(query, maximum, maximum)
    )
    out: dict[str, object] = {key: [e.api() for e in found]}
    if cursor is not None:
        out["cursor"] = str(cursor)
    return reply(out)


async def events(request: Request) -> Response:
    return await _page(request, "events", 1000)


async def logs(request: Request) -> Response:
    return await _page(request, "logs", 100)

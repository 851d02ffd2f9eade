"""``GET``/``DELETE /v2/messages/{id}`` and bulk cancel ``DELETE /v2/messages``.

A message stays readable for a while after it finished (``finished_retention`` messages), as
QStash removes messages "shortly after" delivery; cancelling one that already finished is a no-op.
Bulk cancel takes ``{"messageIds": [...]}`` (the Python SDK) or query filters (the OpenAPI form);
neither means every pending message.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from zapline.sandbox.qstash.api.common import empty, engine, json_body, reply
from zapline.sandbox.qstash.errors import ApiError
from zapline.sandbox.qstash.events import filter_values
from zapline.sandbox.qstash.filters import Filter, parse_count

__all__ = ["cancel", "cancel_many", "get"]

FILTERS = ("messageId", "url", "topicName", "queueName", "label", "flowControlKey", "scheduleId", "callerIp")


async def get(request: Request) -> Response:
    eng = engine(request)
    message_id = request.path_params["message_id"]
    msg = eng.messages.get(message_id) or eng.finished.get(message_id)
    if msg is None:
        raise ApiError(404, f"message {message_id} not found")
    return reply(msg.api())


async def cancel(request: Request) -> Response:
    eng = engine(request)
    message_id = request.path_params["message_id"]
    msg = eng.messages.get(message_id)
    if msg is not None:
        eng.cancel(msg)
    elif message_id not in eng.finished:
        raise ApiError(404, f"message {message_id} not found")
    return empty()


async def cancel_many(request: Request) -> Response:
    eng = engine(request)
    body = await json_body(request, required=False)
    flt = Filter.from_query(request.query_params, FILTERS)
    if body is not None:
        ids = body.get("messageIds") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ApiError(400, 'the body must be {"messageIds": ["msg_…", …]}')
        for message_id in ids:
            flt.add("messageId", message_id)
        if not ids:
            return reply({"cancelled": 0})
    limit = parse_count(request.query_params, default=1 << 62, maximum=1 << 62)
    chosen = [msg for msg in list(eng.messages.values()) if flt.matches(filter_values(msg), msg.created_at)][:limit]
    for msg in chosen:
        eng.cancel(msg)
    return reply({"cancelled": len(chosen)})

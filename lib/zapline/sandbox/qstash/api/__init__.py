"""The HTTP routes of the sandbox QStash, one module per API group."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from zapline.sandbox.qstash.api import (
    dlq,
    events,
    flow_control,
    keys,
    messages,
    publish,
    queues,
    sandbox,
    schedules,
    topics,
)
from zapline.sandbox.qstash.api.common import Handler, authorized

__all__ = ["routes"]


def _methods(table: dict[str, Handler]) -> Handler:
    async def dispatch(request: Request) -> Response:
        return await table[request.method](request)

    return authorized(dispatch)


def _route(path: str, handlers: dict[str, Handler]) -> Route:
    return Route(path, _methods(handlers), methods=list(handlers))


def routes() -> list[Route]:
    return [
        Route("/_sandbox/clock", sandbox.clock, methods=["GET"]),
        Route("/_sandbox/clock/advance", sandbox.advance, methods=["POST"]),
        _route("/v2/publish/{rest:path}", {"POST": publish.publish}),
        _route("/v2/enqueue/{rest:path}", {"POST": publish.enqueue}),
        _route("/v2/batch", {"POST": publish.batch}),
        _route("/v2/messages", {"DELETE": messages.cancel_many}),
        _route("/v2/messages/{message_id}", {"GET": messages.get, "DELETE": messages.cancel}),
        _route("/v2/queues", {"GET": queues.list_all, "POST": queues.upsert}),
        _route("/v2/queues/{name}", {"GET": queues.get, "DELETE": queues.delete}),
        _route("/v2/queues/{name}/pause", {"POST": queues.pause}),
        _route("/v2/queues/{name}/resume", {"POST": queues.resume}),
        _route("/v2/schedules", {"GET": schedules.list_all}),
        _route("/v2/schedules/{schedule_id}/pause", {"PATCH": schedules.pause, "POST": schedules.pause}),
        _route("/v2/schedules/{schedule_id}/resume", {"PATCH": schedules.resume, "POST": schedules.resume}),
        _route("/v2/schedules/{schedule_id}", {"GET": schedules.get, "DELETE": schedules.delete}),
        _route("/v2/schedules/{rest:path}", {"POST": schedules.create}),
        _route("/v2/topics", {"GET": topics.list_all}),
        _route("/v2/topics/{name}", {"GET": topics.get, "DELETE": topics.delete}),
        _route("/v2/topics/{name}/endpoints", {"POST": topics.upsert_endpoints, "DELETE": topics.remove_endpoints}),
        _route("/v2/dlq", {"GET": dlq.list_entries, "DELETE": dlq.delete_many}),
        _route("/v2/dlq/retry", {"POST": dlq.retry_many}),
        _route("/v2/dlq/retry/{dlq_id}", {"POST": dlq.retry}),
        _route("/v2/dlq/{dlq_id}", {"GET": dlq.get, "DELETE": dlq.delete}),
        _route("/v2/events", {"GET": events.events}),
        _route("/v2/logs", {"GET": events.logs}),
        _route("/v2/keys", {"GET": keys.get}),
        _route("/v2/keys/rotate", {"POST": keys.rotate}),
        _route("/v2/globalParallelism", {"GET": flow_control.global_parallelism}),
        _route("/v2/flowControl", {"GET": flow_control.list_all}),
        _route("/v2/flowControl/{key}", {"GET": flow_control.get}),
        _route("/v2/flowControl/{key}/{action}", {"POST": flow_control.act}),
    ]

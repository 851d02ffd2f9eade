"""``POST /v2/publish/{destination}``, ``POST /v2/enqueue/{queue}/{destination}``, ``POST /v2/batch``."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response

from zapline.sandbox.qstash.api.common import caller_ip, engine, header_items, json_body, raw_path, reply
from zapline.sandbox.qstash.destination import Target, parse_target
from zapline.sandbox.qstash.engine import Accepted, Engine
from zapline.sandbox.qstash.errors import ApiError
from zapline.sandbox.qstash.model import Message
from zapline.sandbox.qstash.queues import Queue
from zapline.sandbox.qstash.spec import Spec, check_name, parse_spec

__all__ = ["batch", "enqueue", "publish"]


async def _body(request: Request, eng: Engine) -> bytes:
    body = await request.body()
    if len(body) > eng.options.max_message_size:
        raise ApiError(413, f"message body of {len(body)} bytes exceeds the {eng.options.max_message_size}-byte limit")
    return body


def _answer(target: Target, accepted: list[Accepted]) -> Response:
    status = 202 if accepted and all(a.deduplicated for a in accepted) else 200
    if target.group is not None:
        return reply([a.api(with_url=True) for a in accepted], status)
    return reply(accepted[0].api(with_url=False), status)


async def _publish(request: Request, prefix: str, queue: str | None) -> Response:
    eng = engine(request)
    target = parse_target(raw_path(request)[len(prefix) :], request.scope.get("query_string", b""))
    spec = parse_spec([*target.config, *header_items(request)])
    body = await _body(request, eng)
    new_queues: dict[str, Queue] = {}
    if queue:
        eng.new_queue(queue, new_queues)
    batch = eng.prepare(target, spec, body, queue=queue, caller_ip=caller_ip(request))
    return _answer(target, await eng.accept(batch, new_queues))


async def publish(request: Request) -> Response:
    return await _publish(request, "/v2/publish/", None)


async def enqueue(request: Request) -> Response:
    rest = raw_path(request)[len("/v2/enqueue/") :]
    name, sep, _ = rest.partition("/")
    if not sep:
        raise ApiError(400, "use /v2/enqueue/<queue name>/<destination>")
    queue = check_name(unquote(name), "queue name")
    return await _publish(request, f"/v2/enqueue/{name}/", queue)


def _batch_entry(
    eng: Engine, index: int, entry: Any, ip: str | None, new_queues: dict[str, Queue]
) -> tuple[Target, list[tuple[Message, str | None]]]:
    if not isinstance(entry, dict) or not isinstance(entry.get("destination"), str):
        raise ApiError(400, f"batch[{index}]: each entry needs a string 'destination'")
    headers = entry.get("headers") or {}
    body = entry.get("body")
    queue = entry.get("queue")
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise ApiError(400, f"batch[{index}]: 'headers' must be an object of strings")
    if body is not None and not isinstance(body, str):
        raise ApiError(400, f"batch[{index}]: 'body' must be a string or null")
    if queue is not None and not isinstance(queue, str):
        raise ApiError(400, f"batch[{index}]: 'queue' must be a string or null")
    path, _, query = entry["destination"].split("#", 1)[0].partition("?")  # a fragment never travels
    target = parse_target(path, query.encode())
    spec: Spec = parse_spec([*target.config, *((str(k).lower(), v) for k, v in headers.items())])
    if queue:
        eng.new_queue(check_name(queue, "queue name"), new_queues)
    raw = (body or "").encode()
    if len(raw) > eng.options.max_message_size:
        raise ApiError(413, f"batch[{index}]: body exceeds the {eng.options.max_message_size}-byte limit")
    return target, eng.prepare(target, spec, raw, queue=queue or None, caller_ip=ip)


async def batch(request: Request) -> Response:
    eng = engine(request)
    entries = await json_body(request)
    if not isinstance(entries, list):
        raise ApiError(400, "the batch body must be a JSON array of {destination, headers, body, queue}")
    new_queues: dict[str, Queue] = {}
    ip = caller_ip(request)
    parsed: list[tuple[Target, list[tuple[Message, str | None]]]] = []
    for index, entry in enumerate(entries):
        try:
            parsed.append(_batch_entry(eng, index, entry, ip, new_queues))
        except ApiError as exc:
            if not exc.message.startswith("batch["):
                exc = ApiError(exc.status, f"batch[{index}]: {exc.message}")
            raise exc from None
    accepted = await eng.accept([item for _, items in parsed for item in items], new_queues)
    out: list[Any] = []
    position = 0
    for target, items in parsed:
        chunk = accepted[position : position + len(items)]
        position += len(items)
        out.append([a.api(with_url=True) for a in chunk] if target.group else chunk[0].api(with_url=False))
    return reply(out)

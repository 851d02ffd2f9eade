"""The dead-letter queue: list (filters, cursor, order), get, delete, bulk delete, and retry.

Bulk delete and bulk retry take ``{"dlqIds": [...]}`` (the Python SDK) or query parameters
(``dlqIds`` or filters, the OpenAPI form). A retry re-creates the message with its body, headers
and configuration, overridden by any configuration header on the retry request, and removes the
entry. Entries older than ``dlq_retention_ms`` on the sandbox clock are dropped.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from zapline.sandbox.qstash.api.common import empty, engine, header_items, json_body, reply
from zapline.sandbox.qstash.engine import Engine
from zapline.sandbox.qstash.errors import ApiError
from zapline.sandbox.qstash.events import filter_values
from zapline.sandbox.qstash.factory import build_message
from zapline.sandbox.qstash.filters import Filter, parse_count
from zapline.sandbox.qstash.model import DlqEntry
from zapline.sandbox.qstash.queues import Queue
from zapline.sandbox.qstash.spec import Spec, parse_spec
from zapline.sandbox.qstash.store import DLQ

__all__ = ["delete", "delete_many", "get", "list_entries", "retry", "retry_many"]

FILTERS = ("dlqId", "messageId", "url", "topicName", "queueName", "scheduleId", "responseStatus",
           "callerIp", "label", "flowControlKey")  # fmt: skip
MAX_COUNT = 100


def _prune(eng: Engine) -> None:
    horizon = eng.clock.now() - eng.options.dlq_retention_ms
    expired = [i for i, e in eng.dlq.items() if e.failed_at < horizon]
    for dlq_id in expired:
        del eng.dlq[dlq_id]
    if expired:
        eng.writer.submit(("HDEL", DLQ, *expired))


def _select(eng: Engine, request: Request, flt: Filter, *, default_count: int) -> tuple[list[DlqEntry], str | None]:
    _prune(eng)
    query = request.query_params
    count = parse_count(query, default=default_count, maximum=MAX_COUNT)
    order = query.get("order", "earliestFirst")
    if order not in ("earliestFirst", "latestFirst"):
        raise ApiError(400, f"invalid order {order!r}: earliestFirst or latestFirst")
    entries = list(eng.dlq.values())
    if order == "latestFirst":
        entries.reverse()
    cursor = query.get("cursor")
    if cursor:
        ids = [e.dlq_id for e in entries]
        entries = entries[ids.index(cursor) + 1 :] if cursor in ids else []
    chosen: list[DlqEntry] = []
    for entry in entries:
        values = {**filter_values(entry.message), "dlqId": entry.dlq_id, "responseStatus": entry.response.status}
        if flt.matches(values, entry.failed_at):
            if len(chosen) == count:
                return chosen, chosen[-1].dlq_id
            chosen.append(entry)
    return chosen, None


def _entry(eng: Engine, request: Request) -> DlqEntry:
    _prune(eng)
    dlq_id = request.path_params["dlq_id"]
    entry = eng.dlq.get(dlq_id)
    if entry is None:
        raise ApiError(404, f"dlq message {dlq_id} not found")
    return entry


async def list_entries(request: Request) -> Response:
    eng = engine(request)
    chosen, cursor = _select(eng, request, Filter.from_query(request.query_params, FILTERS), default_count=MAX_COUNT)
    out: dict[str, object] = {"messages": [e.api() for e in chosen]}
    if cursor:
        out["cursor"] = cursor
    return reply(out)


async def get(request: Request) -> Response:
    return reply(_entry(engine(request), request).api())


async def delete(request: Request) -> Response:
    eng = engine(request)
    entry = _entry(eng, request)
    await eng.writer.write(("HDEL", DLQ, entry.dlq_id))
    eng.dlq.pop(entry.dlq_id, None)
    return empty()


async def _chosen(request: Request) -> tuple[list[DlqEntry], str | None]:
    """The entries a bulk operation names: by body ``dlqIds``, or by query ids/filters."""
    eng = engine(request)
    body = await json_body(request, required=False)
    if body is not None:
        ids = body.get("dlqIds") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ApiError(400, 'the body must be {"dlqIds": ["…", …]}')
        _prune(eng)
        return [eng.dlq[i] for i in dict.fromkeys(ids) if i in eng.dlq], None
    flt = Filter.from_query(request.query_params, FILTERS)
    return _select(eng, request, flt, default_count=MAX_COUNT)


async def delete_many(request: Request) -> Response:
    eng = engine(request)
    chosen, cursor = await _chosen(request)
    if chosen:
        await eng.writer.write(("HDEL", DLQ, *[e.dlq_id for e in chosen]))
    for entry in chosen:
        eng.dlq.pop(entry.dlq_id, None)
    out: dict[str, object] = {"deleted": len(chosen)}
    if cursor:
        out["cursor"] = cursor
    return reply(out)


async def _retry(eng: Engine, entries: list[DlqEntry], overrides: Spec) -> list[dict[str, object]]:
    now = eng.clock.now()
    new_queues: dict[str, Queue] = {}
    batch = []
    for entry in entries:
        src = entry.message
        spec = Spec(
            method=src.method, headers=src.headers, retries=src.max_retries, retry_delay=src.retry_delay,
            timeout=src.timeout, flow=src.flow, label=src.label, redact=src.redact,
            callback=src.callback, failure_callback=src.failure_callback,
        )  # fmt: skip
        for name in overrides.present - {"dedup_id", "content_dedup", "cron", "schedule_id", "queue"}:
            setattr(spec, name, getattr(overrides, name))
        if src.queue:
            eng.new_queue(src.queue, new_queues)
        message = build_message(
            spec, url=src.url, body=src.body, now=now, seq=eng.next_seq, topic=src.topic, endpoint=src.endpoint,
            queue=src.queue, schedule_id=src.schedule_id, caller_ip=src.caller_ip,
        )  # fmt: skip
        batch.append((message, None))
    ids = [e.dlq_id for e in entries]
    for dlq_id in ids:  # taken now, so a concurrent retry of the same entry finds nothing
        eng.dlq.pop(dlq_id, None)
    try:
        accepted = await eng.accept(batch, new_queues, extra=[("HDEL", DLQ, *ids)] if ids else [])
    except ApiError:
        eng.dlq.update((e.dlq_id, e) for e in entries)
        raise
    return [a.api(with_url=False) for a in accepted]


async def retry(request: Request) -> Response:
    eng = engine(request)
    entry = _entry(eng, request)
    responses = await _retry(eng, [entry], parse_spec(header_items(request)))
    return reply(responses[0], 201)


async def retry_many(request: Request) -> Response:
    eng = engine(request)
    chosen, cursor = await _chosen(request)
    out: dict[str, object] = {"responses": await _retry(eng, chosen, parse_spec(header_items(request)))}
    if cursor:
        out["cursor"] = cursor
    return reply(out, 201)

"""Publishing to QStash: the one way Zapline queues, delays and rate-limits work.

A thin client over QStash's documented HTTP API with the shared httpx client: the request path
stays clear of the ``qstash`` SDK's import (sync and async trees, PyJWT) and of a second
connection pool. The CLI's operations (schedules, dead letters) use the official SDK.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from zapline import outgoing
from zapline.config import get_settings
from zapline.errors import QueueRejected, QueueUnavailable
from zapline.logs import get_logger

__all__ = [
    "LANES",
    "FlowControl",
    "cancel",
    "cancel_quietly",
    "delete_schedule",
    "destination",
    "dlq_delete",
    "dlq_delete_many",
    "dlq_get",
    "dlq_list",
    "dlq_retry",
    "flow_control_keys",
    "lane_flow_control",
    "list_schedules",
    "pause_flow_control",
    "pause_schedule",
    "publish",
    "publish_batch",
    "publish_json",
    "resume_flow_control",
    "resume_schedule",
    "upsert_schedule",
]

log = get_logger("zapline.qstash")

LANES = ("realtime", "automation", "bulk")
_PARALLELISM = {"realtime": 4, "automation": 2, "bulk": 1}  # sends in flight per instance and lane
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class FlowControl:
    """QStash flow control: at most ``rate`` starts per ``period`` seconds, ``parallelism`` in flight."""

    key: str
    rate: int | None = None
    period: int | None = None
    parallelism: int | None = None

    def header(self) -> str:
        parts = [f"{name}={value}" for name, value in (("rate", self.rate), ("parallelism", self.parallelism)) if value]
        if self.period:
            parts.append(f"period={self.period}s")
        return ",".join(parts)


def lane_flow_control(lane: str, instance_id: str) -> FlowControl:
    """The send lane of one instance: its own QStash flow-control key and rate, so a campaign's
    backlog (bulk) never delays a reply (realtime) or a follow-up (automation)."""
    settings = get_settings()
    rate = {
        "realtime": settings.send_rate_realtime,
        "automation": settings.send_rate_automation,
        "bulk": settings.send_rate_bulk,
    }[lane]
    count, _, period = rate.partition("/")
    seconds = int(period[:-1]) * _UNITS[period[-1]]
    return FlowControl(f"send:{lane}:{instance_id}", rate=int(count), period=seconds, parallelism=_PARALLELISM[lane])


def destination(path: str) -> str:
    """The public URL of one of our routes, as QStash must call (and sign) it."""
    return f"{get_settings().app_url}{path}"


def _headers(
    *,
    content_type: str = "application/json",
    delay_seconds: int | None = None,
    not_before: int | None = None,
    deduplication_id: str | None = None,
    flow_control: FlowControl | None = None,
    retries: int | None = None,
    timeout: int | None = None,
    failure_callback: str | None = None,
    labels: list[str] | None = None,
) -> dict[str, str]:
    headers = {"Content-Type": content_type}
    if not_before:
        headers["Upstash-Not-Before"] = str(int(not_before))  # unix seconds; wins over a delay
    elif delay_seconds:
        headers["Upstash-Delay"] = f"{int(delay_seconds)}s"
    if deduplication_id:
        headers["Upstash-Deduplication-Id"] = deduplication_id
    if flow_control:
        headers["Upstash-Flow-Control-Key"] = flow_control.key
        headers["Upstash-Flow-Control-Value"] = flow_control.header()
    if retries is not None:
        headers["Upstash-Retries"] = str(retries)
    if timeout:
        headers["Upstash-Timeout"] = f"{int(timeout)}s"
    if failure_callback:
        headers["Upstash-Failure-Callback"] = destination(failure_callback)
    if labels:
        headers["Upstash-Label"] = ",".join(labels)  # the Upstash console filters logs and the DLQ by them
    return headers


async def publish(path: str, body: bytes, **options: Any) -> str:
    """Publish ``body`` for QStash to POST to ``APP_URL + path``; return QStash's message id.

    ``options`` are those of :func:`_headers` (delay, not-before, deduplication id, flow control,
    retries, timeout, failure callback, labels). Raises ``QueueUnavailable`` (QStash unreachable,
    5xx, 429) or ``QueueRejected`` (another 4xx) unless QStash accepted the message (a
    deduplicated publish is accepted: the id of the original message comes back).
    """
    settings = get_settings()
    headers = {"Authorization": f"Bearer {settings.qstash_token}", **_headers(**options)}
    url = f"{settings.qstash_url}/v2/publish/{destination(path)}"
    reply = await _call("POST", url, headers=headers, content=body)
    message_id: str = reply["messageId"]
    return message_id


async def publish_json(path: str, payload: Any, **options: Any) -> str:
    """``publish`` with a JSON body (compact, UTF-8)."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return await publish(path, body, **options)


BATCH_SIZE = 100  # messages per /v2/batch request


async def publish_batch(entries: list[tuple[str, bytes, dict[str, Any]]]) -> list[str]:
    """Publish many ``(path, body, options)`` in ``/v2/batch`` requests of ``BATCH_SIZE``; the message ids.

    A batch QStash refuses as a whole raises; an entry it refuses alone raises ``QueueRejected``
    after the others were accepted (their deduplication ids make the caller's retry safe).
    """
    settings = get_settings()
    auth = {"Authorization": f"Bearer {settings.qstash_token}"}
    ids: list[str] = []
    for start in range(0, len(entries), BATCH_SIZE):
        chunk = entries[start : start + BATCH_SIZE]
        requests = [
            {"destination": destination(path), "headers": _headers(**options), "body": body.decode(), "queue": None}
            for path, body, options in chunk
        ]
        reply = await _call("POST", f"{settings.qstash_url}/v2/batch", headers=auth, json=requests)
        answers = reply.get("items", [])
        for answer in answers:
            if not isinstance(answer, dict) or "messageId" not in answer:
                raise QueueRejected(f"QStash refused a batch entry: {str(answer)[:200]}")
            ids.append(str(answer["messageId"]))
    return ids


# --- schedules (``zapline schedules``; the sync runs from the CLI and the admin API) --------------


async def list_schedules() -> list[dict[str, Any]]:
    settings = get_settings()
    reply = await _call("GET", f"{settings.qstash_url}/v2/schedules", headers=_auth())
    items: list[dict[str, Any]] = reply.get("items", [])
    return items


async def upsert_schedule(schedule_id: str, path: str, body: bytes, *, cron: str, **options: Any) -> str:
    """Create or update (same id) a schedule that POSTs ``body`` to ``APP_URL + path`` on ``cron``."""
    settings = get_settings()
    headers = {**_auth(), **_headers(**options), "Upstash-Cron": cron, "Upstash-Schedule-Id": schedule_id}
    reply = await _call("POST", f"{settings.qstash_url}/v2/schedules/{destination(path)}", headers=headers,
                        content=body)  # fmt: skip
    return str(reply.get("scheduleId", schedule_id))


async def delete_schedule(schedule_id: str) -> None:
    await _call("DELETE", f"{get_settings().qstash_url}/v2/schedules/{schedule_id}", headers=_auth())


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {get_settings().qstash_token}"}


async def cancel(message_id: str) -> bool:
    """Cancel a pending message; False when QStash no longer has it (delivered or cancelled)."""
    settings = get_settings()
    url = f"{settings.qstash_url}/v2/messages/{message_id}"
    try:
        await _call("DELETE", url, headers=_auth())
    except QueueRejected as exc:
        if exc.context.get("status") == 404:
            return False
        raise
    return True


# --- the dead-letter queue (the operator API's dead-letter operations; QStash's DLQ is deployment-wide) --


async def dlq_list(
    *, label: str | None = None, cursor: str | None = None, count: int = 100
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of QStash's DLQ (``label`` filters, e.g. ``job-send``); the messages and the next cursor."""
    params: dict[str, str | int] = {"count": count}
    if label:
        params["label"] = label
    if cursor:
        params["cursor"] = cursor
    reply = await _call("GET", f"{get_settings().qstash_url}/v2/dlq", headers=_auth(), params=params)
    messages: list[dict[str, Any]] = reply.get("messages") or []
    return messages, reply.get("cursor") or None


async def dlq_get(dlq_id: str) -> dict[str, Any] | None:
    """One dead letter with its message (url, body, labels); None when QStash no longer holds it."""
    try:
        return await _call("GET", f"{get_settings().qstash_url}/v2/dlq/{quote(dlq_id, safe='')}", headers=_auth())
    except QueueRejected as exc:
        if exc.context.get("status") == 404:
            return None
        raise


async def dlq_retry(dlq_id: str) -> str | None:
    """Deliver a dead letter again (QStash re-creates its message and drops the entry); the new
    message id, or None when QStash no longer holds it (retried already, deleted or expired)."""
    url = f"{get_settings().qstash_url}/v2/dlq/retry/{quote(dlq_id, safe='')}"
    try:
        reply = await _call("POST", url, headers=_auth())
    except QueueRejected as exc:
        if exc.context.get("status") == 404:
            return None
        raise
    return str(reply.get("messageId", "")) or None


async def dlq_delete(dlq_id: str) -> bool:
    """Drop a dead letter; False when QStash no longer holds it."""
    try:
        await _call("DELETE", f"{get_settings().qstash_url}/v2/dlq/{quote(dlq_id, safe='')}", headers=_auth())
    except QueueRejected as exc:
        if exc.context.get("status") == 404:
            return False
        raise
    return True


async def dlq_delete_many(dlq_ids: list[str]) -> int:
    """Drop many dead letters (those QStash still holds); how many it dropped."""
    deleted = 0
    for start in range(0, len(dlq_ids), 100):
        reply = await _call("DELETE", f"{get_settings().qstash_url}/v2/dlq", headers=_auth(),
                            json={"dlqIds": dlq_ids[start : start + 100]})  # fmt: skip
        deleted += int(reply.get("deleted", 0))
    return deleted


async def cancel_quietly(message_id: str | None) -> None:
    """Cancel a QStash timer; if that fails, the timer's own stale check makes it harmless."""
    if not message_id:
        return
    try:
        await cancel(message_id)
    except (QueueUnavailable, QueueRejected) as exc:
        log.warning("cancel failed; the stale check will stop it", qstash_message_id=message_id, error=exc.message)


async def _call(method: str, url: str, **kwargs: Any) -> dict[str, Any]:
    response = await outgoing.request("QStash", method, url, unavailable=QueueUnavailable, rejected=QueueRejected,
                                      **kwargs)  # fmt: skip
    try:
        parsed = response.json() if response.content else {}
    except ValueError:
        parsed = {}
    return parsed if isinstance(parsed, dict) else {"items": parsed}


# --- pausing and resuming (send lanes: flow-control keys; the deployment's schedules) -------------


async def _action(url: str, method: str = "POST") -> bool:
    """One pause/resume call; False when QStash has no such key or schedule (404)."""
    try:
        await _call(method, url, headers=_auth())
    except QueueRejected as exc:
        if exc.context.get("status") == 404:
            return False
        raise
    return True


async def pause_flow_control(key: str) -> bool:
    """Hold every message of a flow-control key in QStash's waitlist (new ones join it) until resumed.
    False when QStash does not know the key yet: no message has used it."""
    return await _action(f"{get_settings().qstash_url}/v2/flowControl/{quote(key, safe='')}/pause")


async def resume_flow_control(key: str) -> bool:
    """Deliver a paused key's waitlist again; False when QStash does not know the key."""
    return await _action(f"{get_settings().qstash_url}/v2/flowControl/{quote(key, safe='')}/resume")


async def flow_control_keys(search: str) -> list[dict[str, Any]]:
    """Every flow-control key whose name contains ``search``, with ``waitListSize`` and ``isPaused``."""
    reply = await _call("GET", f"{get_settings().qstash_url}/v2/flowControl", headers=_auth(),
                        params={"search": search})  # fmt: skip
    items: list[dict[str, Any]] = [k for k in reply.get("items", []) if isinstance(k, dict)]
    return items


async def pause_schedule(schedule_id: str) -> bool:
    """A paused schedule ignores its cron until resumed; False when QStash has no such schedule."""
    return await _action(f"{get_settings().qstash_url}/v2/schedules/{quote(schedule_id, safe='')}/pause", "PATCH")


async def resume_schedule(schedule_id: str) -> bool:
    return await _action(f"{get_settings().qstash_url}/v2/schedules/{quote(schedule_id, safe='')}/resume", "PATCH")

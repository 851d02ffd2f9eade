"""Building messages: from a publish's :class:`Spec`, and the callbacks QStash publishes itself.

Also the two decisions taken per message: its deduplication key, and how long to wait before the
next attempt after a failure.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Callable

from zapline.sandbox.qstash.durations import parse_retry_hint
from zapline.sandbox.qstash.expressions import compile_retry_delay
from zapline.sandbox.qstash.ids import random_id
from zapline.sandbox.qstash.model import CallbackSpec, Message, Response
from zapline.sandbox.qstash.spec import DEFAULT_RETRIES, Spec

__all__ = ["build_callback", "build_message", "dedup_key", "is_non_retryable", "retry_delay_ms"]

DAY_MS = 86_400_000
RETRY_HINT_HEADERS = ("Retry-After", "X-Ratelimit-Reset", "X-Ratelimit-Reset-Requests", "X-Ratelimit-Reset-Tokens")


def build_message(
    spec: Spec,
    *,
    url: str,
    body: bytes,
    now: int,
    seq: Callable[[], int],
    topic: str | None = None,
    endpoint: str | None = None,
    queue: str | None = None,
    schedule_id: str | None = None,
    caller_ip: str | None = None,
) -> Message:
    if spec.not_before is not None:
        due = spec.not_before * 1000
    elif spec.delay:
        due = now + spec.delay * 1000
    else:
        due = now
    return Message(
        id=random_id("msg_"),
        url=url,
        method=spec.method,
        body=body,
        headers=spec.headers,
        created_at=now,
        not_before=due,
        max_retries=spec.retries if spec.retries is not None else DEFAULT_RETRIES,
        seq=seq(),
        retry_delay=spec.retry_delay,
        timeout=spec.timeout,
        callback=spec.callback,
        failure_callback=spec.failure_callback,
        topic=topic,
        endpoint=endpoint,
        queue=queue,
        schedule_id=schedule_id,
        caller_ip=caller_ip,
        flow=spec.flow,
        label=spec.label,
        redact=spec.redact,
        due=max(due, now),
    )


def dedup_key(spec: Spec, *, url: str, body: bytes, group: str | None) -> str | None:
    """``Upstash-Deduplication-Id``, or a hash of destination, body and headers; per endpoint in groups."""
    scope = f"|{group}|{url}" if group else ""
    if spec.dedup_id:
        return f"id:{spec.dedup_id}{scope}"
    if spec.content_dedup:
        digest = hashlib.sha256()
        digest.update(url.encode() + b"\0" + body + b"\0")
        for name in sorted(spec.headers):
            digest.update(f"{name.lower()}:{','.join(spec.headers[name])}\0".encode())
        return f"content:{digest.hexdigest()}"
    return None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def build_callback(
    source: Message,
    spec: CallbackSpec,
    response: Response,
    *,
    now: int,
    seq: Callable[[], int],
    kind: str,
    dlq_id: str | None = None,
) -> Message:
    """The message QStash publishes to a (failure) callback after an attempt of ``source``."""
    payload: dict[str, object] = {
        "status": response.status,
        "header": response.headers,
        "body": _b64(response.body),
        "retried": source.retried,
        "maxRetries": source.max_retries,
        "sourceMessageId": source.id,
        "url": source.url,
        "method": source.method,
        "sourceHeader": source.headers,
        "sourceBody": _b64(source.body),
        "notBefore": str(source.not_before),
        "createdAt": str(source.created_at),
    }
    optional = {
        "topicName": source.topic, "endpointName": source.endpoint, "scheduleId": source.schedule_id,
        "callerIP": source.caller_ip, "dlqId": dlq_id, "error": response.error,
    }  # fmt: skip
    payload.update({k: v for k, v in optional.items() if v is not None})
    due = now + (spec.delay or 0) * 1000
    return Message(
        id=random_id("msg_"),
        url=spec.url,
        method=spec.method or "POST",
        body=json.dumps(payload).encode(),
        headers={"Content-Type": ["application/json"], **spec.headers},
        created_at=now,
        not_before=due,
        max_retries=spec.retries if spec.retries is not None else source.max_retries,
        seq=seq(),
        retry_delay=spec.retry_delay or source.retry_delay,
        timeout=spec.timeout,
        caller_ip=source.caller_ip,
        kind=kind,
        due=due,
    )


def is_non_retryable(response: Response) -> bool:
    if response.status != 489:
        return False
    for name, values in response.headers.items():
        if name.lower() == "upstash-nonretryable-error":
            return any(v.strip().lower() == "true" for v in values)
    return False


def retry_delay_ms(msg: Message, response: Response, now_real: int) -> int:
    """Milliseconds before the next attempt: the answer's hint, the message's expression, or backoff."""
    for name in RETRY_HINT_HEADERS:
        for value in response.headers.get(name, ()):
            hint = parse_retry_hint(value, now_real)
            if hint is not None and hint <= DAY_MS:
                return hint
    if msg.retry_delay:
        try:
            computed = compile_retry_delay(msg.retry_delay).milliseconds(msg.retried)
        except ValueError:
            computed = None
        if computed is not None:
            return min(computed, DAY_MS)
    return int(min(86_400.0, math.exp(2.5 * (msg.retried + 1)))) * 1000

"""The records the sandbox keeps: messages (with their callbacks and flow control) and DLQ entries.

Each record has ``to_record``/``from_record`` for Redis (bodies base64-encoded) and ``api`` for the
JSON QStash answers with (keys as the SDK reads them; redacted fields shown as ``REDACTED:<sha256>``).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CallbackSpec", "DlqEntry", "FlowSpec", "Message", "Response", "body_fields", "redacted"]

Headers = dict[str, list[str]]


def redacted(value: bytes) -> str:
    return "REDACTED:" + hashlib.sha256(value).hexdigest()


def body_fields(body: bytes, *, key: str = "body", redact: bool = False) -> dict[str, str]:
    """``{"body": text}`` for UTF-8 bodies, ``{"bodyBase64": …}`` otherwise, nothing when empty."""
    if not body:
        return {}
    if redact:
        return {key: redacted(body)}
    try:
        return {key: body.decode()}
    except UnicodeDecodeError:
        return {key + "Base64": base64.b64encode(body).decode()}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(slots=True)
class FlowSpec:
    key: str
    parallelism: int | None = None
    rate: int | None = None
    period: int = 1  # seconds

    def api(self) -> dict[str, Any]:
        out: dict[str, Any] = {"flowControlKey": self.key, "period": self.period}
        if self.parallelism is not None:
            out["parallelism"] = self.parallelism
        if self.rate is not None:
            out["rate"] = self.rate
        return out

    def to_record(self) -> dict[str, Any]:
        return {"key": self.key, "parallelism": self.parallelism, "rate": self.rate, "period": self.period}

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> FlowSpec:
        return cls(r["key"], r.get("parallelism"), r.get("rate"), r.get("period", 1))


@dataclass(slots=True)
class CallbackSpec:
    """Where and how QStash reports an attempt: ``Upstash-(Failure-)Callback`` and its sub-headers."""

    url: str
    headers: Headers = field(default_factory=dict)
    method: str | None = None
    retries: int | None = None
    retry_delay: str | None = None
    timeout: int | None = None
    delay: int | None = None  # seconds

    def to_record(self) -> dict[str, Any]:
        return {
            "url": self.url, "headers": self.headers, "method": self.method, "retries": self.retries,
            "retry_delay": self.retry_delay, "timeout": self.timeout, "delay": self.delay,
        }  # fmt: skip

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> CallbackSpec:
        return cls(
            r["url"], r.get("headers") or {}, r.get("method"), r.get("retries"),
            r.get("retry_delay"), r.get("timeout"), r.get("delay"),
        )  # fmt: skip


@dataclass(slots=True, eq=False)
class Message:
    id: str
    url: str  # the exact target: the signature's ``sub``
    method: str
    body: bytes
    headers: Headers  # what the destination receives besides QStash's own headers
    created_at: int  # virtual ms
    not_before: int  # virtual ms
    max_retries: int
    seq: int  # acceptance order: FIFO order in queues and waitlists
    retry_delay: str | None = None
    timeout: int | None = None  # seconds
    callback: CallbackSpec | None = None
    failure_callback: CallbackSpec | None = None
    topic: str | None = None
    endpoint: str | None = None
    queue: str | None = None
    schedule_id: str | None = None
    caller_ip: str | None = None
    flow: FlowSpec | None = None
    label: str | None = None
    redact: tuple[str, ...] = ()
    kind: str = "message"  # or "callback" / "failure_callback"
    slot_queue: str | None = None  # the queue whose parallelism slot this message holds
    retried: int = 0
    due: int = 0  # virtual ms of the next attempt
    state: str = "CREATED"
    cancel_requested: bool = False

    @property
    def labels(self) -> list[str]:
        return [part.strip() for part in self.label.split(",") if part.strip()] if self.label else []

    def header_view(self, headers: Headers) -> Headers:
        if "header" in self.redact or "headers" in self.redact:
            return {k: [redacted(v.encode()) for v in vs] for k, vs in headers.items()}
        hidden = {r.split("[", 1)[1].rstrip("]").lower() for r in self.redact if "[" in r}
        if not hidden:
            return headers
        return {k: [redacted(v.encode()) for v in vs] if k.lower() in hidden else vs for k, vs in headers.items()}

    def api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "messageId": self.id,
            "url": self.url,
            "method": self.method,
            "header": self.header_view(self.headers),
            "maxRetries": self.max_retries,
            "notBefore": self.not_before,
            "createdAt": self.created_at,
            "retried": self.retried,
        }
        out.update(body_fields(self.body, redact="body" in self.redact))
        optional = {
            "topicName": self.topic, "endpointName": self.endpoint, "queueName": self.queue,
            "scheduleId": self.schedule_id, "callerIP": self.caller_ip,
            "retryDelayExpression": self.retry_delay, "label": self.label,
        }  # fmt: skip
        out.update({k: v for k, v in optional.items() if v is not None})
        if self.timeout is not None:
            out["timeout"] = self.timeout
        if self.labels:
            out["labels"] = self.labels
        if self.callback:
            out["callback"] = self.callback.url
            out["callbackHeader"] = self.callback.headers
        if self.failure_callback:
            out["failureCallback"] = self.failure_callback.url
            out["failureCallbackHeader"] = self.failure_callback.headers
        if self.flow:
            out.update(self.flow.api())
        return out

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id, "url": self.url, "method": self.method, "body": _b64(self.body),
            "headers": self.headers, "created_at": self.created_at, "not_before": self.not_before,
            "max_retries": self.max_retries, "seq": self.seq, "retry_delay": self.retry_delay,
            "timeout": self.timeout,
            "callback": self.callback.to_record() if self.callback else None,
            "failure_callback": self.failure_callback.to_record() if self.failure_callback else None,
            "topic": self.topic, "endpoint": self.endpoint, "queue": self.queue,
            "schedule_id": self.schedule_id, "caller_ip": self.caller_ip,
            "flow": self.flow.to_record() if self.flow else None, "label": self.label,
            "redact": list(self.redact), "kind": self.kind, "slot_queue": self.slot_queue,
            "retried": self.retried, "due": self.due, "cancel_requested": self.cancel_requested,
        }  # fmt: skip

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Message:
        return cls(
            id=r["id"], url=r["url"], method=r["method"], body=base64.b64decode(r["body"]),
            headers=r["headers"], created_at=r["created_at"], not_before=r["not_before"],
            max_retries=r["max_retries"], seq=r["seq"], retry_delay=r.get("retry_delay"),
            timeout=r.get("timeout"),
            callback=CallbackSpec.from_record(r["callback"]) if r.get("callback") else None,
            failure_callback=(
                CallbackSpec.from_record(r["failure_callback"]) if r.get("failure_callback") else None
            ),
            topic=r.get("topic"), endpoint=r.get("endpoint"), queue=r.get("queue"),
            schedule_id=r.get("schedule_id"), caller_ip=r.get("caller_ip"),
            flow=FlowSpec.from_record(r["flow"]) if r.get("flow") else None, label=r.get("label"),
            redact=tuple(r.get("redact") or ()), kind=r.get("kind", "message"),
            slot_queue=r.get("slot_queue"), retried=r.get("retried", 0), due=r.get("due", 0),
            cancel_requested=r.get("cancel_requested", False),
        )  # fmt: skip


@dataclass(slots=True)
class Response:
    """What a destination answered to one attempt (status 0: no answer, see ``error``)."""

    status: int
    headers: Headers
    body: bytes
    error: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def to_record(self) -> dict[str, Any]:
        return {"status": self.status, "headers": self.headers, "body": _b64(self.body), "error": self.error}

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Response:
        return cls(r["status"], r.get("headers") or {}, base64.b64decode(r.get("body", "")), r.get("error"))


@dataclass(slots=True, eq=False)
class DlqEntry:
    dlq_id: str
    message: Message
    response: Response
    failed_at: int  # virtual ms

    def api(self) -> dict[str, Any]:
        out = self.message.api()
        out["dlqId"] = self.dlq_id
        out["responseStatus"] = self.response.status
        out["responseHeader"] = self.response.headers
        body = self.response.body or (self.response.error or "").encode()
        out.update(body_fields(body, key="responseBody"))
        return out

    def to_record(self) -> dict[str, Any]:
        return {
            "dlq_id": self.dlq_id,
            "message": self.message.to_record(),
            "response": self.response.to_record(),
            "failed_at": self.failed_at,
        }

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> DlqEntry:
        return cls(r["dlq_id"], Message.from_record(r["message"]), Response.from_record(r["response"]), r["failed_at"])

"""Schedules: a cron expression plus the publish it repeats (destination, body and headers).

``next_time`` is computed from the cron on the sandbox clock and is not stored: after a restart
the next firing is the next instant from then on (firings missed while stopped are not replayed).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from zapline.cron import Cron, parse_cron
from zapline.sandbox.qstash.model import Message, body_fields
from zapline.sandbox.qstash.spec import DEFAULT_RETRIES, Spec

__all__ = ["Schedule"]


@dataclass(eq=False)
class Schedule:
    id: str
    destination: str  # a url, or the name of a url group when ``group`` is set
    group: bool
    cron: str
    spec: Spec
    body: bytes
    created_at: int
    caller_ip: str | None = None
    paused: bool = False
    last_time: int | None = None
    last_states: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    next_time: int | None = None
    parsed: Cron | None = None

    def __post_init__(self) -> None:
        if self.parsed is None:
            self.parsed = parse_cron(self.cron)

    def plan(self, after: int) -> int:
        assert self.parsed is not None
        self.next_time = self.parsed.next_after(after)
        return self.next_time

    def api(self) -> dict[str, Any]:
        spec = self.spec
        shown = Message(id="", url="", method=spec.method, body=b"", headers=spec.headers, created_at=0,
                        not_before=0, max_retries=0, seq=0, redact=spec.redact)  # fmt: skip
        out: dict[str, Any] = {
            "scheduleId": self.id,
            "destination": self.destination,
            "cron": self.cron,
            "createdAt": self.created_at,
            "method": spec.method,
            "header": shown.header_view(spec.headers),
            "retries": spec.retries if spec.retries is not None else DEFAULT_RETRIES,
            "isPaused": self.paused,
        }
        out.update(body_fields(self.body, redact="body" in spec.redact))
        optional = {
            "delay": spec.delay, "timeout": spec.timeout, "callerIP": self.caller_ip,
            "queueName": spec.queue, "lastScheduleTime": self.last_time,
            "nextScheduleTime": None if self.paused else self.next_time, "error": self.error,
            "retryDelayExpression": spec.retry_delay, "label": spec.label,
        }  # fmt: skip
        out.update({k: v for k, v in optional.items() if v is not None})
        if self.last_states:
            out["lastScheduleStates"] = dict(self.last_states)
        if spec.label:
            out["labels"] = [p.strip() for p in spec.label.split(",") if p.strip()]
        if spec.callback:
            out["callback"] = spec.callback.url
            out["callbackHeader"] = spec.callback.headers
        if spec.failure_callback:
            out["failureCallback"] = spec.failure_callback.url
            out["failureCallbackHeader"] = spec.failure_callback.headers
        if spec.flow:
            out.update(spec.flow.api())
        return out

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id, "destination": self.destination, "group": self.group, "cron": self.cron,
            "spec": self.spec.to_record(), "body": base64.b64encode(self.body).decode(),
            "created_at": self.created_at, "caller_ip": self.caller_ip, "paused": self.paused,
            "last_time": self.last_time, "last_states": self.last_states, "error": self.error,
        }  # fmt: skip

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Schedule:
        return cls(
            r["id"], r["destination"], r["group"], r["cron"], Spec.from_record(r["spec"]),
            base64.b64decode(r["body"]), r["created_at"], r.get("caller_ip"), r.get("paused", False),
            r.get("last_time"), r.get("last_states") or {}, r.get("error"),
        )  # fmt: skip

"""The event log (``GET /v2/events``): every state a message goes through, newest first.

Kept in memory, bounded (``max_events``); it starts empty after a restart, like a log past its
retention. Events point at their message instead of copying it, so a long log stays cheap.
"""

from __future__ import annotations

import base64
from collections import deque
from dataclasses import dataclass
from typing import Any

from zapline.sandbox.qstash.filters import Filter
from zapline.sandbox.qstash.model import Message, Response, body_fields, redacted

__all__ = ["Event", "EventLog", "filter_values"]


def filter_values(message: Message) -> dict[str, str | int | list[str] | None]:
    return {
        "messageId": message.id,
        "url": message.url,
        "topicName": message.topic,
        "queueName": message.queue,
        "scheduleId": message.schedule_id,
        "label": message.labels or None,
        "flowControlKey": message.flow.key if message.flow else None,
        "callerIp": message.caller_ip,
    }


@dataclass(slots=True)
class Event:
    seq: int
    time: int
    state: str
    message: Message
    error: str | None = None
    next_delivery: int | None = None
    response: Response | None = None

    def api(self) -> dict[str, Any]:
        m = self.message
        out: dict[str, Any] = {
            "time": self.time,
            "messageId": m.id,
            "state": self.state,
            "url": m.url,
            "method": m.method,
            "maxRetries": m.max_retries,
            "header": m.header_view(m.headers),
        }
        if m.body:
            out["body"] = redacted(m.body) if "body" in m.redact else base64.b64encode(m.body).decode()
        optional = {
            "topicName": m.topic, "endpointName": m.endpoint, "queueName": m.queue,
            "scheduleId": m.schedule_id, "retryDelayExpr": m.retry_delay,
            "retryDelayExpression": m.retry_delay, "label": m.label,
            "timeout": m.timeout, "callerIP": m.caller_ip, "error": self.error,
            "nextDeliveryTime": self.next_delivery,
        }  # fmt: skip
        out.update({k: v for k, v in optional.items() if v is not None})
        if m.labels:
            out["labels"] = m.labels
        if m.callback:
            out["callback"] = m.callback.url
            out["callbackHeaders"] = m.callback.headers
        if m.failure_callback:
            out["failureCallback"] = m.failure_callback.url
            out["failureCallbackHeaders"] = m.failure_callback.headers
        if m.flow:
            out.update(m.flow.api())
        if self.response is not None and self.response.status:
            out["responseStatus"] = self.response.status
            out["responseHeader"] = out["responseHeaders"] = self.response.headers  # SDK / OpenAPI
            out.update(body_fields(self.response.body, key="responseBody"))
        return out


class EventLog:
    def __init__(self, max_events: int) -> None:
        self._events: deque[Event] = deque(maxlen=max_events)
        self._seq = 0

    def add(
        self,
        time: int,
        state: str,
        message: Message,
        *,
        error: str | None = None,
        next_delivery: int | None = None,
        response: Response | None = None,
    ) -> None:
        self._seq += 1
        self._events.append(Event(self._seq, time, state, message, error, next_delivery, response))

    def query(self, flt: Filter, *, cursor: int | None, count: int) -> tuple[list[Event], int | None]:
        """Matching events newest first, at most ``count``, starting below ``cursor``."""
        out: list[Event] = []
        for event in reversed(self._events):
            if cursor is not None and event.seq >= cursor:
                continue
            values = filter_values(event.message)
            values = {**values, "state": event.state}
            if flt.matches(values, event.time):
                if len(out) == count:
                    return out, out[-1].seq
                out.append(event)
        return out, None

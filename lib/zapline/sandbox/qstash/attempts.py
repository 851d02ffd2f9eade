"""What one delivery attempt came to, as ``POST /_sandbox/clock/advance`` reports it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zapline.sandbox.qstash.model import Message, Response

__all__ = ["OUTCOMES", "Attempt"]

# delivered: 2xx; retry: a retry is scheduled (next_delivery); dlq: given up, in the DLQ (dlq_id);
# canceled: cancelled while the attempt ran; pending: still running when advance answered;
# error: the sandbox failed to settle it (see its log)
OUTCOMES = ("delivered", "retry", "dlq", "canceled", "pending", "error")


@dataclass(frozen=True, slots=True)
class Attempt:
    message_id: str
    url: str
    schedule_id: str | None
    kind: str  # message, callback or failure_callback
    retried: int  # attempts made before this one
    outcome: str  # one of OUTCOMES
    status: int | None = None  # the destination's HTTP status; 0: no answer (see error)
    error: str | None = None
    next_delivery: int | None = None  # retry: when, in virtual ms
    dlq_id: str | None = None

    @classmethod
    def of(cls, msg: Message, outcome: str, response: Response | None = None, **extra: Any) -> Attempt:
        return cls(
            msg.id, msg.url, msg.schedule_id, msg.kind, msg.retried, outcome,
            status=response.status if response else None, error=response.error if response else None, **extra,
        )  # fmt: skip

    def api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "messageId": self.message_id,
            "url": self.url,
            "scheduleId": self.schedule_id,
            "kind": self.kind,
            "retried": self.retried,
            "outcome": self.outcome,
            "status": self.status,
        }
        optional = {"error": self.error, "nextDelivery": self.next_delivery, "dlqId": self.dlq_id}
        out.update({k: v for k, v in optional.items() if v is not None})
        return out

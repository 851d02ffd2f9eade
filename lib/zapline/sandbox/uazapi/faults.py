"""Injected send failures (``POST /_sandbox/faults``): the next N matching sends fail, then all is well."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Fault", "FaultBook", "FaultError"]

SEND_ENDPOINTS = ("/send/text", "/send/media", "/send/menu")
READ_ENDPOINTS = ("/chat/find", "/chat/details", "/labels")  # only faults naming them apply (contacts_api.py)
_BODIES = {429: "Rate limit exceeded", 500: "Failed to send message"}


class FaultError(ValueError):
    """The fault request is malformed."""


@dataclass
class Fault:
    status: int
    remaining: int
    retry_after: int | None
    instance: str | None  # token of the instance it applies to; None: every instance
    endpoint: str | None  # one of SEND_ENDPOINTS; None: every send
    offset: int | None = None  # /chat/find only: the page at this offset fails (None: any page)

    @property
    def body(self) -> dict[str, str]:
        return {"error": _BODIES[self.status]}

    @property
    def headers(self) -> dict[str, str]:
        if self.status == 429:
            return {"Retry-After": str(self.retry_after if self.retry_after is not None else 1)}
        return {}

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "remaining": self.remaining,
            "retry_after": self.retry_after,
            "endpoint": self.endpoint,
            "offset": self.offset,
            "instance": "(one instance)" if self.instance else None,
        }


def _int(body: dict[str, Any], key: str, default: int | None, low: int) -> int | None:
    value = body.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise FaultError(f"{key} must be a whole number >= {low}")
    return value


class FaultBook:
    def __init__(self) -> None:
        self.faults: list[Fault] = []

    def add(self, body: Any, instance_token: str | None) -> Fault:
        if not isinstance(body, dict):
            raise FaultError('send {"status": 429|500, "count": N, "retry_after"?: s, "endpoint"?, "instance"?}')
        status = body.get("status")
        if status not in _BODIES:
            raise FaultError("status must be 429 or 500")
        endpoint = body.get("endpoint")
        if endpoint is not None and endpoint not in SEND_ENDPOINTS + READ_ENDPOINTS:
            raise FaultError(f"endpoint must be one of {', '.join(SEND_ENDPOINTS + READ_ENDPOINTS)}")
        offset = _int(body, "offset", None, 0)
        if offset is not None and endpoint != "/chat/find":
            raise FaultError("offset needs endpoint /chat/find")
        fault = Fault(
            status=int(status),
            remaining=_int(body, "count", 1, 1) or 1,
            retry_after=_int(body, "retry_after", None, 0),
            instance=instance_token,
            endpoint=endpoint,
            offset=offset,
        )
        self.faults.append(fault)
        return fault

    def take(self, instance_token: str, endpoint: str) -> Fault | None:
        """The fault this send hits (consuming one of its count), if any."""
        for fault in self.faults:
            if fault.instance not in (None, instance_token) or fault.endpoint not in (None, endpoint):
                continue
            fault.remaining -= 1
            if fault.remaining <= 0:
                self.faults.remove(fault)
            return fault
        return None

    def clear(self) -> None:
        self.faults.clear()

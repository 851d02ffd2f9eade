"""Flow control per key: at most ``parallelism`` calls in flight and ``rate`` calls started per
``period``; the rest wait in a FIFO waitlist (delayed, never rejected).

The configuration comes from the latest message carrying the key unless it is pinned through the
API. Rate periods are fixed windows on the sandbox clock, starting at the first call after the
previous window ended. Configuration, pins and pause are persisted; counters and the waitlist are
not: the waitlist is rebuilt from the pending messages on restart, and counting starts afresh.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from zapline.sandbox.qstash.model import FlowSpec, Message

__all__ = ["FlowKey"]


@dataclass(eq=False)
class FlowKey:
    key: str
    parallelism: int | None = None  # None: unlimited
    rate: int | None = None  # None: unlimited
    period: int = 1  # seconds
    paused: bool = False
    pinned_parallelism: bool = False
    pinned_rate: bool = False
    inflight: int = 0
    count: int = 0
    window_start: int = 0  # virtual ms
    timer_at: int | None = None
    waitlist: deque[Message] = field(default_factory=deque)

    def configure(self, spec: FlowSpec) -> bool:
        """Adopt a message's values unless pinned; True when the configuration changed."""
        before = (self.parallelism, self.rate, self.period)
        if not self.pinned_parallelism:
            self.parallelism = spec.parallelism
        if not self.pinned_rate:
            self.rate, self.period = spec.rate, spec.period
        return before != (self.parallelism, self.rate, self.period)

    @property
    def window_end(self) -> int:
        return self.window_start + self.period * 1000

    def _roll(self, now: int) -> None:
        if now >= self.window_end:
            self.window_start, self.count = now, 0

    def rate_blocked(self, now: int) -> bool:
        self._roll(now)
        return self.rate is not None and self.count >= self.rate

    def try_start(self, now: int) -> bool:
        """Take a call slot if the key allows one now."""
        if self.paused or (self.parallelism is not None and self.inflight >= self.parallelism):
            return False
        if self.rate_blocked(now):
            return False
        self.inflight += 1
        self.count += 1
        return True

    def reset_rate(self, now: int) -> None:
        self.window_start, self.count = now, 0

    def pin(self, parallelism: int | None, rate: int | None, period: int | None, now: int) -> None:
        if parallelism is not None:
            self.parallelism, self.pinned_parallelism = parallelism, True
        if rate is not None or period is not None:
            self.rate = rate if rate is not None else self.rate
            self.period = period if period is not None else self.period
            self.pinned_rate = True
        self.reset_rate(now)

    def api(self, now: int, waiting: int) -> dict[str, Any]:
        in_window = now < self.window_end
        return {
            "flowControlKey": self.key,
            "waitListSize": waiting,
            "parallelismMax": self.parallelism or 0,
            "parallelismCount": self.inflight,
            "rateMax": self.rate or 0,
            "rateCount": self.count if in_window else 0,
            "ratePeriod": self.period,
            "ratePeriodStart": (self.window_start if in_window else now) // 1000,
            "isPaused": self.paused,
            "isPinnedParallelism": self.pinned_parallelism,
            "isPinnedRate": self.pinned_rate,
        }

    def to_record(self) -> dict[str, Any]:
        return {
            "key": self.key, "parallelism": self.parallelism, "rate": self.rate, "period": self.period,
            "paused": self.paused, "pinned_parallelism": self.pinned_parallelism, "pinned_rate": self.pinned_rate,
        }  # fmt: skip

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> FlowKey:
        return cls(
            r["key"], r.get("parallelism"), r.get("rate"), r.get("period", 1), r.get("paused", False),
            r.get("pinned_parallelism", False), r.get("pinned_rate", False),
        )  # fmt: skip

"""Counters for ``GET /_sandbox/stats``: the whole simulator's, and each instance's."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Stats"]


@dataclass
class Stats:
    api_requests: int = 0
    sends: int = 0
    webhooks_posted: int = 0  # deliveries answered 2xx
    webhook_attempts: int = 0
    webhook_failures: int = 0  # deliveries that failed every attempt
    customer_messages: int = 0
    pending: int = 0  # sends whose echo and receipts are still to be posted

    def add(self, name: str, n: int = 1) -> None:
        setattr(self, name, getattr(self, name) + n)

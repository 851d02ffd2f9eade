"""Queues: FIFO delivery with ``parallelism`` messages at a time.

A message takes a slot when it leaves the FIFO and keeps it through its retries, handing it to its
callback (if any) at the end, so the next message starts only once the previous one is DELIVERED or
FAILED and reported. Paused queues keep accepting messages; resuming continues from the earliest.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from zapline.sandbox.qstash.model import Message

__all__ = ["Queue"]


@dataclass(eq=False)
class Queue:
    name: str
    created_at: int
    updated_at: int
    parallelism: int = 1
    paused: bool = False
    active: int = 0  # slots taken
    pending: int = 0  # messages of this queue not finished yet: the lag
    fifo: deque[Message] = field(default_factory=deque)

    def api(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "parallelism": self.parallelism,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "lag": self.pending,
            "paused": self.paused,
        }

    def to_record(self) -> dict[str, Any]:
        return {
            "name": self.name, "created_at": self.created_at, "updated_at": self.updated_at,
            "parallelism": self.parallelism, "paused": self.paused,
        }  # fmt: skip

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Queue:
        return cls(r["name"], r["created_at"], r["updated_at"], r.get("parallelism", 1), r.get("paused", False))

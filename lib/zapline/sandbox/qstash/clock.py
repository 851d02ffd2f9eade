"""The sandbox clock: real time plus a persisted, only-growing offset that tests move forward.

Everything that is *due* (delays, not-before, retry backoff, cron, flow-control periods) is judged
by :meth:`Clock.now`. Signatures are the one exception: they carry real wall-clock time, because
``qstash.Receiver`` checks ``nbf``/``exp`` against the receiver's own clock with no tolerance.
"""

from __future__ import annotations

import time

__all__ = ["Clock", "real_ms"]


def real_ms() -> int:
    return time.time_ns() // 1_000_000


class Clock:
    def __init__(self, offset_ms: int = 0) -> None:
        self.offset_ms = offset_ms

    def now(self) -> int:
        """Virtual unix time in milliseconds."""
        return real_ms() + self.offset_ms

    def jump_to(self, virtual_ms: int) -> bool:
        """Move virtual time forward to ``virtual_ms``; never backwards. True if it moved."""
        offset = virtual_ms - real_ms()
        if offset <= self.offset_ms:
            return False
        self.offset_ms = offset
        return True

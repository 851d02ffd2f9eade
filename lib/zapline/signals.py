"""Stopping on SIGINT/SIGTERM without losing one that arrives early.

A signal that lands while the sandbox is still starting must not kill the supervisor (its
children would be orphaned) nor be missed by the wait that follows: it is recorded from the
moment :class:`Shutdown` exists, and ``wait`` returns at once if one already arrived.
"""

from __future__ import annotations

import os
import signal
from types import FrameType

__all__ = ["Shutdown"]


class Shutdown:
    def __init__(self) -> None:
        self.received: list[int] = []
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        signal.set_wakeup_fd(self._write)  # the interpreter writes a byte here on every signal
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._record)

    def _record(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)

    def wait(self) -> None:
        while not self.received:
            os.read(self._read, 1)

    def release(self) -> None:
        """Hand SIGINT/SIGTERM back (e.g. to uvicorn, which installs its own handlers)."""
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        os.close(self._read)
        os.close(self._write)

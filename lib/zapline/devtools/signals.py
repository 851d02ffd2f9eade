"""Stopping cleanly: on SIGINT/SIGTERM/SIGHUP, and with the parent however the parent stops.

A signal that lands while the sandbox is still starting must not kill the supervisor (its
children would be orphaned) nor be missed by the wait that follows: it is recorded from the
moment :class:`Shutdown` exists, and ``wait`` returns at once if one already arrived.

A supervisor can also die without a word (SIGKILL, a crash, a closed terminal), and children left
behind keep the sandbox's ports, so the next start fails. Every child is therefore started through
``python -m zapline.devtools.signals`` (:class:`Lifeline`), which stops it when its parent goes, twice over:

- on Linux, ``prctl(PR_SET_PDEATHSIG, SIGTERM)``: the kernel sends SIGTERM when the parent dies
  (kept across ``exec``, so the wrapper can ``exec`` redis-server and cost no extra process);
- everywhere, a pipe whose only write end the parent holds: end of file means the parent is gone.
  A Python child watches it from a thread; a program that cannot is run under the wrapper, which
  watches for it and stops the program.
"""

from __future__ import annotations

import argparse
import os
import runpy
import signal
import subprocess
import sys
import threading
from types import FrameType

__all__ = ["Lifeline", "Shutdown"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_PR_SET_PDEATHSIG = 1
_GRACE = 10.0  # seconds a child orphaned by its parent has to stop before it is made to


class Shutdown:
    def __init__(self) -> None:
        self.received: list[int] = []
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)  # a byte here on every signal
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._record)

    def _record(self, signum: int, frame: FrameType | None) -> None:
        self.received.append(signum)

    @property
    def interrupted(self) -> bool:
        """Stopped by Ctrl-C (SIGINT): the command exits 130, as shells expect."""
        return signal.SIGINT in self.received

    def wait(self) -> None:
        while not self.received:
            os.read(self._read, 1)


class Lifeline:
    """The parent's end: wraps each child's command so the child stops when this process does."""

    def __init__(self, *, pdeathsig: bool = True) -> None:
        self._read, self._write = os.pipe()  # neither is inherited unless passed in pass_fds
        self.parent = os.getpid()
        self.pdeathsig = pdeathsig  # False: the pipe alone, as where prctl does not exist

    @property
    def pass_fds(self) -> tuple[int, ...]:
        return (self._read,)

    def _wrapper(self) -> list[str]:
        cmd = [sys.executable, "-m", "zapline.devtools.signals", "--parent", str(self.parent), "--fd", str(self._read)]
        return cmd if self.pdeathsig else [*cmd, "--no-pdeathsig"]

    def python(self, module: str, *args: str) -> list[str]:
        """``python -m module args`` in the wrapper's own interpreter, with a watchdog thread."""
        return [*self._wrapper(), "--module", module, "--", *args]

    def program(self, *argv: str) -> list[str]:
        """Any program, e.g. redis-server: exec'd after prctl, else run under the wrapper."""
        return [*self._wrapper(), "--", *argv]

    def close(self) -> None:
        for fd in (self._read, self._write):
            os.close(fd)


def _set_pdeathsig() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _on_parent_exit(fd: int, then: threading.Event) -> None:
    """Block until the parent's end of the pipe closes, then set ``then``."""

    def watch() -> None:
        try:
            while os.read(fd, 1):
                pass
        except OSError:
            pass
        then.set()

    threading.Thread(target=watch, name="zapline-lifeline", daemon=True).start()


def _run_module(module: str, args: list[str], fd: int) -> int:
    orphaned = threading.Event()
    _on_parent_exit(fd, orphaned)

    def stop_when_orphaned() -> None:
        orphaned.wait()
        os.kill(os.getpid(), signal.SIGTERM)  # a graceful stop first (uvicorn handles SIGTERM) …
        threading.Event().wait(_GRACE)
        os._exit(1)  # … and no lingering if it does not come

    threading.Thread(target=stop_when_orphaned, name="zapline-orphan-stop", daemon=True).start()
    sys.argv = [module, *args]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except KeyboardInterrupt:
        return 130
    return 0


def _babysit(argv: list[str], fd: int) -> int:
    child = subprocess.Popen(argv, pass_fds=(fd,))
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda signum, frame: child.send_signal(signum))
    orphaned = threading.Event()
    _on_parent_exit(fd, orphaned)

    def stop_when_orphaned() -> None:
        orphaned.wait()
        child.terminate()

    threading.Thread(target=stop_when_orphaned, name="zapline-orphan-stop", daemon=True).start()
    return child.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m zapline.devtools.signals", description="run a child of a zapline command"
    )
    parser.add_argument("--parent", type=int, required=True, help="the pid this child must not outlive")
    parser.add_argument("--fd", type=int, required=True, help="read end of the parent's lifeline pipe")
    parser.add_argument("--no-pdeathsig", action="store_true", help="rely on the pipe alone")
    parser.add_argument("--module", help="run this Python module in this interpreter (else exec the program)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    prctl = not args.no_pdeathsig and _set_pdeathsig()
    if os.getppid() != args.parent:  # the parent died before prctl took effect
        return 1
    if args.module:
        return _run_module(args.module, command, args.fd)
    if prctl:
        os.execv(command[0], command)
    return _babysit(command, args.fd)


if __name__ == "__main__":
    sys.exit(main())

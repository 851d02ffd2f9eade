"""The sandbox's parts as processes to hurt: kill and restart redis-server and the Upstash REST
bridge on their own ports and data, freeze and thaw Centrifugo.

``zapline sandbox`` records its children's pids and ports in ``<data-dir>/sandbox.json``. A part
restarted here is started exactly as the supervisor starts it (the same ``RedisServer`` with the
same port and data dir, so the same append-only file; ``python -m zapline.sandbox.serve`` with the
same options), through a lifeline of this process, so it stops with this process however it stops.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import time
from pathlib import Path

from zapline.devtools.signals import Lifeline
from zapline.sandbox.redis_server import RedisServer
from zapline.sandbox.serve import OPTIONS_ENV
from zapline.sandbox.supervisor import SERVICES

__all__ = ["Parts", "refused"]

HOST = "127.0.0.1"


def refused(port: int) -> bool:
    """True once nothing listens on ``port`` any more."""
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return False
    except OSError:
        return True


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


class Parts:
    def __init__(self, data_dir: Path, settings: dict[str, str]) -> None:
        state = json.loads((data_dir / "sandbox.json").read_text())
        self.data_dir = data_dir
        self.settings = settings
        self.pids: dict[str, int] = dict(state["pids"])
        self.ports: dict[str, int] = dict(state["ports"])
        self.lifeline = Lifeline()
        self.redis: RedisServer | None = None  # the restarted redis-server, once restarted
        self.upstash: subprocess.Popen[bytes] | None = None  # the restarted bridge, once restarted
        self.frozen: int | None = None

    def _own(self, name: str, *markers: str) -> int:
        """The pid of part ``name``, checked to be that part (never signal a recycled pid)."""
        pid = self.pids[name]
        cmd = " ".join(_cmdline(pid))
        if not all(marker in cmd for marker in markers):
            raise RuntimeError(f"pid {pid} is not the sandbox's {name} (its command line: {cmd[:120]!r})")
        return pid

    # -- redis-server ----------------------------------------------------------------------------

    def kill_redis(self) -> None:
        process = self.redis.process if self.redis else None
        if process is not None:
            process.kill()
            process.wait(10)
        else:
            # redis-server retitles itself "<binary> 127.0.0.1:<port>"
            os.kill(self._own("redis", "-server", str(self.ports["redis"])), signal.SIGKILL)

    def restart_redis(self) -> None:
        """Blocking: the same binary choice, port and data dir (append-only file kept) as the supervisor."""
        self.redis = RedisServer(self.data_dir / "redis", port=self.ports["redis"], host=HOST, lifeline=self.lifeline)
        self.redis.start(timeout=30)

    # -- the Upstash REST bridge -----------------------------------------------------------------

    def kill_upstash(self) -> None:
        if self.upstash is not None:
            self.upstash.kill()
            self.upstash.wait(10)
        else:
            os.kill(self._own("upstash", SERVICES["upstash"].module), signal.SIGKILL)

    def restart_upstash(self, timeout: float = 30.0) -> None:
        """Blocking: ``python -m zapline.sandbox.serve upstash_rest`` with the supervisor's options."""
        port = self.ports["upstash"]
        options = {"redis_url": f"{self.settings['REDIS_URL']}/0", "token": self.settings["UPSTASH_REDIS_REST_TOKEN"]}
        cmd = self.lifeline.python(
            "zapline.sandbox.serve", SERVICES["upstash"].module, "--host", HOST, "--port", str(port)
        )
        self.upstash = proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env={**os.environ, OPTIONS_ENV: json.dumps(options)},
            pass_fds=self.lifeline.pass_fds,
            start_new_session=True,
        )
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if proc.poll() is not None or remaining <= 0:
                raise RuntimeError(f"the restarted Upstash bridge was not ready on port {port} within {timeout}s")
            readable, _, _ = select.select([proc.stdout], [], [], min(remaining, 0.5))
            if readable:
                line = proc.stdout.readline()
                if line and json.loads(line).get("ready"):
                    return

    # -- Centrifugo ------------------------------------------------------------------------------

    def freeze_centrifugo(self) -> None:
        pid = self._own("centrifugo", SERVICES["centrifugo"].module)
        os.kill(pid, signal.SIGSTOP)
        self.frozen = pid

    def thaw_centrifugo(self) -> None:
        if self.frozen is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.frozen, signal.SIGCONT)
            self.frozen = None

    # -- the end ---------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop what this process restarted (after the sandbox stopped, so QStash flushed to redis)."""
        self.thaw_centrifugo()
        if self.upstash is not None:
            if self.upstash.poll() is None:
                self.upstash.terminate()
                try:
                    self.upstash.wait(10)
                except subprocess.TimeoutExpired:
                    self.upstash.kill()
                    self.upstash.wait()
            if self.upstash.stdout:
                self.upstash.stdout.close()
        if self.redis is not None:
            self.redis.stop()
        self.lifeline.close()

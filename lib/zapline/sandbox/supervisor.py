"""Start and stop the whole sandbox: redis-server plus one child process per stand-in.

Ports and generated credentials are kept in ``<data-dir>/sandbox.json`` so that a restarted
sandbox (``zapline dev`` after Ctrl-C) comes back on the same addresses with the same tokens, and
the messages, schedules and data it had accepted still point at something that answers. The pids
are kept there too: a start that finds those ports taken says by whom instead of failing half-way.

Every child stops with this process, even when it is SIGKILLed (see :class:`~zapline.devtools.signals.Lifeline`).
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import select
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zapline.devtools.signals import Lifeline
from zapline.sandbox.redis_server import RedisServer, free_port
from zapline.sandbox.serve import OPTIONS_ENV

__all__ = ["SERVICES", "Sandbox", "SandboxError", "Service"]

# The official `qstash dev` server's published credentials (user 1), so .env files written for it
# keep working against the sandbox. They are public, deterministic and only valid locally.
QSTASH_DEV_TOKEN = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0="
QSTASH_DEV_CURRENT_SIGNING_KEY = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r"
QSTASH_DEV_NEXT_SIGNING_KEY = "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs"

SettingsBuilder = Callable[[str, int, dict[str, str]], dict[str, str]]
OptionsBuilder = Callable[["Sandbox", int], dict[str, Any]]


class SandboxError(RuntimeError):
    """A part of the sandbox failed to start."""


@dataclass(frozen=True)
class Service:
    """One stand-in: the module ``zapline.sandbox.<module>`` run by ``zapline.sandbox.serve``."""

    module: str
    settings: SettingsBuilder  # (host, port, secrets) -> the settings it publishes in the JSON line
    options: OptionsBuilder  # (sandbox, port) -> the options its build() receives


def _upstash_settings(host: str, port: int, s: dict[str, str]) -> dict[str, str]:
    return {"UPSTASH_REDIS_REST_URL": f"http://{host}:{port}", "UPSTASH_REDIS_REST_TOKEN": s["upstash_token"]}


def _upstash_options(sb: Sandbox, port: int) -> dict[str, Any]:
    return {"redis_url": f"{sb.redis.url}/0", "token": sb.secrets["upstash_token"]}


def _qstash_settings(host: str, port: int, s: dict[str, str]) -> dict[str, str]:
    return {
        "QSTASH_URL": f"http://{host}:{port}",
        "QSTASH_TOKEN": s["qstash_token"],
        "QSTASH_CURRENT_SIGNING_KEY": s["qstash_current_signing_key"],
        "QSTASH_NEXT_SIGNING_KEY": s["qstash_next_signing_key"],
        # the hourly tick plans by the sandbox's clock, so moving it moves every organisation's local time
        "ZAPLINE_CLOCK_URL": f"http://{host}:{port}/_sandbox/clock",
    }


def _qstash_options(sb: Sandbox, port: int) -> dict[str, Any]:
    # Database 1: the Upstash REST bridge only ever touches database 0 (FLUSHALL is narrowed to
    # FLUSHDB there), so QStash's messages, schedules and DLQ never mix with application data.
    return {
        "redis_url": f"{sb.redis.url}/1",
        "token": sb.secrets["qstash_token"],
        "current_signing_key": sb.secrets["qstash_current_signing_key"],
        "next_signing_key": sb.secrets["qstash_next_signing_key"],
    }


def _centrifugo_settings(host: str, port: int, s: dict[str, str]) -> dict[str, str]:
    return {
        "CENTRIFUGO_API_URL": f"http://{host}:{port}/api",
        "CENTRIFUGO_API_KEY": s["centrifugo_api_key"],
        "CENTRIFUGO_TOKEN_HMAC_SECRET": s["centrifugo_hmac_secret"],
        "CENTRIFUGO_WS_URL": f"ws://{host}:{port}/connection/websocket",
    }


def _centrifugo_options(sb: Sandbox, port: int) -> dict[str, Any]:
    return {
        "api_key": sb.secrets["centrifugo_api_key"],
        "hmac_secret": sb.secrets["centrifugo_hmac_secret"],
        "config_path": str(sb.centrifugo_config) if sb.centrifugo_config else None,
    }


def _uazapi_settings(host: str, port: int, s: dict[str, str]) -> dict[str, str]:
    return {
        "UAZAPI_URL": f"http://{host}:{port}",
        "UAZAPI_INSTANCE_TOKEN": s["uazapi_instance_token"],
        "UAZAPI_ADMIN_TOKEN": s["uazapi_admin_token"],
    }


def _uazapi_options(sb: Sandbox, port: int) -> dict[str, Any]:
    # Database 2: the simulator's instances, webhooks, messages and sent log survive a restart, out of
    # the app's reach (the Upstash REST bridge only ever touches database 0; QStash has database 1).
    return {
        "redis_url": f"{sb.redis.url}/2",
        "instance_token": sb.secrets["uazapi_instance_token"],
        "admin_token": sb.secrets["uazapi_admin_token"],
        "public_url": f"http://{sb.host}:{port}",
    }


def _openai_settings(host: str, port: int, s: dict[str, str]) -> dict[str, str]:
    return {"OPENAI_BASE_URL": f"http://{host}:{port}/v1", "OPENAI_API_KEY": s["openai_api_key"]}


def _openai_options(sb: Sandbox, port: int) -> dict[str, Any]:
    # Database 3: the stand-in's script and request log survive a restart, out of the app's reach.
    return {"redis_url": f"{sb.redis.url}/3", "api_key": sb.secrets["openai_api_key"]}


SERVICES: dict[str, Service] = {
    "upstash": Service("upstash_rest", _upstash_settings, _upstash_options),
    "qstash": Service("qstash", _qstash_settings, _qstash_options),
    "centrifugo": Service("centrifugo", _centrifugo_settings, _centrifugo_options),
    "uazapi": Service("uazapi", _uazapi_settings, _uazapi_options),
    "openai": Service("openai", _openai_settings, _openai_options),
}


def _default_secrets() -> dict[str, str]:
    return {
        "upstash_token": secrets.token_urlsafe(24),
        "centrifugo_api_key": secrets.token_urlsafe(24),
        "centrifugo_hmac_secret": secrets.token_urlsafe(32),
        "qstash_token": QSTASH_DEV_TOKEN,
        "qstash_current_signing_key": QSTASH_DEV_CURRENT_SIGNING_KEY,
        "qstash_next_signing_key": QSTASH_DEV_NEXT_SIGNING_KEY,
        "uazapi_instance_token": secrets.token_urlsafe(18),
        "uazapi_admin_token": secrets.token_urlsafe(18),
        "openai_api_key": f"sk-sandbox-{secrets.token_urlsafe(24)}",
    }


@dataclass
class Sandbox:
    data_dir: Path
    host: str = "127.0.0.1"
    ports: dict[str, int] = field(default_factory=dict)  # "redis" and service names; 0 or absent = free
    secrets: dict[str, str] = field(default_factory=dict)  # overrides for the generated credentials
    centrifugo_config: Path | None = None
    services: list[str] = field(default_factory=lambda: list(SERVICES))
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _auto_ports: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.data_dir = self.data_dir.resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        saved = self.saved = self._load_state()
        self.secrets = {**_default_secrets(), **saved.get("secrets", {}), **self.secrets}
        self.ports = {**saved.get("ports", {}), **{k: v for k, v in self.ports.items() if v}}
        self.lifeline = Lifeline()
        self.redis = RedisServer(
            self.data_dir / "redis", port=self.ports.get("redis", 0), host=self.host, lifeline=self.lifeline
        )

    @property
    def state_file(self) -> Path:
        return self.data_dir / "sandbox.json"

    def _load_state(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.state_file.read_text()))
        except (FileNotFoundError, ValueError):
            return {}

    def settings(self) -> dict[str, str]:
        out = {"REDIS_URL": self.redis.url}
        for name in self.services:
            out.update(SERVICES[name].settings(self.host, self.ports[name], self.secrets))
        return out

    def start(self, timeout: float = 30.0) -> dict[str, str]:
        """Start everything; return the settings once every part answers."""
        self._check_ports()
        try:
            self.redis.start()
            self.ports["redis"] = self.redis.port
            self.log(f"sandbox: redis-server {self.redis.url} (data in {self.redis.data_dir})")
            for name in self.services:
                self._spawn(name)
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        pids = {"supervisor": os.getpid(), "redis": self.redis.process.pid if self.redis.process else 0}
        pids.update((name, proc.pid) for name, proc in self.children.items())
        self.remember(ports=self.ports, secrets=self.secrets, pids=pids)
        return self.settings()

    def _check_ports(self) -> None:
        """Fail in one line if a port this sandbox must reuse is taken, naming who likely holds it."""
        wanted = {name: port for name in ("redis", *self.services) if (port := self.ports.get(name))}
        taken = {name: port for name, port in wanted.items() if _in_use(self.host, port)}
        if not taken:
            return
        ports = ", ".join(f"{port} ({name})" for name, port in taken.items())
        saved: dict[str, int] = self.saved.get("pids", {})
        alive = [p for p in saved.values() if _alive(p)]
        if saved.get("supervisor") in alive:
            alive = [saved["supervisor"]]  # its children stop with it
        pids = " ".join(map(str, sorted(alive)))
        holder = f"the sandbox of {self.data_dir} still runs: kill {pids}" if alive else "stop what holds them"
        raise SandboxError(f"ports {ports} are taken; {holder}, or pass --data-dir to start another sandbox")

    def remember(self, **values: Any) -> None:
        """Persist ``values`` in the data dir's sandbox.json (mode 0600: it holds tokens)."""
        self.saved = {**self.saved, **values}
        self.state_file.write_text(json.dumps(self.saved, indent=2))
        self.state_file.chmod(0o600)

    def _spawn(self, name: str, *, new_port: bool = False) -> None:
        service = SERVICES[name]
        port = 0 if new_port else self.ports.get(name, 0)
        if not port:  # a free port no other part of this sandbox was given
            taken = set(self.ports.values())
            while not port or port in taken:
                port = free_port(self.host)
            self._auto_ports.add(name)
        self.ports[name] = port
        env = {**os.environ, OPTIONS_ENV: json.dumps(service.options(self, port))}
        cmd = self.lifeline.python("zapline.sandbox.serve", service.module, "--host", self.host, "--port", str(port))
        self.children[name] = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=env,
            pass_fds=self.lifeline.pass_fds,
            start_new_session=True,  # a Ctrl-C in the terminal reaches the supervisor, which stops them in order
        )

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        waiting = dict(self.children)
        respawns = 0
        while waiting:
            for name, proc in list(waiting.items()):
                if proc.poll() is None:
                    continue
                # A port picked as free can be taken by someone else before the child binds it.
                if name in self._auto_ports and respawns < 3:
                    respawns += 1
                    self.log(f"sandbox: {name} could not start on port {self.ports[name]}; trying another")
                    if proc.stdout:
                        proc.stdout.close()
                    self._spawn(name, new_port=True)
                    waiting[name] = self.children[name]
                    continue
                raise SandboxError(f"sandbox {name} exited with {proc.returncode} before it was ready")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SandboxError(f"sandbox parts not ready after {timeout}s: {', '.join(waiting)}")
            streams = {proc.stdout: name for name, proc in waiting.items() if proc.stdout}
            readable, _, _ = select.select(list(streams), [], [], min(remaining, 0.5))
            for stream in readable:
                name = streams[stream]
                line = stream.readline()
                if line and json.loads(line).get("ready") == SERVICES[name].module:
                    self.log(f"sandbox: {name} listening on http://{self.host}:{self.ports[name]}")
                    del waiting[name]

    def stop(self, timeout: float = 10.0) -> None:
        for proc in self.children.values():
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + timeout
        for proc in self.children.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout:
                proc.stdout.close()
        self.children.clear()
        self.redis.stop()


def _in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind: TIME_WAIT is free
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return pid != os.getpid()

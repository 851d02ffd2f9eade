"""Looking at processes and ports from outside, as a user's ``ps`` and ``ss`` would."""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def alive(pids: list[int]) -> list[int]:
    """The pids still running (a zombie waiting for a reaper counts as gone: it holds nothing)."""
    out = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            continue
        if state not in ("Z", "X"):
            out.append(pid)
    return out


def in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def ports(settings: dict[str, str]) -> set[int]:
    """Every port the sandbox's settings point at."""
    return {int(p) for k, v in settings.items() if k.endswith("_URL") and (p := urlsplit(v).port)}


def without_settings() -> dict[str, str]:
    """This environment minus every Zapline setting, so a command must find its own."""
    prefixes = ("UPSTASH_", "QSTASH_", "CENTRIFUGO_", "UAZAPI_", "ZAPLINE_", "APP_URL", "REDIS_URL")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}

"""A whole local stack for benchmarks: sandbox + functions + one tenant, with counters to read."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import redis as redis_py

from tests.support import AppProcess, SandboxProcess, Tenant
from zapline.sandbox.redis_server import free_port

# The figures are the output: the app logs only what went wrong (one INFO line per message would
# bury them under thousands of lines).
APP_LOG_LEVEL = {"ZAPLINE_LOG_LEVEL": "WARNING"}


class Stack:
    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="zapline-bench-")
        self.sandbox = SandboxProcess(Path(self._tmp.name))
        self.settings = self.sandbox.start()
        self.app = AppProcess({**self.settings, **APP_LOG_LEVEL}, free_port())
        self.app.start()
        self.tenant = Tenant({**self.settings, "APP_URL": self.app.url})
        self.redis = redis_py.Redis.from_url(self.settings["REDIS_URL"])

    def close(self) -> None:
        self.redis.close()
        self.app.stop()
        self.sandbox.stop()
        self._tmp.cleanup()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def upstash_stats(self) -> dict[str, int]:
        stats: dict[str, int] = httpx.get(self.settings["UPSTASH_REDIS_REST_URL"] + "/_sandbox/stats").json()
        return stats

    def sandbox_stats(self, url_setting: str, path: str = "/_sandbox/stats") -> dict[str, Any]:
        base = self.settings[url_setting].removesuffix("/api")
        stats: dict[str, Any] = httpx.get(base + path).json()
        return stats

    def redis_commands(self) -> int:
        """Every command redis-server has executed, scripts' inner calls included."""
        stats = self.redis.info("commandstats")
        return sum(int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info")

    def pids(self) -> list[int]:
        """The app and every sandbox process (the load generator is not counted)."""
        assert self.app.proc and self.sandbox.proc
        out = [self.app.proc.pid]
        todo = [self.sandbox.proc.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            children = Path(f"/proc/{pid}/task/{pid}/children")
            if children.exists():
                todo += [int(p) for p in children.read_text().split()]
        return out

    def cpu_seconds(self) -> float:
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime + stime
        return total / tick


def import_samples(statement: str, env: dict[str, str], runs: int) -> list[float]:
    """Wall time of ``statement`` in ``runs`` fresh interpreters, in ms (interpreter start excluded)."""
    code = "import time\nt = time.perf_counter()\n" + statement + "\nprint((time.perf_counter() - t) * 1000)"
    return [float(run_python(code, env).splitlines()[-1]) for _ in range(runs)]


def run_python(code: str, env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def now() -> float:
    return time.perf_counter()

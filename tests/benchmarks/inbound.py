"""Inbound benchmarks: round trips, commands and calls per message; throughput; idle cost; imports.

Pre-signed deliveries go straight to the inbound function (QStash's own cost is measured by the
qstash benchmark), with the whole local stack behind it on this machine's two cores.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from pathlib import Path

import aiohttp

from tests.benchmarks.stack import Stack, import_samples, percentile, run_python
from tests.support import qstash_signature
from zapline.sandbox.uazapi.payloads import Uazapi, body

MESSAGES = 2000
CONCURRENCY = 16
CONTACTS = 200
IDLE_SECONDS = 60

INBOUND = (
    "import importlib.util as u; s = u.spec_from_file_location('inbound', 'functions/inbound.py'); "
    "m = u.module_from_spec(s); s.loader.exec_module(m)"
)
DEPS = (
    "import starlette.applications, starlette.routing, starlette.requests, starlette.responses, httpx, "
    "upstash_redis.asyncio, qstash.receiver; from pydantic import BaseModel"
)
# pydantic loads its schema machinery (~60 ms) when the first model class is defined, not on
# `from pydantic import BaseModel`: "in use" adds one trivial model, as any pydantic user pays.
PYDANTIC_MODEL = "\nclass _Probe(BaseModel):\n    x: int"
FORBIDDEN = ("openai", "cent", "aiohttp", "requests")


def report(name: str, value: float, unit: str) -> None:
    print(f"{name}: {value:.2f} {unit}" if isinstance(value, float) else f"{name}: {value} {unit}", flush=True)


def signed_requests(stack: Stack, count: int, first_contact: int) -> list[tuple[str, bytes, dict[str, str]]]:
    uazapi = Uazapi(token=stack.tenant.token)
    url = f"{stack.app.url}{stack.tenant.inbound_path}"
    key = stack.settings["QSTASH_CURRENT_SIGNING_KEY"]
    start = int(time.time() * 1000)
    out = []
    for i in range(count):
        raw = body(uazapi.text(f"mensagem {i}", contact=str(first_contact + i % CONTACTS), timestamp=start + i))
        headers = {
            "Content-Type": "application/json",
            "Upstash-Signature": qstash_signature(url, raw, key),
            "Upstash-Message-Id": f"msg_bench_{first_contact}_{i}",
            "Upstash-Retried": "0",
        }
        out.append((url, raw, headers))
    return out


async def fire(requests: list[tuple[str, bytes, dict[str, str]]], concurrency: int) -> list[float]:
    latencies: list[float] = []
    queue = list(reversed(requests))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            while queue:
                url, raw, headers = queue.pop()
                started = time.perf_counter()
                async with session.post(url, data=raw, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"inbound answered {response.status}: {await response.text()}")
                latencies.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def per_message_costs(stack: Stack) -> None:
    warm = signed_requests(stack, 1, 5511900000000)
    asyncio.run(fire(warm, 1))  # the function is warm: scripts cached, timezone known
    sample = signed_requests(stack, 50, 5511900000000)
    upstash, commands = stack.upstash_stats(), stack.redis_commands()
    centrifugo = stack.sandbox_stats("CENTRIFUGO_API_URL")
    qstash = stack.sandbox_stats("QSTASH_URL")
    asyncio.run(fire(sample, 1))
    n = len(sample)
    report("redis_round_trips_per_message", (stack.upstash_stats()["requests"] - upstash["requests"]) / n, "requests")
    report("redis_commands_per_message", (stack.redis_commands() - commands) / n, "commands")
    report(
        "centrifugo_calls_per_message",
        (stack.sandbox_stats("CENTRIFUGO_API_URL")["api_requests"] - centrifugo["api_requests"]) / n,
        "calls",
    )
    report(
        "qstash_calls_per_message",
        (stack.sandbox_stats("QSTASH_URL")["api_requests"] - qstash["api_requests"]) / n,
        "calls",
    )


def throughput(stack: Stack) -> None:
    requests = signed_requests(stack, MESSAGES, 5511910000000)
    cpu_before, started = stack.cpu_seconds(), time.perf_counter()
    latencies = asyncio.run(fire(requests, CONCURRENCY))
    elapsed, cpu = time.perf_counter() - started, stack.cpu_seconds() - cpu_before
    report("inbound_msgs_per_s", MESSAGES / elapsed, "msg/s")
    report("inbound_p50_ms", statistics.median(latencies), "ms")
    report("inbound_p99_ms", percentile(latencies, 0.99), "ms")
    report("inbound_cpu_ms_per_message", cpu * 1000 / MESSAGES, "ms")


def idle(stack: Stack) -> None:
    before = stack.upstash_stats()["requests"]
    time.sleep(IDLE_SECONDS)  # measuring idleness itself, not waiting for something
    report(f"idle_upstash_requests_{IDLE_SECONDS}s", stack.upstash_stats()["requests"] - before, "requests")


def imports(stack: Stack) -> None:
    env = {**os.environ, **stack.settings, "APP_URL": stack.app.url}
    inbound: list[float] = []
    deps: list[float] = []
    deps_in_use: list[float] = []
    for _ in range(11):  # interleaved, so all three see the same machine
        inbound += import_samples(INBOUND, env, 1)
        deps += import_samples(DEPS, env, 1)
        deps_in_use += import_samples(DEPS + PYDANTIC_MODEL, env, 1)
    report("inbound_import_ms", statistics.median(inbound), "ms")
    report("deps_import_ms", statistics.median(deps), "ms")
    report("deps_in_use_import_ms", statistics.median(deps_in_use), "ms")
    report("inbound_over_deps", statistics.median(inbound) / statistics.median(deps), "x")
    report("inbound_over_deps_in_use", statistics.median(inbound) / statistics.median(deps_in_use), "x")
    loaded = run_python(INBOUND + f"; import sys; print(sum(m in sys.modules for m in {FORBIDDEN!r}))", env)
    report("inbound_heavy_modules_imported", int(loaded), f"of {'/'.join(FORBIDDEN)}")


def main() -> None:
    os.chdir(Path(__file__).resolve().parents[2])
    with Stack() as stack:
        per_message_costs(stack)
        throughput(stack)
        imports(stack)
        idle(stack)


if __name__ == "__main__":
    main()

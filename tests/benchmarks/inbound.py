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


def signed_requests(
    stack: Stack, count: int, first_contact: int, contacts: int = CONTACTS
) -> list[tuple[str, bytes, dict[str, str]]]:
    """``count`` pre-signed deliveries from ``contacts`` customers taking turns."""
    uazapi = Uazapi(token=stack.tenant.token)
    url = f"{stack.app.url}{stack.tenant.inbound_path}"
    key = stack.settings["QSTASH_CURRENT_SIGNING_KEY"]
    start = int(time.time() * 1000)
    out = []
    for i in range(count):
        contact = str(first_contact + i % contacts)
        raw = body(uazapi.text(f"mensagem {i}", contact=contact, timestamp=start + i))
        headers = {
            "Content-Type": "application/json",
            "Upstash-Signature": qstash_signature(url, raw, key),
            "Upstash-Message-Id": f"msg_bench_{first_contact}_{i}_{start}",
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


def _costs(stack: Stack, requests: list[tuple[str, bytes, dict[str, str]]]) -> tuple[float, float, float, float]:
    """Per message: REST requests to Redis, commands Redis ran, Centrifugo calls, QStash calls."""
    upstash, commands = stack.upstash_stats()["requests"], stack.redis_commands()
    centrifugo = stack.sandbox_stats("CENTRIFUGO_API_URL")["api_requests"]
    qstash = stack.sandbox_stats("QSTASH_URL")["api_requests"]
    asyncio.run(fire(requests, 1))
    n = len(requests)
    return (
        (stack.upstash_stats()["requests"] - upstash) / n,
        (stack.redis_commands() - commands) / n,
        (stack.sandbox_stats("CENTRIFUGO_API_URL")["api_requests"] - centrifugo) / n,
        (stack.sandbox_stats("QSTASH_URL")["api_requests"] - qstash) / n,
    )


def per_message_costs(stack: Stack) -> None:
    # Warm function, ten customers with open conversations; then 50 more of their messages.
    asyncio.run(fire(signed_requests(stack, 10, 5511900000000, contacts=10), 1))
    trips, commands, centrifugo, qstash = _costs(stack, signed_requests(stack, 50, 5511900000000, contacts=10))
    report("redis_round_trips_per_message", trips, "requests")
    report("redis_commands_per_message", commands, "commands")
    report("centrifugo_calls_per_message", centrifugo, "calls")
    report("qstash_calls_per_message", qstash, "calls")
    # The first message of a new customer also creates the lead and the conversation.
    trips, commands, _, _ = _costs(stack, signed_requests(stack, 20, 5511905000000, contacts=20))
    report("redis_round_trips_per_first_message", trips, "requests")
    report("redis_commands_per_first_message", commands, "commands")


def throughput(stack: Stack) -> None:
    requests = signed_requests(stack, MESSAGES, 5511910000000)
    cpu_before, started = stack.cpu_seconds(), time.perf_counter()
    latencies = asyncio.run(fire(requests, CONCURRENCY))
    elapsed, cpu = time.perf_counter() - started, stack.cpu_seconds() - cpu_before
    report("inbound_msgs_per_s", MESSAGES / elapsed, "msg/s")
    report(
        "inbound_saturation_p50_ms",
        statistics.median(latencies),
        f"ms ({CONCURRENCY} concurrent deliveries, as fast as it goes)",
    )
    report("inbound_saturation_p99_ms", percentile(latencies, 0.99), "ms")
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

"""The sandbox QStash's delivery rate and added latency: ``python -m tests.benchmarks qstash``.

Starts its own sandbox (a temporary data directory) and a trivial endpoint on 127.0.0.1, then
publishes one ``POST /v2/publish/<endpoint>`` per message, as UAZAPI webhooks arrive:

* throughput: ``COUNT`` messages from ``CONCURRENCY`` concurrent publishers; deliveries per second
  from the first publish to the last delivery;
* latency: ``LATENCY_COUNT`` messages from ``LATENCY_CONCURRENCY`` publishers (a load the sandbox
  keeps up with, so queueing in the benchmark itself does not count); p50/p99 of the time from the
  start of each publish to its arrival at the endpoint.

Loopback only; bounded in count and time (``DEADLINE_S`` per phase).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from tests.support import SandboxProcess

COUNT = int(os.environ.get("QSTASH_BENCH_COUNT", "5000"))
CONCURRENCY = int(os.environ.get("QSTASH_BENCH_CONCURRENCY", "64"))
LATENCY_COUNT = 1000
LATENCY_CONCURRENCY = 4
WARMUP = 200
DEADLINE_S = 120.0


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class _Phase:
    """Publish ``count`` messages from ``concurrency`` publishers; record start and arrival times."""

    def __init__(self, url: str, token: str, count: int, concurrency: int) -> None:
        self.publish_url = url
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/plain"}
        self.count = count
        self.concurrency = concurrency
        self.started: dict[int, float] = {}
        self.arrivals: dict[int, float] = {}
        self.done = asyncio.Event()

    def arrived(self, index: int) -> None:
        self.arrivals.setdefault(index, time.perf_counter())
        if len(self.arrivals) >= self.count:
            self.done.set()

    async def run(self, session: aiohttp.ClientSession) -> None:
        indices = iter(range(self.count))

        async def publisher() -> None:
            for index in indices:
                self.started[index] = time.perf_counter()
                async with session.post(self.publish_url, data=str(index), headers=self.headers) as response:
                    if response.status != 200:
                        raise RuntimeError(f"publish failed: {response.status} {await response.text()}")

        await asyncio.gather(*(publisher() for _ in range(self.concurrency)))
        await asyncio.wait_for(self.done.wait(), DEADLINE_S)

    def rate(self) -> float:
        return self.count / (max(self.arrivals.values()) - min(self.started.values()))

    def latencies_ms(self) -> list[float]:
        return [(self.arrivals[i] - self.started[i]) * 1000 for i in range(self.count)]


async def _run(settings: dict[str, str]) -> tuple[float, float, float]:
    current: list[_Phase] = []

    async def receive(request: web.Request) -> web.Response:
        current[0].arrived(int(await request.read()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"{settings['QSTASH_URL']}/v2/publish/http://127.0.0.1:{runner.addresses[0][1]}/hook"
    token = settings["QSTASH_TOKEN"]
    phases = [
        _Phase(url, token, WARMUP, 8),  # warm connections and caches
        _Phase(url, token, COUNT, CONCURRENCY),
        _Phase(url, token, LATENCY_COUNT, LATENCY_CONCURRENCY),
    ]
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:
            for phase in phases:
                current[:] = [phase]
                await phase.run(session)
    finally:
        await runner.cleanup()
    latencies = phases[2].latencies_ms()
    return phases[1].rate(), _percentile(latencies, 0.5), _percentile(latencies, 0.99)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="zapline-bench-qstash-") as data_dir:
        sandbox = SandboxProcess(Path(data_dir))
        settings = sandbox.start()
        try:
            rate, p50, p99 = asyncio.run(_run(settings))
        finally:
            sandbox.stop()
    print(f"qstash_deliveries_per_s: {rate:.0f} msg/s")
    print(f"qstash_delivery_p50_ms: {p50:.1f} ms")
    print(f"qstash_delivery_p99_ms: {p99:.1f} ms")


if __name__ == "__main__":
    main()

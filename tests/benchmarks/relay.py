"""What the ingress relay (the default webhook URL) adds over UAZAPI → QStash directly.

Both paths end in the same QStash publish to the inbound function; the relay puts one function
call and one Redis read (the instance check) in front of it. Measured in one run, interleaved:
- ``*_answer_ms``: what UAZAPI waits for (the relay answers only once QStash accepted);
- ``*_live_ms``: webhook sent → the message's live update received over Centrifugo;
- ``relay_redis_commands_per_message`` and ``relay_qstash_publishes_per_message``: what it bills.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from functools import partial
from pathlib import Path

import httpx

from tests.benchmarks.inbound import report
from tests.benchmarks.stack import Stack, percentile
from tests.live import LiveInbox, Publication
from zapline.sandbox.uazapi.payloads import Uazapi, body, wa_id

MESSAGES = 200  # per path


def shows_message(wa_id: str, channel: str, data: Publication) -> bool:
    return bool(data.get("message", {}).get("wa_id") == wa_id)


async def _run(stack: Stack) -> dict[str, list[float]]:
    tenant = stack.tenant
    uazapi = Uazapi(token=tenant.token)
    paths = {"relay": tenant.webhook_url, "direct": tenant.direct_url}
    figures: dict[str, list[float]] = {f"{p}_{m}": [] for p in paths for m in ("answer", "live")}
    async with LiveInbox(stack.app.url, tenant.api_key) as inbox, httpx.AsyncClient(timeout=30) as http:
        for i in range(MESSAGES * 2):
            name = "relay" if i % 2 == 0 else "direct"  # interleaved: both see the same machine
            mid = wa_id()
            raw = body(uazapi.text(f"relay bench {i}", contact=str(5511930000000 + i % 20), message_id=mid))
            started = time.perf_counter()
            answer = await http.post(paths[name], content=raw, headers={"Content-Type": "application/json"})
            answered = time.perf_counter()
            if answer.status_code not in (200, 201):
                raise RuntimeError(f"{name} answered {answer.status_code}: {answer.text}")
            await inbox.expect(partial(shows_message, mid))
            figures[f"{name}_answer"].append((answered - started) * 1000)
            figures[f"{name}_live"].append((time.perf_counter() - started) * 1000)
    return figures


def _relay_costs(stack: Stack) -> tuple[float, float]:
    """Per relayed webhook: Redis commands of the relay's instance check (measured on bodies it
    refuses, so no delivery's commands mix in) and QStash API requests (its publish)."""
    tenant = stack.tenant
    uazapi = Uazapi(token=tenant.token)
    count = 50
    with httpx.Client(timeout=30) as http:
        before = stack.redis_commands()
        for _ in range(count):
            http.post(tenant.webhook_url, json={"EventType": "messages", "token": "not-the-token"})
        check = (stack.redis_commands() - before) / count
        qstash = stack.sandbox_stats("QSTASH_URL")["api_requests"]
        for i in range(count):
            raw = body(uazapi.text(f"cost {i}", contact="5511931000000"))
            http.post(tenant.webhook_url, content=raw, headers={"Content-Type": "application/json"})
        publishes = (stack.sandbox_stats("QSTASH_URL")["api_requests"] - qstash) / count
    return check, publishes


def main() -> None:
    os.chdir(Path(__file__).resolve().parents[2])
    with Stack() as stack:
        figures = asyncio.run(_run(stack))
        for name, values in figures.items():
            report(f"{name}_p50_ms", statistics.median(values), "ms")
            report(f"{name}_p99_ms", percentile(values, 0.99), "ms")
        added = statistics.median(figures["relay_answer"]) - statistics.median(figures["direct_answer"])
        report("relay_added_answer_ms", added, "ms (p50, relay minus direct)")
        added = statistics.median(figures["relay_live"]) - statistics.median(figures["direct_live"])
        report("relay_added_live_ms", added, "ms (p50, relay minus direct)")
        check, publishes = _relay_costs(stack)
        report("relay_redis_commands_per_message", check, "commands (the instance check)")
        report("relay_qstash_publishes_per_message", publishes, "requests (the same one publish as direct)")


if __name__ == "__main__":
    main()

"""Zapline's inbound path next to the same work as a BullMQ worker, on ONE redis-server, in one run.

``make bench-peers`` (or ``python -m tests.benchmarks peers``; needs Node.js and ``npm ci`` in
tests/peers). The work per message, both sides: deduplicate on the WhatsApp id, upsert the lead and
the conversation, store the message, count the day, then one live update (Zapline: its Centrifugo
broadcast; BullMQ: one HTTP POST to the same sandbox Centrifugo broadcast API).

- Zapline: ``MESSAGES`` pre-signed QStash deliveries to a ``zapline serve`` process, ``CONCURRENCY``
  at a time (QStash itself is not in the path; it is billed per message, not per Redis command).
- BullMQ: tests/peers/worker.mjs — a producer process adds ``MESSAGES`` jobs (a realistic UAZAPI
  webhook body each, one ``Queue.add`` per webhook) while a Worker process (concurrency
  ``CONCURRENCY``) takes them. Its data lives in Redis database ``BULLMQ_DB`` of the same server.

Printed for both: Redis commands per message (INFO commandstats deltas: counted by the server,
scripts' inner calls included), round trips per message (Zapline: REST requests to the Upstash
stand-in; BullMQ: socket writes of every ioredis client, counted in the Node process), Redis
commands per idle minute, messages/s.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from tests.benchmarks.inbound import fire, report, signed_requests
from tests.benchmarks.stack import Stack
from zapline.sandbox.uazapi.payloads import Uazapi, body

MESSAGES = int(os.environ.get("PEERS_BENCH_MESSAGES", "2000"))
CONCURRENCY = 5
CONTACTS = 200
IDLE_SECONDS = int(os.environ.get("PEERS_BENCH_IDLE_SECONDS", "60"))
BULLMQ_DB = 3  # the sandbox keeps Zapline in 0, QStash in 1, UAZAPI in 2
PEERS = Path(__file__).resolve().parents[1] / "peers"
DEADLINE_S = 300.0
# Our own reads of the server's counters, never counted as work.
OBSERVER = ("cmdstat_info", "cmdstat_client|list", "cmdstat_ping")


def server_commands(stack: Stack) -> int:
    """Every command redis-server executed (scripts' inner calls included), our observers excepted."""
    stats = stack.redis.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k not in OBSERVER)


def client_ids(stack: Stack) -> set[int]:
    return {int(c["id"]) for c in stack.redis.client_list()}


def clients_commands(stack: Stack, ids: set[int]) -> int:
    """``tot-cmds`` summed over the given connections (the server's per-connection count)."""
    return sum(int(c.get("tot-cmds", 0)) for c in stack.redis.client_list() if int(c["id"]) in ids)


def zapline_phase(stack: Stack) -> dict[str, float]:
    asyncio.run(fire(signed_requests(stack, 20, 5511940000000, contacts=20), 1))  # warm
    requests = signed_requests(stack, MESSAGES, 5511941000000, contacts=CONTACTS)
    rest, commands, started = stack.upstash_stats(), server_commands(stack), time.perf_counter()
    asyncio.run(fire(requests, CONCURRENCY))
    elapsed = time.perf_counter() - started
    after = stack.upstash_stats()
    return {
        "commands": (server_commands(stack) - commands) / MESSAGES,
        "round_trips": (after["requests"] - rest["requests"]) / MESSAGES,
        "msgs_per_s": MESSAGES / elapsed,
    }


def _bodies(stack: Stack, path: Path) -> None:
    uazapi = Uazapi(token=stack.tenant.token)
    start = int(time.time() * 1000)
    with path.open("wb") as out:
        for i in range(MESSAGES):
            contact = str(5511951000000 + i % CONTACTS)
            out.write(body(uazapi.text(f"mensagem {i}", contact=contact, timestamp=start + i)) + b"\n")


def _answer(stream: IO[str], deadline: float) -> dict[str, Any]:
    import select

    ready, _, _ = select.select([stream], [], [], deadline)
    line = stream.readline() if ready else ""
    if not line:
        raise RuntimeError("the BullMQ worker did not answer in time")
    answer: dict[str, Any] = json.loads(line)
    return answer


def bullmq_phase(stack: Stack, tmp: Path) -> dict[str, float]:
    redis_url = urlsplit(stack.settings["REDIS_URL"])._replace(path=f"/{BULLMQ_DB}").geturl()
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "CENTRIFUGO_API_URL": stack.settings["CENTRIFUGO_API_URL"],
        "CENTRIFUGO_API_KEY": stack.settings["CENTRIFUGO_API_KEY"],
        "ORG_ID": stack.tenant.org_id,
        "WORKER_CONCURRENCY": str(CONCURRENCY),
    }
    bodies = tmp / "bodies.jsonl"
    _bodies(stack, bodies)
    node = shutil.which("node") or "node"
    before_ids = client_ids(stack)
    worker = subprocess.Popen(
        [node, "worker.mjs", "work"], cwd=PEERS, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert worker.stdin and worker.stdout
    out: dict[str, float] = {}
    try:
        _answer(worker.stdout, 30)  # ready
        worker_ids = client_ids(stack) - before_ids

        def ask(cmd: str, deadline: float = 30) -> dict[str, Any]:
            assert worker.stdin and worker.stdout
            worker.stdin.write(cmd + "\n")
            worker.stdin.flush()
            return _answer(worker.stdout, deadline)

        # Idle: the worker waits for jobs that do not come.
        server, counted, tot = server_commands(stack), ask("counters"), clients_commands(stack, worker_ids)
        time.sleep(IDLE_SECONDS)  # measuring idleness itself
        out["idle_server"] = server_commands(stack) - server
        out["idle_worker_counted"] = ask("counters")["commands"] - counted["commands"]
        out["idle_worker_tot_cmds"] = clients_commands(stack, worker_ids) - tot

        # Work: the producer adds every job (one Queue.add per webhook) while the worker takes them.
        server, counted, started = server_commands(stack), ask("counters"), time.perf_counter()
        produced = subprocess.run(
            [node, "worker.mjs", "produce", str(bodies)],
            cwd=PEERS,
            env=env,
            capture_output=True,
            text=True,
            timeout=DEADLINE_S,
            check=True,
        )
        done = ask(f"wait {MESSAGES}", DEADLINE_S)
        elapsed = time.perf_counter() - started
        producer = json.loads(produced.stdout.strip().splitlines()[-1])
        out["commands"] = (server_commands(stack) - server) / MESSAGES
        out["producer_commands"] = producer["commands"] / MESSAGES
        out["worker_commands"] = (done["commands"] - counted["commands"]) / MESSAGES
        out["producer_round_trips"] = producer["round_trips"] / MESSAGES
        out["worker_round_trips"] = (done["round_trips"] - counted["round_trips"]) / MESSAGES
        out["msgs_per_s"] = MESSAGES / elapsed
        out["produce_per_s"] = MESSAGES / (producer["ms"] / 1000)
        ask("close")
    finally:
        if worker.poll() is None:
            worker.terminate()
        worker.wait(10)
    return out


def idle_baseline(stack: Stack) -> tuple[int, int]:
    """Zapline idle (no worker exists): REST requests, and what the server ran (the stand-ins' own)."""
    rest, server = stack.upstash_stats()["requests"], server_commands(stack)
    time.sleep(IDLE_SECONDS)  # measuring idleness itself
    return stack.upstash_stats()["requests"] - rest, server_commands(stack) - server


def main() -> None:
    os.chdir(Path(__file__).resolve().parents[2])
    if not (PEERS / "node_modules" / "bullmq").exists():
        raise SystemExit("tests/peers/node_modules is missing: run `make bench-peers` (it runs npm ci)")
    version = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    bullmq = json.loads((PEERS / "node_modules" / "bullmq" / "package.json").read_text())["version"]
    with Stack() as stack, tempfile.TemporaryDirectory(prefix="zapline-bench-peers-") as tmp:
        redis_version = stack.redis.info("server").get("valkey_version") or stack.redis.info("server")["redis_version"]
        print(
            f"# one redis-server (v{redis_version}); Node {version}, bullmq {bullmq}; {MESSAGES} messages "
            f"from {CONTACTS} contacts each; concurrency {CONCURRENCY} each",
            flush=True,
        )
        zapline = zapline_phase(stack)
        zapline_idle_rest, standins_idle = idle_baseline(stack)
        bull = bullmq_phase(stack, Path(tmp))
    report("zapline_redis_commands_per_message", zapline["commands"], "commands (server-counted, inner calls included)")
    report("bullmq_redis_commands_per_message", bull["commands"], "commands (server-counted, producer + worker)")
    report("bullmq_producer_commands_per_message", bull["producer_commands"], "commands (client-counted)")
    report("bullmq_worker_commands_per_message", bull["worker_commands"], "commands (client-counted, scripts = 1)")
    report("zapline_round_trips_per_message", zapline["round_trips"], "REST requests")
    report(
        "bullmq_round_trips_per_message",
        bull["producer_round_trips"] + bull["worker_round_trips"],
        f"socket writes (producer {bull['producer_round_trips']:.2f} + worker {bull['worker_round_trips']:.2f})",
    )
    scale = 60 / IDLE_SECONDS
    report("zapline_idle_redis_requests_per_minute", zapline_idle_rest * scale, "REST requests")
    report("sandbox_idle_redis_commands_per_minute", standins_idle * scale, "commands (the stand-ins' own, no worker)")
    report(
        "bullmq_idle_redis_commands_per_minute",
        max(0.0, bull["idle_server"] - standins_idle) * scale,
        "commands (server-counted, minus the stand-ins' own)",
    )
    report("bullmq_idle_worker_commands_per_minute", bull["idle_worker_counted"] * scale, "commands (client-counted)")
    report(
        "bullmq_idle_worker_tot_cmds_per_minute",
        bull["idle_worker_tot_cmds"] * scale,
        "commands (the server's tot-cmds of the worker's connections)",
    )
    report("zapline_msgs_per_s", zapline["msgs_per_s"], "msg/s (signed deliveries → zapline serve)")
    report("bullmq_msgs_per_s", bull["msgs_per_s"], "msg/s (first Queue.add → last job completed)")
    report("bullmq_produce_per_s", bull["produce_per_s"], "jobs/s (Queue.add, one at a time)")


if __name__ == "__main__":
    main()

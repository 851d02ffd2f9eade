"""What one message costs, per function: CPU, cold start, latency at a fixed load, Redis memory and
billed commands, and dollars: ``python -m tests.benchmarks costs``.

One local stack (sandbox + ONE ``zapline serve`` process serving every function, as ``make dev``
routes them). CPU figures read ``/proc/<pid>/stat`` (utime + stime) of that serve process and its
descendants only: the stand-ins (Redis, the Upstash REST bridge, QStash, Centrifugo, UAZAPI) and the
load generator are NOT counted. Everything on 127.0.0.1, bounded in count and time.

Phases, in order:
1. ``cold_start_<function>_ms``: a fresh ``python -c`` imports ``functions/<function>.py`` and answers
   its first ``GET /health`` through ``httpx.ASGITransport`` (interpreter start excluded: it is
   printed alone as ``python_startup_ms``); ``cold_start_inbound_first_delivery_ms`` answers a real
   signed delivery instead (its Redis script and Centrifugo broadcast included). Median of ``RUNS``.
2. ``function_cpu_ms_per_message``: ``CPU_MESSAGES`` pre-signed inbound deliveries, one at a time.
3. ``send_job_cpu_ms_per_message``: ``SEND_MESSAGES`` pending outbound messages (stored with
   ``create_outbound`` in a process configured like the app), then a pre-signed ``/api/jobs/send``
   delivery for each, one at a time (each calls the UAZAPI simulator and broadcasts once).
4. ``redis_bytes_per_message`` and ``billed_redis_commands_per_message``: ``MEMORY_MESSAGES``
   pre-signed deliveries from ``CONTACTS`` customers.
5. ``inbound_p50_ms`` / ``inbound_p99_ms``: open loop at ``RATE`` deliveries/s for ``LOAD_SECONDS``:
   a pre-signed delivery's start → the live update received by a centrifuge-python subscriber
   (the inbound function, Redis and Centrifugo; QStash's hop left out: it is QStash's, not ours).
6. ``usd_per_100k_messages``: the relay path (the default webhook URL) one webhook at a time:
   QStash messages counted at the QStash stand-in, billed Redis commands (REST commands + inner
   calls), and GB-seconds = (relay + inbound mean wall time) × ``FUNCTION_MEMORY_GB``, at ``PRICES``.
7. ``relay_path_p50_ms`` / ``relay_path_p99_ms``: the whole local path at ``RATE`` webhooks/s for
   ``RELAY_LOAD_SECONDS`` (relay → sandbox QStash → inbound → Centrifugo → subscriber), from the
   relay's 2xx; webhooks the relay refuses under that load are counted (``relay_path_refused``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, TypedDict

import httpx

from tests.benchmarks.inbound import fire, report
from tests.benchmarks.stack import Stack, percentile
from tests.live import LiveInbox
from tests.support import Tenant, qstash_signature, run_in_app_env, wait_until
from zapline.sandbox.uazapi.payloads import Uazapi, body, wa_id

RUNS = 7
CPU_MESSAGES = 1000
SEND_MESSAGES = 300
MEMORY_MESSAGES = 10_000
CONTACTS = 200
RATE = 100  # webhooks per second, offered on a fixed schedule (open loop)
LOAD_SECONDS = 20
RELAY_LOAD_SECONDS = 10
RELAY_QUIET = 100
DRAIN_S = 60.0
FUNCTION_MEMORY_GB = 1.0  # 1024 MB configured per function (an assumption: vercel.json sets none)
FUNCTIONS = ("inbound", "ingress", "jobs", "cron", "failures", "admin")


# Published prices as of 2026-11 per the reference notes (shared/reference/peers.md §3.3) and the
# brief; never fetched by this benchmark. Pay-as-you-go, no free tier subtracted.
class Prices(TypedDict):
    as_of: str
    source: str
    qstash_usd_per_message: float
    redis_usd_per_command: float
    lambda_usd_per_gb_s: float
    lambda_usd_per_request: float


PRICES: Prices = {
    "as_of": "2026-11",
    "source": "published prices per the reference notes (peers.md §3.3) / README; not fetched",
    "qstash_usd_per_message": 1.00 / 100_000,  # Upstash QStash PAYG: $1 per 100K messages
    "redis_usd_per_command": 0.20 / 100_000,  # Upstash Redis PAYG: $0.2 per 100K commands
    "lambda_usd_per_gb_s": 0.0000166667,  # AWS Lambda x86: per GB-second
    "lambda_usd_per_request": 0.20 / 1_000_000,  # AWS Lambda: $0.20 per 1M requests
}
# What the benchmark itself asks redis-server, never counted as work.
OBSERVER = ("cmdstat_info", "cmdstat_memory|usage", "cmdstat_scan", "cmdstat_client|list")

Request = tuple[str, bytes, dict[str, str]]


# --- helpers ----------------------------------------------------------------------------------------


def app_pids(stack: Stack) -> list[int]:
    """The ``zapline serve`` process and its descendants (none expected): the functions alone."""
    assert stack.app.proc
    out, todo = [], [stack.app.proc.pid]
    while todo:
        pid = todo.pop()
        out.append(pid)
        children = Path(f"/proc/{pid}/task/{pid}/children")
        if children.exists():
            todo += [int(p) for p in children.read_text().split()]
    return out


def app_cpu_seconds(stack: Stack) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in app_pids(stack):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / tick


def server_commands(stack: Stack) -> int:
    stats = stack.redis.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k not in OBSERVER)


def signed(url: str, raw: bytes, key: str, message_id: str) -> Request:
    headers = {
        "Content-Type": "application/json",
        "Upstash-Signature": qstash_signature(url, raw, key),
        "Upstash-Message-Id": message_id,
        "Upstash-Retried": "0",
    }
    return url, raw, headers


def inbound_requests(stack: Stack, tenant: Tenant, count: int, first_contact: int, contacts: int) -> list[Request]:
    """``count`` pre-signed deliveries from ``contacts`` customers taking turns (WhatsApp ids in bodies)."""
    uazapi = Uazapi(token=tenant.token)
    url = f"{stack.app.url}{tenant.inbound_path}"
    key = stack.settings["QSTASH_CURRENT_SIGNING_KEY"]
    start = int(time.time() * 1000)
    out = []
    for i in range(count):
        raw = body(
            uazapi.text(
                f"mensagem {i}", contact=str(first_contact + i % contacts), timestamp=start + i, message_id=wa_id()
            )
        )
        out.append(signed(url, raw, key, f"msg_cost_{first_contact}_{i}_{start}"))
    return out


def timed_fire(requests: list[Request], concurrency: int) -> list[float]:
    return asyncio.run(fire(requests, concurrency))


# --- 1. cold starts -----------------------------------------------------------------------------------

COLD = """import time
t = time.perf_counter()
import asyncio, importlib.util as u, json, os, sys
s = u.spec_from_file_location({name!r}, 'functions/{name}.py'); m = u.module_from_spec(s); s.loader.exec_module(m)
import httpx
req = json.loads(os.environ['COLD_REQUEST'])
async def first():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=m.app), base_url=req['base']) as c:
        r = await c.request(req['method'], req['path'], content=req['body'].encode(), headers=req['headers'])
        assert r.status_code == 200, (r.status_code, r.text)
asyncio.run(first())
print((time.perf_counter() - t) * 1000)
"""


def _cold(name: str, env: dict[str, str], request: dict[str, Any]) -> float:
    out = subprocess.run(
        [sys.executable, "-c", COLD.format(name=name)],
        env={**env, "COLD_REQUEST": json.dumps(request)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def cold_starts(stack: Stack) -> None:
    env = {**os.environ, **stack.settings, "APP_URL": stack.app.url, "ZAPLINE_LOG_LEVEL": "WARNING"}
    health = {"base": stack.app.url, "method": "GET", "path": "/health", "body": "", "headers": {}}
    samples: dict[str, list[float]] = {name: [] for name in (*FUNCTIONS, "inbound_first_delivery", "python")}
    for run in range(RUNS):  # interleaved, so every function sees the same machine
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
        samples["python"].append((time.perf_counter() - started) * 1000)
        for name in FUNCTIONS:
            samples[name].append(_cold(name, env, health))
        url, raw, headers = inbound_requests(stack, stack.tenant, 1, 5511960000000 + run, 1)[0]
        delivery = {
            "base": stack.app.url,
            "method": "POST",
            "path": stack.tenant.inbound_path,
            "body": raw.decode(),
            "headers": headers,
        }
        samples["inbound_first_delivery"].append(_cold("inbound", env, delivery))
    report("python_startup_ms", statistics.median(samples.pop("python")), "ms (bare `python -c pass`, wall)")
    for name, values in samples.items():
        what = "import + first signed delivery" if name == "inbound_first_delivery" else "import + first GET /health"
        report(
            f"cold_start_{name}_ms",
            statistics.median(values),
            f"ms (median of {RUNS}; {what}; interpreter start excluded)",
        )


# --- 2./3. CPU per invocation -------------------------------------------------------------------------


def inbound_cpu(stack: Stack) -> float:
    timed_fire(inbound_requests(stack, stack.tenant, 50, 5511961000000, 10), 1)  # warm
    requests = inbound_requests(stack, stack.tenant, CPU_MESSAGES, 5511961000000, 10)
    cpu = app_cpu_seconds(stack)
    latencies = timed_fire(requests, 1)
    report(
        "function_cpu_ms_per_message",
        (app_cpu_seconds(stack) - cpu) * 1000 / CPU_MESSAGES,
        f"ms (inbound; pid(s) {app_pids(stack)} = zapline serve only; {CPU_MESSAGES} signed deliveries)",
    )
    wall = statistics.fmean(latencies)
    report("inbound_invocation_wall_ms", wall, "ms (mean; signed delivery sent → 200 received, 1 at a time)")
    return wall


async def create_pending_many(org_id: str, conversation_id: str, prefix: str, count: int) -> None:
    """Store ``count`` pending outbound messages (run by :func:`run_in_app_env`)."""
    from zapline.clients import aclose_clients
    from zapline.store.outbound import create_outbound

    try:
        for i in range(count):
            message = {"id": f"{prefix}{i:05d}", "kind": "text", "text": f"resposta {i}", "lane": "realtime"}
            await create_outbound(org_id, conversation_id, message, preview=message["text"], restart_followups=False)
    finally:
        await aclose_clients()


def send_cpu(stack: Stack) -> float:
    # An organisation whose instance lives in the UAZAPI simulator, NOT connected: the simulator's
    # echoes and receipts would otherwise come back to this same process as webhooks.
    token = f"sim-cost-{os.getpid()}"
    httpx.post(f"{stack.settings['UAZAPI_URL']}/_sandbox/instances", json={"token": token, "owner": "5511999990000"})
    tenant = Tenant({**stack.settings, "APP_URL": stack.app.url}, name="Send", token=token)
    timed_fire(inbound_requests(stack, tenant, 1, 5511962000000, 1), 1)
    conversation = tenant.api("/conversations").json()["items"][0]["id"]
    prefix = f"msg_{os.urandom(4).hex()}"
    run_in_app_env(
        stack.app, "tests.benchmarks.costs:create_pending_many", tenant.org_id, conversation, prefix, SEND_MESSAGES + 20
    )
    url, key = f"{stack.app.url}/api/jobs/send", stack.settings["QSTASH_CURRENT_SIGNING_KEY"]
    jobs = [
        signed(
            url,
            json.dumps({"org_id": tenant.org_id, "message_id": f"{prefix}{i:05d}"}).encode(),
            key,
            f"msg_send_{prefix}_{i}",
        )
        for i in range(SEND_MESSAGES + 20)
    ]
    timed_fire(jobs[:20], 1)  # warm
    cpu = app_cpu_seconds(stack)
    latencies = timed_fire(jobs[20:], 1)
    report(
        "send_job_cpu_ms_per_message",
        (app_cpu_seconds(stack) - cpu) * 1000 / SEND_MESSAGES,
        f"ms (jobs/send; zapline serve only, UAZAPI simulator excluded; {SEND_MESSAGES} deliveries)",
    )
    wall = statistics.fmean(latencies)
    report("send_job_invocation_wall_ms", wall, "ms (mean; includes the UAZAPI simulator's /send/text answer)")
    return wall


# --- 4. memory and billed commands --------------------------------------------------------------------


def _db0_key_bytes(stack: Stack) -> int:
    total = 0
    keys = list(stack.redis.scan_iter(count=1000))
    for start in range(0, len(keys), 500):
        pipe = stack.redis.pipeline(transaction=False)
        for key in keys[start : start + 500]:
            pipe.memory_usage(key, samples=0)
        total += sum(v or 0 for v in pipe.execute())
    return total


def memory_and_commands(stack: Stack) -> float:
    requests = inbound_requests(stack, stack.tenant, MEMORY_MESSAGES, 5511970000000, CONTACTS)
    used, keys = int(stack.redis.info("memory")["used_memory"]), _db0_key_bytes(stack)
    rest, commands = stack.upstash_stats(), server_commands(stack)
    timed_fire(requests, 8)
    after = stack.upstash_stats()
    n = MEMORY_MESSAGES
    all_commands = (server_commands(stack) - commands) / n
    rest_commands = (after["commands"] - rest["commands"]) / n
    report(
        "redis_bytes_per_message",
        (int(stack.redis.info("memory")["used_memory"]) - used) / n,
        f"bytes (INFO memory used_memory delta / {n} messages from {CONTACTS} customers)",
    )
    report(
        "redis_key_bytes_per_message", (_db0_key_bytes(stack) - keys) / n, "bytes (MEMORY USAGE summed over database 0)"
    )
    report("redis_rest_requests_per_message", (after["requests"] - rest["requests"]) / n, "requests (inbound only)")
    report("redis_rest_commands_per_message", rest_commands, "commands as sent over REST (a script = 1)")
    report("redis_script_inner_calls_per_message", all_commands - rest_commands, "commands (run inside scripts)")
    report("billed_redis_commands_per_message_mixed", all_commands,
           f"commands (inbound only: REST commands + inner calls; {CONTACTS} first messages among {n})")  # fmt: skip
    # the steady path alone: the same customers again, every conversation open
    steady = inbound_requests(stack, stack.tenant, 2000, 5511970000000, CONTACTS)
    commands = server_commands(stack)
    timed_fire(steady, 8)
    report("billed_redis_commands_per_message", (server_commands(stack) - commands) / len(steady),
           "commands (a message in an open conversation: the EVALSHA + every command its script runs)")  # fmt: skip
    return all_commands - rest_commands


# --- 5. latency at a fixed offered load ---------------------------------------------------------------


async def _open_loop(stack: Stack, send: Any, ids: list[str]) -> tuple[dict[str, float], dict[str, float], float]:
    """Start ``send(i)`` at t0 + i/RATE whatever the earlier ones do; collect live arrivals by WhatsApp id."""
    accepted: dict[str, float] = {}
    live: dict[str, float] = {}
    async with LiveInbox(stack.app.url, stack.tenant.api_key) as inbox:
        queue = inbox._events.publications  # every publication, timestamped as it arrives
        arrived = asyncio.Event()

        async def collect() -> None:
            while True:
                _, data = await queue.get()
                mid = (data or {}).get("message", {}).get("wa_id")
                if mid and data.get("type") == "message.created":
                    live.setdefault(mid, time.perf_counter())
                    arrived.set()

        collector = asyncio.create_task(collect())
        tasks = []
        t0 = time.perf_counter()
        for i, mid in enumerate(ids):
            await asyncio.sleep(max(0.0, t0 + i / RATE - time.perf_counter()))
            tasks.append(asyncio.create_task(send(i, mid, accepted)))
        offered = len(ids) / (time.perf_counter() - t0)
        await asyncio.gather(*tasks)
        deadline = time.perf_counter() + DRAIN_S
        while any(m not in live for m in accepted) and time.perf_counter() < deadline:
            arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrived.wait(), deadline - time.perf_counter())
        collector.cancel()
    return accepted, live, offered


def _latencies(name: str, ends: str, accepted: dict[str, float], live: dict[str, float], offered: float) -> list[float]:
    values = [(live[m] - accepted[m]) * 1000 for m in accepted if m in live]
    if not values:
        report(f"{name}_lost", len(accepted), f"of {len(accepted)} (no live update within {DRAIN_S:.0f} s)")
        return values
    report(f"{name}_p50_ms", statistics.median(values), f"ms ({ends}; offered {offered:.1f} msg/s)")
    report(f"{name}_p99_ms", percentile(values, 0.99), f"ms ({ends})")
    report(f"{name}_lost", len(accepted) - len(values), f"of {len(accepted)} (no live update within {DRAIN_S:.0f} s)")
    return values


def relay_costs(stack: Stack, inner_calls: float) -> dict[str, float]:
    """The relay path (the default webhook URL) one webhook at a time: what one message bills."""
    uazapi = Uazapi(token=stack.tenant.token)
    rest, qstash = stack.upstash_stats(), stack.sandbox_stats("QSTASH_URL")["api_requests"]
    quiet = []
    with httpx.Client(timeout=30) as http:
        for i in range(RELAY_QUIET):
            raw = body(uazapi.text(f"um por vez {i}", contact=str(5511970000000 + i % CONTACTS)))
            started = time.perf_counter()
            answer = http.post(stack.tenant.webhook_url, content=raw, headers={"Content-Type": "application/json"})
            quiet.append((time.perf_counter() - started) * 1000)
            if answer.status_code not in (200, 201):
                raise RuntimeError(f"relay answered {answer.status_code}: {answer.text}")
    # Every delivery done: the relay's check and each inbound script are one REST request each.
    wait_until(
        lambda: stack.upstash_stats()["requests"] - rest["requests"] >= 2 * RELAY_QUIET,
        timeout=60,
        what="the relayed webhooks' deliveries",
    )
    time.sleep(1)
    after = stack.upstash_stats()
    report(
        "relay_invocation_wall_ms",
        statistics.fmean(quiet),
        f"ms (mean of {RELAY_QUIET} webhooks one at a time: POST → relay 2xx, QStash publish included)",
    )
    return {
        "qstash_messages": (stack.sandbox_stats("QSTASH_URL")["api_requests"] - qstash) / RELAY_QUIET,
        "rest_commands": (after["commands"] - rest["commands"]) / RELAY_QUIET,
        "rest_requests": (after["requests"] - rest["requests"]) / RELAY_QUIET,
        "inner_calls": inner_calls,
        "relay_wall_ms": statistics.fmean(quiet),
    }


def latency_relay(stack: Stack) -> None:
    """The whole local path at ``RATE``/s: relay → sandbox QStash → inbound → Centrifugo → subscriber.

    Every stand-in runs on this machine too (QStash's publish and delivery, the REST bridge, Centrifugo),
    so this measures the local stack's capacity as much as Zapline: a webhook the relay refuses (5xx:
    UAZAPI would retry it) is counted, not timed.
    """
    uazapi = Uazapi(token=stack.tenant.token)
    count = RATE * RELAY_LOAD_SECONDS
    ids = [wa_id() for _ in range(count)]
    bodies = [
        body(uazapi.text(f"carga {i}", contact=str(5511970000000 + i % CONTACTS), message_id=m))
        for i, m in enumerate(ids)
    ]
    answers: list[float] = []
    sent: dict[str, float] = {}
    refused: list[int] = []

    async def run() -> tuple[dict[str, float], dict[str, float], float]:
        limits = httpx.Limits(max_connections=400, max_keepalive_connections=100)
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:

            async def send(i: int, mid: str, accepted: dict[str, float]) -> None:
                started = time.perf_counter()
                answer = await http.post(
                    stack.tenant.webhook_url, content=bodies[i], headers={"Content-Type": "application/json"}
                )
                if answer.status_code not in (200, 201):
                    refused.append(answer.status_code)
                    return
                sent[mid], accepted[mid] = started, time.perf_counter()
                answers.append((accepted[mid] - started) * 1000)

            return await _open_loop(stack, send, ids)

    accepted, live, offered = asyncio.run(run())
    report("relay_path_refused", len(refused), f"of {count} webhooks (relay answered 5xx under this load)")
    if not accepted:
        return
    _latencies(
        "relay_path",
        "relay 2xx received → live update received by a centrifuge-python subscriber",
        accepted,
        live,
        offered,
    )
    _latencies(
        "relay_path_webhook_to_live", "webhook POST sent to the relay → live update received", sent, live, offered
    )
    report("relay_path_answer_p50_ms", statistics.median(answers), "ms (webhook POST sent → relay 2xx)")
    report("relay_path_answer_p99_ms", percentile(answers, 0.99), "ms (webhook POST sent → relay 2xx)")


def latency_signed(stack: Stack) -> None:
    """Pre-signed deliveries straight to the inbound function at ``RATE``/s (QStash's hop left out)."""
    requests = inbound_requests(stack, stack.tenant, RATE * LOAD_SECONDS, 5511970000000, CONTACTS)
    ids = [json.loads(raw)["message"]["messageid"] for _, raw, _ in requests]

    async def run() -> tuple[dict[str, float], dict[str, float], float]:
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=400)) as http:

            async def send(i: int, mid: str, accepted: dict[str, float]) -> None:
                url, raw, headers = requests[i]
                accepted[mid] = time.perf_counter()
                answer = await http.post(url, content=raw, headers=headers)
                if answer.status_code != 200:
                    raise RuntimeError(f"inbound answered {answer.status_code}: {answer.text}")

            return await _open_loop(stack, send, ids)

    accepted, live, offered = asyncio.run(run())
    _latencies(
        "inbound",
        "signed delivery's start → live update received by a centrifuge-python subscriber",
        accepted,
        live,
        offered,
    )


# --- 6. dollars ---------------------------------------------------------------------------------------


def dollars(relay: dict[str, float], inbound_wall_ms: float) -> None:
    per = 100_000
    billed = relay["rest_commands"] + relay["inner_calls"]
    invocations = 2  # the relay (ingress) and the inbound function
    gb_s = (relay["relay_wall_ms"] + inbound_wall_ms) / 1000 * FUNCTION_MEMORY_GB
    qstash = relay["qstash_messages"] * PRICES["qstash_usd_per_message"] * per
    redis = billed * PRICES["redis_usd_per_command"] * per
    compute = gb_s * PRICES["lambda_usd_per_gb_s"] * per + invocations * PRICES["lambda_usd_per_request"] * per
    report(
        "qstash_messages_per_message", relay["qstash_messages"], "messages (relay path: publishes counted at QStash)"
    )
    report("relay_path_rest_requests_per_message", relay["rest_requests"], "requests (relay check + inbound)")
    report(
        "relay_path_billed_redis_commands_per_message",
        billed,
        f"commands ({relay['rest_commands']:.2f} over REST + {relay['inner_calls']:.2f} in scripts)",
    )
    report(
        "function_gb_s_per_100k_messages",
        gb_s * per,
        f"GB-s ({invocations} invocations × measured mean wall time × {FUNCTION_MEMORY_GB * 1024:.0f} MB)",
    )
    report("usd_per_100k_messages_qstash", qstash, "USD")
    report("usd_per_100k_messages_redis", redis, "USD")
    report("usd_per_100k_messages_functions", compute, "USD (AWS Lambda x86 GB-s + requests)")
    report(
        "usd_per_100k_messages", qstash + redis + compute, f"USD (prices as of {PRICES['as_of']}: {PRICES['source']})"
    )


def main() -> None:
    os.chdir(Path(__file__).resolve().parents[2])
    with Stack() as stack:
        pid = stack.app.proc.pid if stack.app.proc else "?"
        print(f"# zapline serve pid {pid}; stand-ins excluded from CPU figures", flush=True)
        cold_starts(stack)
        inbound_wall = inbound_cpu(stack)
        send_cpu(stack)
        inner_calls = memory_and_commands(stack)
        latency_signed(stack)
        relay = relay_costs(stack, inner_calls)
        dollars(relay, inbound_wall)
        latency_relay(stack)


if __name__ == "__main__":
    main()

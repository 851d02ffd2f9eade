"""The chaos run: stack, storm with faults, retries on the sandbox clock, dead letters, the count.

``run(n)`` returns the figures as an ordered ``{name: value}``; ``failures(figures)`` says what
makes the run fail. Every wait is on a condition with a deadline; the whole run has a budget.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import redis as redis_py

from tests.chaos.parts import Parts, refused
from tests.chaos.proxy import FaultProxy
from tests.chaos.traffic import Sender, plan
from tests.support import AppProcess, SandboxProcess, Tenant
from zapline.sandbox.redis_server import free_port
from zapline.store.counters import fold_hours
from zapline.store.keys import OrgKeys

__all__ = ["ChaosError", "failures", "run"]

TIMEZONE = "America/Sao_Paulo"  # the Tenant's
STEP_S = 900  # sandbox clock step while draining
QUIET_S = 86_400 + STEP_S  # no attempt for longer than QStash's longest retry delay: nothing is pending
MAX_STEPS = 400  # per drain
PAGE = 200  # the operator API's largest page
STALL_S = 60.0  # the relay refusing every webhook this long (outages last seconds) fails the run
FINISHED = {"DELIVERED", "FAILED", "CANCELED"}


def _text(key: bytes | str) -> str:
    """A key as redis-py answers it (bytes, as these clients do not decode), as text."""
    return key.decode() if isinstance(key, bytes) else key


# The figures, printed first; the rest (faults, timings, cross-checks) follow.
HEADLINE = ("messages_sent", "stored_exactly_once", "lost", "duplicated", "final_status_correct",
            "dead_letters_before_retry", "lost_after_dlq_retry")  # fmt: skip


class ChaosError(RuntimeError):
    """The run could not finish (a part did not come back, a drain did not end, the budget ran out)."""


def log(line: str) -> None:
    print(f"chaos: {line}", file=sys.stderr, flush=True)


async def until(check: Callable[[], bool], within: float, interval: float = 0.02) -> bool:
    """Poll ``check`` until true or ``within`` seconds passed; returns whether it became true."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(interval)
    return True


class QuietSandbox(SandboxProcess):
    """``zapline sandbox`` as ``SandboxProcess`` runs it, with its stderr (the parts' logs) in a file."""

    def __init__(self, data_dir: Path, log_path: Path) -> None:
        super().__init__(data_dir)
        self.log_path = log_path

    def start(self, timeout: float = 60.0) -> dict[str, str]:
        cmd = [sys.executable, "-m", "zapline", "sandbox", "--data-dir", str(self.data_dir)]
        with self.log_path.open("a") as err:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=os.environ.copy())
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.stop()
            raise ChaosError(f"zapline sandbox printed no settings within {timeout}s (log: {self.log_path})")
        self.settings = json.loads(line)
        return self.settings


@dataclass
class Stage:
    name: str
    at: int  # webhooks done when it starts; the sender waits there until the fault is in place
    reached: asyncio.Event


class Chaos:
    def __init__(
        self, n: int, *, seed: int, share: float, http_timeout: float, budget_s: float, concurrency: int, keep: bool
    ) -> None:
        self.n, self.seed, self.share, self.http_timeout = n, seed, share, http_timeout
        self.concurrency = concurrency
        self.deadline = time.monotonic() + budget_s
        self.budget_s = budget_s
        self.figures: dict[str, Any] = {}
        self.keep = keep  # keep the logs and data (their directory is printed), else removed at the end
        self.dir = Path(tempfile.mkdtemp(prefix="zapline-chaos-"))
        self.sandbox: QuietSandbox | None = None
        self.app: AppProcess | None = None
        self.parts: Parts | None = None
        self.proxy: FaultProxy | None = None
        self.session: aiohttp.ClientSession | None = None
        self.advances = 0

    def remaining(self, what: str) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ChaosError(f"the run's budget of {self.budget_s:.0f}s ran out during {what}")
        return left

    # -- the stack -------------------------------------------------------------------------------

    def _start_stack(self, proxy_url: str, app_port: int) -> None:
        self.sandbox = QuietSandbox(self.dir / "sandbox", self.dir / "sandbox.log")
        self.settings = self.sandbox.start()
        env = {**self.settings, "ZAPLINE_LOG_LEVEL": "WARNING", "ZAPLINE_HTTP_TIMEOUT": str(self.http_timeout)}
        self.app = AppProcess(env, app_port, log_path=self.dir / "app.log")
        self.app.env["APP_URL"] = self.app.url = proxy_url  # QStash calls (and signs for) the proxy
        self.app.start()
        self.tenant = Tenant({**self.settings, "APP_URL": proxy_url})
        self.parts = Parts(self.dir / "sandbox", self.settings)
        self.redis0 = redis_py.Redis.from_url(self.settings["REDIS_URL"] + "/0")
        self.redis1 = redis_py.Redis.from_url(self.settings["REDIS_URL"] + "/1")

    async def close(self) -> None:
        if self.parts is not None:
            self.parts.thaw_centrifugo()  # a frozen part would not stop
        if self.session is not None:
            await self.session.close()
        for stop in (self.app.stop if self.app else None, self.sandbox.stop if self.sandbox else None):
            if stop is not None:
                await asyncio.to_thread(stop)
        if self.parts is not None:
            await asyncio.to_thread(self.parts.close)  # after the sandbox: QStash flushed to redis first
        if self.proxy is not None:
            await self.proxy.close()
        for client in (getattr(self, "redis0", None), getattr(self, "redis1", None)):
            if client is not None:
                client.close()
        if self.keep:
            log(f"logs and data kept in {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- the run ---------------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        started = time.monotonic()
        app_port = free_port()
        self.proxy = FaultProxy(f"http://127.0.0.1:{app_port}", share=self.share, seed=self.seed, doomed=set())
        proxy_url = await self.proxy.start()
        await asyncio.to_thread(self._start_stack, proxy_url, app_port)
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
        log(f"stack up in {time.monotonic() - started:.1f}s (app behind the fault proxy {proxy_url})")

        self.plan = plan(self.n, token=self.tenant.token, seed=self.seed, doomed=max(2, self.n // 400))
        self.proxy.doomed = {wa.encode() for wa in self.plan.doomed}
        f = self.figures
        f["messages_sent"] = self.n
        f["contacts"] = self.plan.contacts
        f["webhooks"] = len(self.plan.webhooks)
        f["message_copies"] = self.plan.count("copy")
        f["receipts_sent"] = self.plan.count("receipt") + self.plan.count("early_receipt")
        f["receipts_before_message"] = self.plan.count("early_receipt")
        f["doomed_messages"] = len(self.plan.doomed)

        t = time.monotonic()
        await self.storm()
        f["storm_s"] = round(time.monotonic() - t, 1)
        t = time.monotonic()
        await self.drain("retries")
        first = await self.count()
        # waiting in the dead letters, not lost yet: the DLQ retry below delivers them (the run's
        # doomed messages fail every delivery of the storm on purpose, so it always has some)
        f["lost_before_dlq_retry"] = first["lost"]
        f["drain_s"] = round(time.monotonic() - t, 1)

        t = time.monotonic()
        entries = await self.dlq()
        f["dead_letters_before_retry"] = len(entries)
        f["zapline_dead_letters"] = await self.zapline_dead_letters()
        self.proxy.enabled = False  # the storm is over: what is retried from the DLQ now goes through
        for entry in entries:
            async with self.session.post(
                f"{self.settings['QSTASH_URL']}/v2/dlq/retry/{entry['dlqId']}", headers=self._qstash_auth()
            ) as response:
                if response.status != 201:
                    raise ChaosError(
                        f"DLQ retry of {entry['dlqId']} answered {response.status}: {await response.text()}"
                    )
        await self.drain("dead letters")
        f["dead_letters_after_retry"] = len(await self.dlq())
        final = await self.count()
        f["dlq_drain_s"] = round(time.monotonic() - t, 1)

        counts = self.proxy.counts
        f["inbound_deliveries"] = counts.inbound_attempts
        f["faults_before"] = counts.faults_before
        f["faults_after"] = counts.faults_after
        f["fault_share"] = round((counts.faults_before + counts.faults_after) / max(1, counts.inbound_attempts), 3)
        f["inbound_own_errors"] = counts.app_errors
        f["relay_retries"] = self.sender.refused_answers
        f["webhooks_abandoned"] = len(self.sender.abandoned)
        f.update({k: final[k] for k in ("stored_exactly_once", "duplicated", "unexpected", "final_status_correct",
                                        "final_status_wrong", "conversations", "messages_stored", "inbound_counter",
                                        "count_mismatches")})  # fmt: skip
        f["lost_after_dlq_retry"] = f["lost"] = final["lost"]
        f["clock_advances"] = self.advances
        f["duration_s"] = round(time.monotonic() - started, 1)
        logs: str = self.app.logs() if self.app else ""
        f["app_log_errors"] = sum(1 for line in logs.splitlines() if '"level": "error"' in line.lower())
        return {**{name: f[name] for name in HEADLINE}, **f}

    # -- the storm: traffic and the parts' faults ------------------------------------------------

    async def storm(self) -> None:
        total = len(self.plan.webhooks)
        self.sender = Sender(self.tenant.webhook_url, concurrency=self.concurrency)
        go = asyncio.Event()
        go.set()
        stages = [Stage(name, int(total * share), asyncio.Event())
                  for name, share in (("redis", 0.25), ("upstash", 0.5), ("centrifugo", 0.75))]  # fmt: skip

        def progress(done: int) -> None:
            for stage in stages:
                if done >= stage.at and not stage.reached.is_set():
                    stage.reached.set()
                    go.clear()  # traffic waits until this fault is in place, then runs into it

        faults: dict[str, Callable[[asyncio.Event], Awaitable[None]]] = {
            "redis": self.redis_fault, "upstash": self.upstash_fault, "centrifugo": self.centrifugo_fault,
        }  # fmt: skip

        async def inject() -> None:
            for stage in stages:
                await asyncio.wait_for(stage.reached.wait(), self.remaining(f"the storm before {stage.name}"))
                await faults[stage.name](go)
                go.set()

        sending = asyncio.create_task(self.sender.run(self.plan.webhooks, progress, go))
        injecting = asyncio.create_task(inject())
        try:
            while not (sending.done() and injecting.done()):
                await asyncio.wait([sending, injecting], timeout=min(1.0, self.remaining("the storm")))
                for task in (sending, injecting):
                    if task.done() and task.exception() is not None:
                        raise task.exception()  # type: ignore[misc]
                stalled = time.monotonic() - self.sender.last_accepted
                if go.is_set() and not sending.done() and stalled > STALL_S:
                    self.figures["relay_stalled_at"] = self.sender.done
                    raise ChaosError(
                        f"the relay accepted no webhook for {stalled:.0f}s after {self.sender.accepted} accepted "
                        f"(sent {self.sender.done} of {total}); its last answer: {self.sender.last_refusal}"
                    )
        finally:
            go.set()
            for task in (sending, injecting):
                task.cancel()
            await asyncio.gather(sending, injecting, return_exceptions=True)
            assert self.parts is not None
            self.parts.thaw_centrifugo()
        log(f"storm done: {self.sender.accepted} webhooks accepted, {self.sender.refused_answers} retried by UAZAPI")

    def _felt(self) -> Callable[[], bool]:
        """A check that turns true once traffic met the outage (a refused webhook or a failed delivery)."""
        proxy, sender = self.proxy, self.sender
        assert proxy is not None
        base = (sender.refused_answers, proxy.counts.app_errors, proxy.counts.forward_errors)
        return lambda: (sender.refused_answers, proxy.counts.app_errors, proxy.counts.forward_errors) != base

    async def redis_fault(self, go: asyncio.Event) -> None:
        assert self.parts is not None
        port = self.parts.ports["redis"]
        before = await asyncio.to_thread(self._redis_snapshot)
        felt = self._felt()
        self.parts.kill_redis()
        t = time.monotonic()
        if not await until(lambda: refused(port), 10):
            raise ChaosError("redis-server still answers after SIGKILL")
        go.set()
        met = await until(felt, 5)
        await asyncio.to_thread(self.parts.restart_redis)
        self.figures["redis_outage_s"] = round(time.monotonic() - t, 2)
        self.figures["redis_outage_met"] = int(met)
        survived = await self._redis_survived(before)
        self.figures["redis_state_survived"] = int(survived)
        log(f"redis-server SIGKILLed and restarted on its append-only file ({self.figures['redis_outage_s']}s); "
            f"state survived: {survived}")  # fmt: skip

    def _redis_snapshot(self) -> dict[str, Any]:
        wa_keys = list(self.redis0.scan_iter(match="zl:*:wa:*", count=1000))
        return {
            "wa_keys": wa_keys,
            "qstash_messages": {_text(k) for k in self.redis1.hkeys("qstash:messages")},
            "qstash_dlq": {_text(k) for k in self.redis1.hkeys("qstash:dlq")},
        }

    async def _redis_survived(self, before: dict[str, Any]) -> bool:
        """Database 0 (the app's) and 1 (QStash's) hold, after the restart, what they held before the kill:
        every WhatsApp-id key (never deleted), every dead letter, and every message QStash had pending
        unless it finished in between (QStash's own event log says so)."""
        assert self.proxy is not None

        def read() -> tuple[int, set[str], set[str]]:
            pipe = self.redis0.pipeline(transaction=False)
            for key in before["wa_keys"]:
                pipe.exists(key)
            present = sum(pipe.execute()) if before["wa_keys"] else 0
            messages = {_text(k) for k in self.redis1.hkeys("qstash:messages")}
            dlq = {_text(k) for k in self.redis1.hkeys("qstash:dlq")}
            return present, messages, dlq

        present, messages, dlq = await asyncio.to_thread(read)
        gone = before["qstash_messages"] - messages - self.proxy.counts.delivered_ids
        unexplained = [m for m in sorted(gone)[:200] if not await self._finished(m)]
        self.figures["redis_keys_checked"] = len(before["wa_keys"]) + len(before["qstash_messages"])
        ok = present == len(before["wa_keys"]) and before["qstash_dlq"] <= dlq and not unexplained
        if not ok:
            lost_dlq = len(before["qstash_dlq"] - dlq)
            log(f"redis lost state: {len(before['wa_keys']) - present} app keys, "
                f"{lost_dlq} dead letters, {len(unexplained)} pending QStash messages")  # fmt: skip
        return ok

    async def _finished(self, message_id: str) -> bool:
        assert self.session is not None
        url = f"{self.settings['QSTASH_URL']}/v2/events"
        async with self.session.get(url, params={"messageId": message_id}, headers=self._qstash_auth()) as response:
            events = (await response.json()).get("events", [])
        return any(e.get("state") in FINISHED for e in events)

    async def upstash_fault(self, go: asyncio.Event) -> None:
        assert self.parts is not None
        port = self.parts.ports["upstash"]
        felt = self._felt()
        self.parts.kill_upstash()
        t = time.monotonic()
        if not await until(lambda: refused(port), 10):
            raise ChaosError("the Upstash bridge still answers after SIGKILL")
        go.set()
        met = await until(felt, 5)
        await asyncio.to_thread(self.parts.restart_upstash)
        self.figures["upstash_outage_s"] = round(time.monotonic() - t, 2)
        self.figures["upstash_outage_met"] = int(met)
        log(f"Upstash bridge SIGKILLed and restarted ({self.figures['upstash_outage_s']}s)")

    async def centrifugo_fault(self, go: asyncio.Event) -> None:
        assert self.parts is not None and self.proxy is not None
        errors = self.proxy.counts.app_errors
        self.parts.freeze_centrifugo()
        t = time.monotonic()
        go.set()
        # Frozen past the app's HTTP timeout, until an inbound call has timed out on it (bounded).
        least = 2.5 * self.http_timeout
        met = await until(
            lambda: time.monotonic() - t >= least and self.proxy.counts.app_errors > errors,  # type: ignore[union-attr]
            least + 4 * self.http_timeout + 5,
        )
        self.parts.thaw_centrifugo()
        self.figures["centrifugo_frozen_s"] = round(time.monotonic() - t, 2)
        self.figures["centrifugo_freeze_met"] = int(met)
        log(f"Centrifugo frozen {self.figures['centrifugo_frozen_s']}s (HTTP timeout {self.http_timeout}s)")

    # -- QStash: the clock and the dead letters --------------------------------------------------

    def _qstash_auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings['QSTASH_TOKEN']}"}

    async def drain(self, what: str) -> None:
        """Advance the sandbox clock in steps until a whole quiet day passes: QStash's longest retry
        delay is a day, so nothing is pending any more."""
        assert self.session is not None
        quiet = 0
        attempts = 0
        for _ in range(MAX_STEPS):
            self.remaining(f"the drain of {what}")
            async with self.session.post(
                f"{self.settings['QSTASH_URL']}/_sandbox/clock/advance", json={"seconds": STEP_S}
            ) as response:
                if response.status != 200:
                    raise ChaosError(f"clock advance answered {response.status}: {await response.text()}")
                answer = await response.json()
            self.advances += 1
            fired = [d for d in answer["deliveries"] if d.get("scheduleId") is None]
            attempts += len(fired)
            quiet = 0 if fired else quiet + STEP_S
            if quiet >= QUIET_S:
                log(f"drained {what}: {attempts} attempts on the sandbox clock")
                return
        raise ChaosError(f"the drain of {what} did not end within {MAX_STEPS} clock steps")

    async def dlq(self) -> list[dict[str, Any]]:
        assert self.session is not None
        entries: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(10_000):
            params = {"count": "100", **({"cursor": cursor} if cursor else {})}
            async with self.session.get(
                f"{self.settings['QSTASH_URL']}/v2/dlq", params=params, headers=self._qstash_auth()
            ) as response:
                page = await response.json()
            entries += page.get("messages", [])
            cursor = page.get("cursor")
            if not cursor:
                return entries
        raise ChaosError("the DLQ listing did not end")

    # -- the count, through the operator API and in Redis ----------------------------------------

    async def api(self, path: str, **params: str) -> Any:
        assert self.session is not None
        headers = {"Authorization": f"Bearer {self.tenant.api_key}"}
        async with self.session.get(f"{self.proxy.url}/api/v1{path}", params=params, headers=headers) as response:  # type: ignore[union-attr]
            if response.status != 200:
                raise ChaosError(f"GET /api/v1{path} answered {response.status}: {await response.text()}")
            return await response.json()

    async def pages(self, path: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        for _ in range(10_000):
            page = await self.api(path, limit=str(PAGE), **({"cursor": cursor} if cursor else {}))
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return items
        raise ChaosError(f"paging {path} did not end")

    async def zapline_dead_letters(self) -> int:
        return len((await self.api("/dead-letters", limit=str(PAGE)))["items"])

    async def count(self) -> dict[str, int]:
        self.remaining("the count")
        conversations = await self.pages("/conversations")
        listed: dict[str, list[dict[str, Any]]] = {}
        sem = asyncio.Semaphore(8)

        async def messages(conv_id: str) -> None:
            async with sem:
                listed[conv_id] = await self.pages(f"/conversations/{conv_id}/messages")

        await asyncio.gather(*(messages(c["id"]) for c in conversations))
        stored = Counter(m["wa_id"] for items in listed.values() for m in items)
        status = {m["wa_id"]: m["status"] for items in listed.values() for m in items}
        expected = self.plan.messages
        days = sorted({datetime.fromtimestamp(e.timestamp / 1000, ZoneInfo(TIMEZONE)).date().isoformat()
                       for e in expected.values()})  # fmt: skip
        api_inbound = 0
        for day in days:
            api_inbound += int((await self.api("/stats/daily", day=day))["counters"].get("inbound", 0))

        def in_redis() -> tuple[list[tuple[int, int]], int]:
            keys = OrgKeys(self.tenant.org_id)
            pipe = self.redis0.pipeline(transaction=False)
            for c in conversations:
                pipe.hget(keys.conversation(c["id"]), "message_count")
                pipe.zcard(keys.conversation_messages(c["id"]))
            for day in days:
                pipe.hgetall(keys.daily(day))
            out = pipe.execute()
            pairs = [(int(out[2 * i] or 0), int(out[2 * i + 1])) for i in range(len(conversations))]
            # inbound is counted per local hour (inbound:HH): the day is their sum
            daily = [
                fold_hours({k.decode(): v.decode() for k, v in raw.items()})[0] for raw in out[2 * len(conversations) :]
            ]
            return pairs, sum(d.get("inbound", 0) for d in daily)

        pairs, redis_inbound = await asyncio.to_thread(in_redis)
        mismatches = 0
        for conv, (redis_count, zcard) in zip(conversations, pairs, strict=True):
            n_listed = len(listed[conv["id"]])
            if not conv.get("message_count") == redis_count == zcard == n_listed:
                mismatches += 1
                log(f"count mismatch in {conv['id']}: api {conv.get('message_count')}, redis {redis_count}, "
                    f"zset {zcard}, listed {n_listed}")  # fmt: skip
        total = sum(len(items) for items in listed.values())
        if not api_inbound == redis_inbound == total:
            mismatches += 1
            log(f"inbound counter mismatch: api {api_inbound}, redis {redis_inbound}, messages stored {total}")
        correct = sum(1 for wa, e in expected.items() if stored[wa] == 1 and status[wa] == e.status)
        wrong = [wa for wa, e in expected.items() if stored[wa] >= 1 and status[wa] != e.status]
        for wa in wrong[:10]:
            log(f"final status of {wa}: {status[wa]}, expected {expected[wa].status} "
                f"(receipts sent: {', '.join(expected[wa].receipts)}; doomed: {wa in self.plan.doomed})")  # fmt: skip
        return {
            "stored_exactly_once": sum(1 for wa in expected if stored[wa] == 1),
            "lost": sum(1 for wa in expected if stored[wa] == 0),
            "duplicated": sum(1 for wa in expected if stored[wa] > 1),
            "unexpected": sum(1 for wa in stored if wa not in expected),
            "final_status_correct": correct,
            "final_status_wrong": sum(1 for wa in expected if stored[wa] >= 1) - correct,
            "conversations": len(conversations),
            "messages_stored": total,
            "inbound_counter": api_inbound,
            "count_mismatches": mismatches,
        }


def failures(figures: dict[str, Any]) -> list[str]:
    """What makes the run fail (empty: it passed)."""
    out = []
    for name in ("lost_after_dlq_retry", "duplicated", "unexpected", "final_status_wrong", "count_mismatches",
                 "dead_letters_after_retry", "webhooks_abandoned"):  # fmt: skip
        if figures.get(name, 1):
            out.append(f"{name}: {figures.get(name, 'not measured')}")
    if figures.get("stored_exactly_once") != figures.get("messages_sent"):
        out.append("stored_exactly_once != messages_sent")
    if figures.get("redis_state_survived") != 1:
        out.append("redis_state_survived != 1")
    return out


async def _run(n: int, **options: Any) -> dict[str, Any]:
    chaos = Chaos(n, **options)
    try:
        return await chaos.run()
    except ChaosError as exc:
        exc.figures = chaos.figures  # type: ignore[attr-defined]  # what was measured before it stopped
        raise
    finally:
        await chaos.close()


def run(
    n: int,
    *,
    seed: int = 1,
    share: float = 0.2,
    http_timeout: float = 2.0,
    budget_s: float | None = None,
    concurrency: int = 16,
    keep: bool = False,
) -> dict[str, Any]:
    budget = budget_s if budget_s is not None else 240 + 0.15 * n
    return asyncio.run(
        _run(n, seed=seed, share=share, http_timeout=http_timeout, budget_s=budget, concurrency=concurrency, keep=keep)
    )

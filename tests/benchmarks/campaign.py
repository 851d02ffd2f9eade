"""Bulk never delays realtime: ``python -m tests.benchmarks campaign``.

One local stack (its own sandbox, ``zapline serve``, an instance in the UAZAPI simulator, connected
through the relay as in production). An operator replies to a customer through the API every
``REPLY_EVERY_S``; each reply's time-to-send is the API ``POST`` → the simulator receiving the send
(the simulator's own receive time, same clock). Two phases in one run:

1. ``idle``: ``IDLE_REPLIES`` replies and nothing else;
2. ``during_campaign``: a ``RECIPIENTS``-recipient campaign created through the API runs on the bulk
   lane, and replies go on.

It runs twice, each on its own stack: at the deployment's default bulk rate (100/1m per instance;
``DEFAULT_RATE_S`` seconds of the campaign, its fan-out included, then it is cancelled) — the figures
without a suffix — and at ``BULK_RATE`` (``_stress``: 40 sends a second, so that the whole campaign,
every echo and receipt coming back as webhooks, happens while the replies are measured, and it
completes). The stress phase shares two cores between one ``zapline serve`` process, every stand-in
and the load generator: what it adds to a reply is CPU, not queueing (``reply_qstash_wait_*``).

Printed: ``reply_p50_ms_idle``, ``reply_p99_ms_idle``, ``reply_p50_ms_during_campaign``,
``reply_p99_ms_during_campaign``, their ratios, ``reply_qstash_wait_*`` (the part of it the reply's send
job waited in QStash for its lane: the queueing a campaign could add), the campaign's sends per
second, and what it cost in
QStash per 1,000 recipients, read from the sandbox QStash's event log (labels ``job-campaign-*``):
``campaign_qstash_api_requests_per_1000`` (publishes + ``/v2/batch`` requests Zapline made),
``campaign_qstash_messages_per_1000`` (billed messages), ``campaign_qstash_deliveries_per_1000`` and
``campaign_qstash_requests_per_1000`` (API requests + deliveries + failure callbacks). Bounded: the
campaign phase stops at ``DEADLINE_S`` (reported as not completed).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from tests.benchmarks.inbound import report
from tests.benchmarks.stack import APP_LOG_LEVEL, percentile
from tests.conversation_loop import Loop
from tests.support import AppProcess, SandboxProcess, wait_until
from zapline.sandbox.redis_server import free_port

RECIPIENTS = 2000
BULK_RATE = "40/1s"
IDLE_REPLIES = 40
REPLY_EVERY_S = 0.25
DEADLINE_S = 85.0
DEFAULT_RATE_S = 40.0  # seconds of replies during the campaign at the default bulk rate
FIRST_RECIPIENT = 5511940000000


class Replies:
    """Operator replies to one conversation, and their time-to-send read back from the simulator."""

    def __init__(self, loop: Loop, conversation_id: str) -> None:
        self.loop = loop
        self.conversation_id = conversation_id
        self.http = httpx.Client(timeout=30, headers={"Authorization": f"Bearer {loop.tenant.api_key}"})
        self.asked: dict[str, float] = {}  # text → when the POST started (ms)
        self.ids: dict[str, str] = {}  # text → its message id

    def send(self, text: str) -> None:
        self.asked[text] = time.time() * 1000
        answer = self.http.post(f"{self.loop.app.url}/api/v1/conversations/{self.conversation_id}/messages",
                                json={"text": text})  # fmt: skip
        if answer.status_code != 200:
            raise RuntimeError(f"reply refused: {answer.status_code} {answer.text[:200]}")
        self.ids[text] = answer.json()["message"]["id"]

    def waits(self, texts: list[str]) -> list[float]:
        """How long each reply's send job waited in QStash (accepted → delivery started, ms): its lane's
        queue alone, without the functions' own time."""
        times: dict[tuple[str, str], int] = {}
        for state in ("CREATED", "ACTIVE"):
            for event in _events(self.loop.sandbox, "job-send", state):
                job = json.loads(base64.b64decode(event.get("body") or "e30="))
                times.setdefault((job.get("message_id", ""), state), int(event["time"]))
        return [float(times[self.ids[t], "ACTIVE"] - times[self.ids[t], "CREATED"]) for t in texts]

    def times(self, texts: list[str]) -> list[float]:
        """Each reply's time-to-send (ms), once the simulator has them all."""
        wanted = set(texts)

        def arrived() -> dict[str, float] | None:
            since = int(min(self.asked[t] for t in texts)) - 1
            params: dict[str, str | int] = {"instance": self.loop.tenant.token, "since": since}
            rows = httpx.get(f"{self.loop.sandbox['UAZAPI_URL']}/_sandbox/sent", params=params, timeout=30).json()
            found = {r["text"]: float(r["time"]) for r in rows if r["text"] in wanted}
            return found if len(found) == len(wanted) else None

        found = wait_until(arrived, timeout=60, interval=0.2, what="every reply sent")
        return [found[t] - self.asked[t] for t in texts]


def _events(settings: dict[str, str], label: str, state: str) -> list[dict[str, Any]]:
    """Every event of the sandbox QStash's log with ``label`` and ``state`` (all pages)."""
    out: list[dict[str, Any]] = []
    cursor = None
    with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {settings['QSTASH_TOKEN']}"}) as http:
        while True:
            params: dict[str, Any] = {"label": label, "state": state, "count": 1000}
            if cursor:
                params["cursor"] = cursor
            page = http.get(f"{settings['QSTASH_URL']}/v2/events", params=params).json()
            out += page.get("events") or []
            cursor = page.get("cursor")
            if not cursor:
                return out


def _index(event: dict[str, Any]) -> int:
    return int(json.loads(base64.b64decode(event.get("body") or "e30="))["index"])


def _qstash_costs(settings: dict[str, str], recipients: int) -> dict[str, float]:
    """Per 1,000 recipients. Publishes, batches and messages are the whole campaign's (its pages are all
    published within its first minute); send deliveries are every attempt QStash made for the
    recipients whose send finished (the deadline may stop the run before the last ones)."""
    fanout_messages = _events(settings, "job-campaign-fanout", "CREATED")
    send_messages = _events(settings, "job-campaign-send", "CREATED")
    fanout_attempts = len(_events(settings, "job-campaign-fanout", "DELIVERED")) + len(
        _events(settings, "job-campaign-fanout", "ERROR")
    )  # every attempt ends DELIVERED or ERROR (then RETRY, or FAILED: a failure callback)
    delivered = _events(settings, "job-campaign-send", "DELIVERED")
    finished = {_index(e) for e in delivered if json.loads(e.get("responseBody") or "{}").get("outcome") != "held"}
    send_attempts = sum(1 for e in delivered + _events(settings, "job-campaign-send", "ERROR") if _index(e) in finished)
    batches = 0  # the /v2/batch requests each page made, as its answer says
    for event in _events(settings, "job-campaign-fanout", "DELIVERED"):
        with contextlib.suppress(ValueError):
            batches += int(json.loads(event.get("responseBody") or "{}").get("batches", 0))
    failure_callbacks = sum(len(_events(settings, f"job-{k}", "FAILED")) for k in ("campaign-fanout", "campaign-send"))
    per = 1000 / recipients
    requests = (len(fanout_messages) + batches) * per
    deliveries = fanout_attempts * per + send_attempts * 1000 / max(len(finished), 1)
    return {
        "campaign_qstash_api_requests_per_1000": requests,
        "campaign_qstash_messages_per_1000": (len(fanout_messages) + len(send_messages)) * per,
        "campaign_qstash_deliveries_per_1000": deliveries,
        "campaign_qstash_requests_per_1000": requests + deliveries + failure_callbacks * per,
    }


def _cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes and their descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0, list(pids)
    while todo:
        pid = todo.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            todo += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tick


Usage = tuple[float, float, float]


def _since(start: Usage, end: Usage) -> Usage:
    return end[0] - start[0], end[1] - start[1], end[2] - start[2]


def _run(loop: Loop, sandbox_pid: int, *, suffix: str, deadline: float, costs: bool) -> None:
    assert loop.app.proc is not None
    app_pid = loop.app.proc.pid

    def cpu() -> Usage:  # the functions' process, the stand-ins, the wall clock
        return _cpu_seconds([app_pid]), _cpu_seconds([sandbox_pid]), time.monotonic()

    customer = loop.new_number()
    loop.customer_says(customer, "Oi, vocês têm horário amanhã?")
    replies = Replies(loop, loop.conversation_of(customer)["id"])
    for i in range(5):  # warm-up: connections, caches, the lane's flow-control key
        replies.send(f"aquecendo {i}")
    replies.times([f"aquecendo {i}" for i in range(5)])

    idle_cpu = cpu()
    idle_texts = []
    for i in range(IDLE_REPLIES):
        idle_texts.append(f"resposta ociosa {i}")
        replies.send(idle_texts[-1])
        time.sleep(REPLY_EVERY_S)
    idle_cpu = _since(idle_cpu, cpu())
    idle = replies.times(idle_texts)

    recipients = [{"phone": f"+{FIRST_RECIPIENT + i}", "name": f"Cliente {i}"} for i in range(RECIPIENTS)]
    started = time.monotonic()
    busy_cpu = cpu()
    made = loop.operator("POST", "/campaigns", json={"name": "bench", "instance_id": loop.tenant.instance_id,
                                                     "template": "Olá {{first_name}}, novidades!",
                                                     "recipients": recipients})  # fmt: skip
    if made.status_code != 200:
        raise RuntimeError(f"campaign refused: {made.status_code} {made.text[:300]}")
    campaign_id = made.json()["id"]
    busy_texts: list[str] = []
    status: dict[str, Any] = {}
    while time.monotonic() - started < deadline:
        busy_texts.append(f"resposta durante a campanha {len(busy_texts)}")
        replies.send(busy_texts[-1])
        time.sleep(REPLY_EVERY_S)
        if len(busy_texts) % 8 == 0:
            status = loop.operator("GET", f"/campaigns/{campaign_id}").json()
            if status["status"] == "completed":
                break
    elapsed = time.monotonic() - started
    busy_cpu = _since(busy_cpu, cpu())
    busy = replies.times(busy_texts)
    status = loop.operator("GET", f"/campaigns/{campaign_id}").json()
    counters = status["counters"]

    queued_idle, queued_busy = replies.waits(idle_texts), replies.waits(busy_texts)
    p50_idle, p99_idle = statistics.median(idle), percentile(idle, 0.99)
    p50_busy, p99_busy = statistics.median(busy), percentile(busy, 0.99)
    report(f"reply_p50_ms_idle{suffix}", p50_idle, "ms")
    report(f"reply_p99_ms_idle{suffix}", p99_idle, "ms")
    report(f"reply_p50_ms_during_campaign{suffix}", p50_busy, "ms")
    report(f"reply_p99_ms_during_campaign{suffix}", p99_busy, "ms")
    report(f"reply_p50_ratio_during_over_idle{suffix}", p50_busy / p50_idle, "x")
    report(f"reply_p99_ratio_during_over_idle{suffix}", p99_busy / p99_idle, "x")
    for phase, (functions, stand_ins, wall) in (("idle", idle_cpu), ("during_campaign", busy_cpu)):
        report(f"cpu_functions_percent_{phase}{suffix}", 100 * functions / wall, "% of one core")
        report(f"cpu_stand_ins_percent_{phase}{suffix}", 100 * stand_ins / wall, "% of one core")
    report(f"reply_qstash_wait_p50_ms_idle{suffix}", statistics.median(queued_idle), "ms")
    report(f"reply_qstash_wait_p99_ms_idle{suffix}", percentile(queued_idle, 0.99), "ms")
    report(f"reply_qstash_wait_p50_ms_during_campaign{suffix}", statistics.median(queued_busy), "ms")
    report(f"reply_qstash_wait_p99_ms_during_campaign{suffix}", percentile(queued_busy, 0.99), "ms")
    print(f"replies_measured{suffix}: {len(idle)} idle, {len(busy)} during the campaign", flush=True)
    print(f"campaign_status{suffix}: {status['status']} ({counters['sent']}/{RECIPIENTS} sent, {elapsed:.0f} s)",
          flush=True)  # fmt: skip
    report(f"campaign_sends_per_s{suffix}", counters["sent"] / elapsed, "msg/s")
    if status["status"] == "running":  # the phase measured what it needed: the rest is not sent
        loop.operator("POST", f"/campaigns/{campaign_id}/cancel")
    if costs:
        for name, value in _qstash_costs(loop.sandbox, RECIPIENTS).items():
            unit = "requests" if "requests" in name else "messages" if "messages" in name else "deliveries"
            report(name, value, unit)
    replies.http.close()


def _phase(rate: str | None, *, suffix: str, deadline: float, costs: bool) -> None:
    """One stack (its own sandbox, so the QStash event log is this phase's alone) at one bulk rate."""
    with tempfile.TemporaryDirectory(prefix="zapline-bench-campaign-") as data_dir:
        sandbox = SandboxProcess(Path(data_dir))
        settings = sandbox.start()
        bulk = {"ZAPLINE_SEND_RATE_BULK": rate} if rate else {}
        app = AppProcess({**settings, **APP_LOG_LEVEL, **bulk}, free_port())
        try:
            app.start()
            assert sandbox.proc is not None
            _run(Loop(app, settings), sandbox.proc.pid, suffix=suffix, deadline=deadline, costs=costs)
        finally:
            app.stop()
            sandbox.stop()


def main() -> None:
    os.chdir(Path(__file__).resolve().parents[2])
    # the deployment's default bulk rate (100/1m per instance): the campaign runs, and its fan-out of
    # 2,000 recipients happens, while the replies are measured (it would take 20 minutes to finish)
    _phase(None, suffix="", deadline=DEFAULT_RATE_S, costs=False)
    # a stress rate, so the whole campaign (and every echo and receipt it causes) happens in the run
    _phase(BULK_RATE, suffix="_stress", deadline=DEADLINE_S, costs=True)


if __name__ == "__main__":
    main()

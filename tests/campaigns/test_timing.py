"""Campaigns in time: the send window, a later start, pause / resume and cancel — on the sandbox clock.

These move the clock, so they run against a sandbox and app of their own (the session's clock is
shared), with the bulk lane at 2 messages a minute: a campaign's sends then wait in QStash's bulk
lane, and advancing the clock a minute lets the next two through. The app plans and checks a campaign's
times by QStash's clock (the sandbox's, ``ZAPLINE_CLOCK_URL``), the one that judges not-before: each
test reads where earlier tests left it and places its times after it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis

from tests.campaigns.helpers import campaign, created, settled
from tests.conversation_loop import Loop
from tests.sandbox.qstash_helpers import advance, now_ms, own_sandbox, raw
from tests.support import AppProcess, deliver, wait_until
from zapline.sandbox.redis_server import free_port
from zapline.sandbox.uazapi.payloads import Uazapi, body

ZONE = ZoneInfo("America/Sao_Paulo")  # the tenant's


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    with own_sandbox(Path(tmp_path_factory.mktemp("campaign-timing"))) as settings:
        app = AppProcess({**settings, "ZAPLINE_SEND_RATE_BULK": "2/1m"}, free_port())
        try:
            app.start()
            yield Loop(app, settings)
        finally:
            app.stop()


def _virtual_now(loop: Loop) -> float:
    """QStash's now (seconds): the wall clock plus the offset earlier tests advanced it by."""
    return now_ms(loop.sandbox) / 1000


def _numbers(loop: Loop, count: int) -> list[str]:
    return [loop.new_number() for _ in range(count)]


def _sent_to(loop: Loop, numbers: list[str]) -> list[str]:
    return [s["number"] for s in loop.sent() if s["number"] in numbers]


def _messages(loop: Loop, campaign_id: str, kind: str) -> list[dict[str, Any]]:
    """The campaign's jobs of ``kind`` as QStash holds them (``notBefore`` in ms, 0 for none), in order."""
    events = raw(loop.sandbox, "GET", "/v2/events", params={"label": f"job-{kind}", "state": "CREATED",
                                                            "count": 1000}).json()["events"]  # fmt: skip
    ours = sorted(
        (e for e in events if campaign_id in base64.b64decode(e.get("body") or "").decode()),
        key=lambda e: json.loads(base64.b64decode(e["body"]))["index"] if kind == "campaign-send" else 0,
    )
    return [raw(loop.sandbox, "GET", f"/v2/messages/{e['messageId']}").json() for e in ours]  # fmt: skip


def test_a_campaign_created_outside_its_window_starts_at_the_opening(loop: Loop) -> None:
    numbers = _numbers(loop, 2)
    # a window opening two hours from QStash's now: closed for the app's (earlier) wall clock too
    opening = datetime.fromtimestamp(_virtual_now(loop) + 2 * 3600, ZONE).replace(second=0, microsecond=0)
    opening += timedelta(minutes=1)
    window = {"from": opening.strftime("%H:%M"), "to": (opening + timedelta(hours=1)).strftime("%H:%M")}
    made = created(loop, "Bom dia, {{name|cliente}}!", [{"phone": n} for n in numbers], window=window)
    assert made["status"] == "scheduled" and made["window"] == window

    pages = _messages(loop, made["id"], "campaign-fanout")
    assert [m["notBefore"] for m in pages] == [int(opening.timestamp()) * 1000]
    advance(loop.sandbox, 60)
    assert _sent_to(loop, numbers) == [] and campaign(loop, made["id"])["status"] == "scheduled"

    advance(loop.sandbox, opening.timestamp() - _virtual_now(loop) + 1)
    settled(loop, made["id"], sent=2)
    assert sorted(_sent_to(loop, numbers)) == sorted(numbers)


def test_sends_expected_after_the_window_closes_wait_for_the_next_opening(loop: Loop) -> None:
    numbers = _numbers(loop, 10)  # 30 s apart on this bulk lane: 4m30s of sends
    now = datetime.fromtimestamp(_virtual_now(loop), ZONE).replace(second=0, microsecond=0)
    opening, closing = now - timedelta(hours=1), now + timedelta(minutes=2)  # open now, closing within 2 min
    window = {"from": opening.strftime("%H:%M"), "to": closing.strftime("%H:%M")}
    made = created(loop, "Oi", [{"phone": n} for n in numbers], window=window)

    sends = wait_until(lambda: (m := _messages(loop, made["id"], "campaign-send")) and len(m) == 10 and m,
                       what="ten sends queued")  # fmt: skip
    gates = [m["notBefore"] for m in sends]
    tomorrow = int((opening + timedelta(days=1)).timestamp()) * 1000
    now_ones = [g for g in gates if g != tomorrow]
    assert 2 <= len(now_ones) <= 5 and gates == now_ones + [tomorrow] * (10 - len(now_ones)), gates
    for _ in range(6):  # past the closing: the later ones stay in QStash
        advance(loop.sandbox, 61)
    # the lane's rate decides when QStash delivers each "now" one: one it delivers after the closing is sent
    # back to QStash for tomorrow's opening (checked on arrival), so at most those are sent today
    later = [m for m in _messages(loop, made["id"], "campaign-send") if m["notBefore"] == tomorrow]

    def quiet() -> dict[str, Any] | None:
        shown = campaign(loop, made["id"])
        counters = shown["counters"]
        return shown if counters["sent"] >= 1 and counters["sent"] + counters["queued"] == 10 else None

    shown = wait_until(quiet, what="every send either sent or waiting for tomorrow")
    sent = shown["counters"]["sent"]
    assert shown["status"] == "running" and 1 <= sent <= len(now_ones) and len(_sent_to(loop, numbers)) == sent
    assert len(later) >= 10 - len(now_ones)  # those planned for tomorrow (and any sent back) wait in QStash
    assert loop.operator("POST", f"/campaigns/{made['id']}/cancel").status_code == 200  # leaves the clock alone


def test_a_send_held_past_the_windows_close_waits_for_the_next_opening(loop: Loop) -> None:
    numbers = _numbers(loop, 2)
    now = datetime.fromtimestamp(_virtual_now(loop), ZONE).replace(second=0, microsecond=0)
    opening, closing = now - timedelta(hours=1), now + timedelta(minutes=10)  # open, for ten more minutes
    window = {"from": opening.strftime("%H:%M"), "to": closing.strftime("%H:%M")}
    assert loop.operator("POST", "/lanes/bulk/pause").status_code == 200  # the owner holds the bulk lane
    try:
        made = created(loop, "Oi", [{"phone": n} for n in numbers], window=window)
        wait_until(lambda: len(_messages(loop, made["id"], "campaign-send")) == 2 or None, what="both sends queued")
        advance(loop.sandbox, 15 * 60)  # the window closes while the lane holds them
        assert _sent_to(loop, numbers) == []
    finally:
        assert loop.operator("POST", "/lanes/bulk/resume").status_code == 200
    tomorrow = int((opening + timedelta(days=1)).timestamp()) * 1000

    def deferred() -> list[dict[str, Any]] | None:
        later = [m for m in _messages(loop, made["id"], "campaign-send") if m["notBefore"] == tomorrow]
        return later if len(later) == 2 else None

    for _ in range(3):  # the held sends arrive after the closing: each goes back to QStash for the opening
        advance(loop.sandbox, 61)
    wait_until(deferred, what="both sends deferred to the next opening")
    assert _sent_to(loop, numbers) == [] and campaign(loop, made["id"])["counters"]["sent"] == 0

    advance(loop.sandbox, tomorrow / 1000 - _virtual_now(loop) + 1)
    advance(loop.sandbox, 61)
    settled(loop, made["id"], sent=2)
    assert sorted(_sent_to(loop, numbers)) == sorted(numbers)  # each once, in the window


def test_a_later_start_schedules_the_campaign(loop: Loop) -> None:
    numbers = _numbers(loop, 2)
    start = datetime.fromtimestamp(_virtual_now(loop) + 3600, ZONE).replace(second=0, microsecond=0)
    made = created(loop, "Oi", [{"phone": n} for n in numbers], start_at=start.strftime("%Y-%m-%dT%H:%M"))
    assert made["status"] == "scheduled" and made["start_at"] == start.isoformat()
    advance(loop.sandbox, 120)
    assert campaign(loop, made["id"])["status"] == "scheduled" and _sent_to(loop, numbers) == []

    advance(loop.sandbox, start.timestamp() - _virtual_now(loop) + 1)
    done = settled(loop, made["id"], sent=2)
    assert done["started_at"] is not None and sorted(_sent_to(loop, numbers)) == sorted(numbers)


def _sent_some(loop: Loop, campaign_id: str) -> int:
    """Move the clock a bulk-lane minute at a time until some of the campaign went; how many did."""
    for _ in range(5):
        sent = int(campaign(loop, campaign_id)["counters"]["sent"])
        if sent:
            return sent
        advance(loop.sandbox, 61)
    raise AssertionError(f"campaign {campaign_id} sent nothing in five minutes")


def test_pause_holds_the_queued_sends_and_resume_sends_each_once(loop: Loop) -> None:
    numbers = _numbers(loop, 6)
    made = created(loop, "Promo {{name|}}", [{"phone": n} for n in numbers])
    wait_until(lambda: _messages(loop, made["id"], "campaign-send"), what="the sends queued")
    _sent_some(loop, made["id"])

    paused = loop.operator("POST", f"/campaigns/{made['id']}/pause")
    assert paused.status_code == 200 and paused.json()["changed"] is True, paused.text
    again = loop.operator("POST", f"/campaigns/{made['id']}/pause").json()
    assert again["changed"] is False and again["campaign"]["status"] == "paused"
    for _ in range(4):  # QStash delivers the others meanwhile: each is held, none is sent
        advance(loop.sandbox, 61)

    def receipts_in() -> dict[str, Any] | None:  # the simulator reports each send delivered, then read (600 ms)
        shown = campaign(loop, made["id"])
        counters = shown["counters"]
        return shown if counters["sent"] and counters["delivered"] == counters["read"] == counters["sent"] else None

    held = wait_until(receipts_in, what="the receipts of what was sent before the pause")
    before = held["counters"]["sent"]  # those sent before the pause (one may have been on its way)
    assert held["status"] == "paused" and 0 < before < 6 and held["counters"]["queued"] == 6 - before
    advance(loop.sandbox, 61)
    assert campaign(loop, made["id"])["counters"] == held["counters"] and len(_sent_to(loop, numbers)) == before

    resumed = loop.operator("POST", f"/campaigns/{made['id']}/resume")
    assert resumed.status_code == 200 and resumed.json()["changed"] is True, resumed.text
    assert resumed.json()["campaign"]["status"] == "running"
    for _ in range(4):
        advance(loop.sandbox, 61)
    done = settled(loop, made["id"], sent=6)
    assert done["counters"]["queued"] == 0 and sorted(_sent_to(loop, numbers)) == sorted(numbers)  # each once


def test_cancel_skips_what_was_queued_and_what_was_not(loop: Loop) -> None:
    numbers = _numbers(loop, 6)
    made = created(loop, "Última chance", [{"phone": n} for n in numbers])
    wait_until(lambda: _messages(loop, made["id"], "campaign-send"), what="the sends queued")
    _sent_some(loop, made["id"])
    cancelled = loop.operator("POST", f"/campaigns/{made['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["campaign"]["status"] == "cancelled", cancelled.text
    for _ in range(4):
        advance(loop.sandbox, 61)
    done = wait_until(lambda: (c := campaign(loop, made["id"])) and c["counters"]["queued"] == 0 and c,
                      what="every queued send skipped")  # fmt: skip
    sent = done["counters"]["sent"]  # those sent before the cancel (one may have been on its way)
    assert done["status"] == "cancelled" and 0 < sent < 6
    assert done["counters"]["skipped_by_reason"] == {"cancelled": 6 - sent} and len(_sent_to(loop, numbers)) == sent
    assert loop.operator("POST", f"/campaigns/{made['id']}/resume").status_code == 409

    # cancelled before it starts: every recipient is skipped, and its first page does nothing
    later = _numbers(loop, 3)
    start = datetime.fromtimestamp(_virtual_now(loop) + 600, ZONE).strftime("%Y-%m-%dT%H:%M")
    scheduled = created(loop, "Oi", [{"phone": n} for n in later], start_at=start)
    assert loop.operator("POST", f"/campaigns/{scheduled['id']}/cancel").json()["changed"] is True
    advance(loop.sandbox, 900)
    shown = campaign(loop, scheduled["id"])
    assert shown["counters"]["skipped_by_reason"] == {"cancelled": 3} and shown["started_at"] is None
    assert _sent_to(loop, later) == []


def _commands(loop: Loop) -> int:
    """Every command the sandbox's redis-server ran so far, scripts' inner calls included."""
    client = redis.Redis.from_url(loop.sandbox["REDIS_URL"])
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return sum(int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info")


def test_attribution_costs_commands_only_for_a_reply_to_a_campaign(loop: Loop) -> None:
    lead, other = _numbers(loop, 2)
    loop.customer_says(other, "oi")
    loop.conversation_of(other)
    made = created(loop, "Novidade!", [{"phone": lead, "name": "Ana Souza"}])  # the name the webhooks carry
    settled(loop, made["id"], sent=1, read=1)  # its echo and receipts are in: nothing else is on its way
    uazapi = Uazapi(token=loop.tenant.token)
    key = loop.sandbox["QSTASH_CURRENT_SIGNING_KEY"]

    def cost(contact: str, text: str) -> int:
        # the server counts the stand-ins' commands too (QStash's polling, a late delivery record): one
        # landing in the window only adds, so the steady figures are the fewest of two
        before = _commands(loop)
        answer = deliver(loop.app.url, loop.tenant.inbound_path, body(uazapi.text(text, contact=contact)), key=key)
        assert answer.status_code == 200 and answer.json()["outcome"] == "stored", answer.text
        return _commands(loop) - before

    cost(other, "oi de novo")  # the conversation takes the webhooks' contact name: a steady one from here on
    steady = min(cost(other, "tudo bem?"), cost(other, "e aí?"))  # a message in a conversation of no campaign
    reply = cost(lead, "quero saber mais")  # the lead's first reply after the campaign's message
    after = min(cost(lead, "e o preço?"), cost(lead, "e o prazo?"))  # attributed: back to the steady cost
    assert reply > steady and after == steady, (steady, reply, after)
    assert campaign(loop, made["id"])["counters"]["replied"] == 1

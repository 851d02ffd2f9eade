"""A campaign that starts beyond QStash's longest delay (7 days on its smallest plan) gets there in
hops, each one QStash message, and then runs once. Its own sandbox: it moves the clock by days."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.campaigns.helpers import campaign, created, settled
from tests.conversation_loop import Loop
from tests.sandbox.qstash_helpers import advance, now_ms, own_sandbox, raw
from tests.support import AppProcess
from zapline.sandbox.redis_server import free_port

DAY = 86400


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    with own_sandbox(Path(tmp_path_factory.mktemp("campaign-long-start"))) as settings:
        app = AppProcess(settings, free_port())
        try:
            app.start()
            yield Loop(app, settings)
        finally:
            app.stop()


def _pages(loop: Loop, campaign_id: str) -> list[dict[str, Any]]:
    """The campaign's fan-out messages QStash accepted, oldest first: their body and ``notBefore`` (ms)."""
    events = raw(loop.sandbox, "GET", "/v2/events", params={"label": "job-campaign-fanout", "state": "CREATED"})
    out = []
    for event in sorted(events.json()["events"], key=lambda e: e["time"]):
        job = json.loads(base64.b64decode(event["body"]))
        if job["campaign_id"] == campaign_id:
            message = raw(loop.sandbox, "GET", f"/v2/messages/{event['messageId']}").json()
            out.append({"job": job, "not_before": message["notBefore"]})
    return out


def test_a_start_ten_days_ahead_is_reached_in_hops(loop: Loop) -> None:
    number = loop.new_number()
    start = datetime.fromtimestamp(now_ms(loop.sandbox) / 1000 + 10 * DAY, ZoneInfo("America/Sao_Paulo"))
    start = start.replace(second=0, microsecond=0)
    made = created(loop, "Chegou o dia!", [{"phone": number}], start_at=start.strftime("%Y-%m-%dT%H:%M"))
    assert made["status"] == "scheduled"
    [hop] = _pages(loop, made["id"])
    assert hop["job"]["wait_until"] == int(start.timestamp()) and hop["job"]["hop_at"] * 1000 == hop["not_before"]
    assert 7 * DAY - 120 <= hop["job"]["hop_at"] - now_ms(loop.sandbox) / 1000 <= 7 * DAY

    advance(loop.sandbox, 7 * DAY + 60)  # the hop runs: it publishes the first page, due at the start
    pages = _pages(loop, made["id"])
    assert len(pages) == 2 and pages[1]["not_before"] == int(start.timestamp()) * 1000
    assert "wait_until" not in pages[1]["job"] and campaign(loop, made["id"])["status"] == "scheduled"
    assert loop.sent(number) == []

    advance(loop.sandbox, start.timestamp() - now_ms(loop.sandbox) / 1000 + 1)
    settled(loop, made["id"], sent=1)
    assert [s["text"] for s in loop.sent(number)] == ["Chegou o dia!"]

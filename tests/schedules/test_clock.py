"""Schedules firing on QStash's clock, and the hourly tick publishing per-organisation jobs. These
move the clock and register organisations, so they run against a sandbox and app of their own
(the session's clock is shared by every test)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest

from tests.sandbox.qstash_helpers import advance, now_ms, own_stack
from tests.schedules.helpers import cli, qstash
from tests.schedules.kinds import per_org
from tests.support import run

T = TypeVar("T")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with own_stack(Path(tmp_path_factory.mktemp("schedules-clock"))) as settings:
        yield settings


@pytest.fixture
def in_process(stack: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """This process configured like the app (for calling the tick directly)."""
    from zapline.config import get_settings

    for name, value in stack.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield stack
    get_settings.cache_clear()


def test_advancing_the_clock_fires_the_sweeper_route(stack: dict[str, str]) -> None:
    assert cli(stack, "schedules", "sync")["created"] == ["sweeper", "tick"]
    answer: dict[str, Any] = dict(advance(stack, 300))
    fired = [d for d in answer["deliveries"] if d.get("scheduleId") == "zapline-sweeper"]
    assert fired, answer
    assert {(d["url"], d["outcome"], d["status"]) for d in fired} == {
        (f"{stack['APP_URL']}/api/cron/sweeper", "delivered", 200)
    }


def created(env: dict[str, str], label: str) -> list[dict[str, Any]]:
    response = qstash(env, "GET", "/v2/logs", params={"label": label, "state": "CREATED"})
    response.raise_for_status()
    events: list[dict[str, Any]] = response.json()["logs"]
    return events


def test_a_tick_publishes_each_organisations_firing_once_however_often_it_runs(in_process: dict[str, str]) -> None:
    from zapline.cronjobs import org_timezones, run_tick

    orgs = {
        tz: cli(in_process, "orgs", "add", tz, "--timezone", tz)["org_id"]
        for tz in ("America/Sao_Paulo", "Europe/Lisbon", "Asia/Kolkata")
    }
    assert run(org_timezones()) == {org_id: tz for tz, org_id in orgs.items()}
    schedules = [
        per_org("evening", "0 18 * * *"),  # Kolkata: 12:30 UTC
        per_org("morning", "0 9 * * *"),  # São Paulo: 12:00 UTC
        per_org("midday", "0 12,13 * * *"),  # Lisbon: 12:00 UTC, winter (12:00) or summer (13:00)
    ]
    day = datetime.fromtimestamp(now_ms(in_process) / 1000, UTC).date() + timedelta(days=2)
    tick = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)  # two days ahead: nothing is delivered

    first = run(run_tick(schedules, tick + timedelta(seconds=3)))
    again = run(run_tick(schedules, tick + timedelta(minutes=2, seconds=40)))  # QStash's 2nd retry
    assert (first["enqueued"], first["orgs"], first["tick"]) == (3, 3, tick.isoformat())
    assert again == first

    events = created(in_process, "job-digest")
    print(events[0])
    assert len(events) == 3, events  # the repeated tick was deduplicated by QStash
    assert {e["url"] for e in events} == {f"{in_process['APP_URL']}/api/jobs/digest"}
    noon, date = int(tick.timestamp()), day.isoformat()
    lisbon_offset = ZoneInfo("Europe/Lisbon").utcoffset(tick.replace(tzinfo=None))
    lisbon_midday = "12:00" if lisbon_offset == timedelta(0) else "13:00"
    jobs = [(json.loads(base64.b64decode(e["body"])), e["nextDeliveryTime"] // 1000) for e in events]
    assert sorted((j["org_id"], at) for j, at in jobs) == sorted([
        (orgs["Asia/Kolkata"], noon + 1800), (orgs["America/Sao_Paulo"], noon), (orgs["Europe/Lisbon"], noon),
    ])  # fmt: skip
    assert {(j["schedule"], j["local_time"]) for j, _ in jobs} == {
        ("evening", f"{date}T18:00"), ("morning", f"{date}T09:00"), ("midday", f"{date}T{lisbon_midday}"),
    }  # fmt: skip

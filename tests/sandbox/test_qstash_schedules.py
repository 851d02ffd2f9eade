"""Schedules with the official SDK: lifecycle (sync and async, on the session sandbox, with crons
that cannot fire during a run) and, on a sandbox of its own, firing under the sandbox clock:
``CRON_TZ`` instants, pause, queues, URL groups."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from qstash.errors import QStashError
from qstash.schedule import ScheduleState

from tests.receiver import HttpReceiver
from tests.sandbox.qstash_helpers import advance, async_client, client, now_ms, raw, unique, verify


def test_schedule_lifecycle(sandbox: dict[str, str], rx: HttpReceiver) -> None:
    qstash = client(sandbox)
    schedule_id = qstash.schedule.create_json(
        cron="1 1 1 1 1", destination=rx.url_for("/never"), body={"k": "v"}, retry_delay="5000 * retried",
        retries=2, timeout=30, delay="10s", label="nightly", flow_control={"key": "fk", "parallelism": 2},
        headers={"X-H": "1"}, callback=rx.url_for("/cb"),
    )  # fmt: skip
    schedule = qstash.schedule.get(schedule_id)
    assert (schedule.schedule_id, schedule.cron, schedule.destination) == (
        schedule_id,
        "1 1 1 1 1",
        rx.url_for("/never"),
    )
    assert schedule.retry_delay_expression == "5000 * retried" and schedule.retries == 2
    assert schedule.body == '{"k": "v"}' and schedule.method == "POST" and schedule.label == "nightly"
    assert schedule.delay == 10 and schedule.timeout == 30 and schedule.callback == rx.url_for("/cb")
    assert schedule.headers == {"Content-Type": ["application/json"], "X-H": ["1"]}
    assert schedule.flow_control is not None
    assert (schedule.flow_control.key, schedule.flow_control.parallelism) == ("fk", 2)
    assert (schedule.flow_control.rate, schedule.flow_control.period) == (None, 1)
    assert schedule.paused is False and schedule.next_schedule_time is not None
    assert any(s.schedule_id == schedule_id for s in qstash.schedule.list())
    qstash.schedule.pause(schedule_id)
    assert qstash.schedule.get(schedule_id).paused is True
    qstash.schedule.resume(schedule_id)
    assert qstash.schedule.get(schedule_id).paused is False
    qstash.schedule.delete(schedule_id)
    assert not any(s.schedule_id == schedule_id for s in qstash.schedule.list())
    with pytest.raises(QStashError, match="404"):
        qstash.schedule.get(schedule_id)


def test_a_schedule_id_makes_create_an_upsert(sandbox: dict[str, str], rx: HttpReceiver) -> None:
    qstash, schedule_id = client(sandbox), unique("scd")
    assert (
        qstash.schedule.create(destination=rx.url_for("/a"), cron="1 1 1 1 1", schedule_id=schedule_id) == schedule_id
    )
    created = qstash.schedule.get(schedule_id).created_at
    qstash.schedule.create(destination=rx.url_for("/b"), cron="2 2 2 2 2", schedule_id=schedule_id, queue="sq")
    schedule = qstash.schedule.get(schedule_id)
    assert (schedule.cron, schedule.destination, schedule.queue) == ("2 2 2 2 2", rx.url_for("/b"), "sq")
    assert schedule.created_at == created
    assert [s.schedule_id for s in qstash.schedule.list()].count(schedule_id) == 1
    # The OpenAPI document pauses with POST where the SDK uses PATCH: both work.
    assert raw(sandbox, "POST", f"/v2/schedules/{schedule_id}/pause").status_code == 200
    assert qstash.schedule.get(schedule_id).paused
    qstash.schedule.delete(schedule_id)


@pytest.mark.parametrize(
    ("headers", "destination", "status", "error"),
    [
        ({}, "{url}", 400, "Upstash-Cron"),
        ({"Upstash-Cron": "every minute"}, "{url}", 400, "cron"),
        ({"Upstash-Cron": "61 * * * *"}, "{url}", 400, "out of range"),
        ({"Upstash-Cron": "CRON_TZ=Nowhere/City 0 9 * * *"}, "{url}", 400, "time zone"),
        ({"Upstash-Cron": "* * * * *", "Upstash-Schedule-Id": "bad id!"}, "{url}", 400, "Upstash-Schedule-Id"),
        ({"Upstash-Cron": "* * * * *"}, "missing-group", 404, "not found"),
        ({"Upstash-Cron": "* * * * *"}, "mailto:x@example.com", 400, "invalid scheme"),
    ],
)
def test_invalid_schedules_are_refused_and_not_stored(
    sandbox: dict[str, str], rx: HttpReceiver, headers: dict[str, str], destination: str, status: int, error: str
) -> None:
    url = rx.url_for(f"/{unique()}")
    response = raw(sandbox, "POST", f"/v2/schedules/{destination.format(url=url)}", headers=headers)
    assert response.status_code == status and error in response.json()["error"]
    assert not [s for s in client(sandbox).schedule.list() if s.destination == url]


def test_the_async_client_manages_schedules(sandbox: dict[str, str], rx: HttpReceiver) -> None:
    async def go() -> None:
        async with async_client(sandbox) as qstash:
            schedule_id = await qstash.schedule.create(destination=rx.url_for("/x"), cron="*/10 * 1 1 *", body="b")
            assert (await qstash.schedule.get(schedule_id)).body == "b"
            await qstash.schedule.pause(schedule_id)
            assert (await qstash.schedule.get(schedule_id)).paused
            await qstash.schedule.resume(schedule_id)
            assert schedule_id in [s.schedule_id for s in await qstash.schedule.list()]
            await qstash.schedule.delete(schedule_id)
            assert schedule_id not in [s.schedule_id for s in await qstash.schedule.list()]

    asyncio.run(go())


def seconds_until(settings: dict[str, str], hour_utc: int) -> int:
    """Seconds from the sandbox's now to the next HH:00:00 UTC."""
    now = datetime.fromtimestamp(now_ms(settings) / 1000, UTC)
    target = now.replace(hour=hour_utc, minute=0, second=0, microsecond=0)
    if target <= now + timedelta(seconds=5):
        target += timedelta(days=1)
    return int((target - now).total_seconds())


def test_a_cron_tz_schedule_fires_at_its_local_instants(clocked: dict[str, str], rx: HttpReceiver) -> None:
    qstash, path = client(clocked), f"/{unique()}"
    # São Paulo has been UTC-3 all year since 2019: 09:00 there is 12:00 UTC.
    schedule_id = qstash.schedule.create(
        destination=rx.url_for(path), cron="CRON_TZ=America/Sao_Paulo 0 9 * * *", body="bom dia"
    )
    wait = seconds_until(clocked, 12)
    advance(clocked, wait - 2)
    assert rx.received(path) == []
    advance(clocked, 3)
    (first,) = rx.wait_for(1, path=path)
    assert first.text == "bom dia" and first.headers["upstash-schedule-id"] == schedule_id
    verify(clocked, first, rx.url_for(path))
    schedule = qstash.schedule.get(schedule_id)
    assert schedule.last_schedule_time is not None
    fired_at = datetime.fromtimestamp(schedule.last_schedule_time / 1000, UTC)
    assert (fired_at.hour, fired_at.minute, fired_at.second) == (12, 0, 0)
    assert schedule.next_schedule_time == schedule.last_schedule_time + 86_400_000
    assert schedule.last_schedule_states == {first.headers["upstash-message-id"]: ScheduleState.SUCCESS}
    advance(clocked, 86_400 * 2)
    assert len(rx.received(path)) == 3  # one firing a day, each at its instant
    qstash.schedule.delete(schedule_id)


def test_a_paused_schedule_does_not_fire(clocked: dict[str, str], rx: HttpReceiver) -> None:
    qstash, path = client(clocked), f"/{unique()}"
    schedule_id = qstash.schedule.create(destination=rx.url_for(path), cron="*/5 * * * *")
    qstash.schedule.pause(schedule_id)
    advance(clocked, 3600)
    assert rx.received(path) == []
    qstash.schedule.resume(schedule_id)
    advance(clocked, 300)
    assert len(rx.received(path)) == 1
    qstash.schedule.delete(schedule_id)


def test_schedules_can_target_queues_and_url_groups(clocked: dict[str, str], rx: HttpReceiver) -> None:
    qstash, group, queue = client(clocked), unique("g"), unique("q")
    a, b = f"/{unique()}", f"/{unique()}"
    qstash.url_group.upsert_endpoints(group, [{"url": rx.url_for(a)}, {"url": rx.url_for(b)}])
    to_group = qstash.schedule.create(destination=group, cron="0 * * * *", body="g")
    to_queue = qstash.schedule.create(destination=rx.url_for(a), cron="0 * * * *", body="q", queue=queue)
    deleting = raw(clocked, "DELETE", f"/v2/topics/{group}")
    assert deleting.status_code == 412 and to_group in deleting.json()["error"]
    advance(clocked, 3600)
    got = rx.wait_for(2, path=a) + rx.wait_for(1, path=b)
    assert sorted(r.text for r in got) == ["g", "g", "q"]
    assert {r.headers["upstash-topic-name"] for r in got if r.text == "g"} == {group}
    queued = next(r for r in got if r.text == "q")
    assert client(clocked).message.get(queued.headers["upstash-message-id"]).queue == queue
    for schedule_id in (to_group, to_queue):
        qstash.schedule.delete(schedule_id)

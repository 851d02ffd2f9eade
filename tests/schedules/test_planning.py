"""The per-organisation plan of one hourly tick: pure, so every zone rule is checked offline."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.schedules.kinds import DIGEST, DigestJob, per_org
from zapline.jobs.kinds import SWEEP
from zapline.registry.jobs import JobKind, JobPayload, header_safe
from zapline.registry.schedules import SCHEDULES, Planned, Schedule, check_declared, plan_tick, tick_hour

SP, LISBON, KOLKATA = "org_saopaulo0", "org_lisbon000", "org_kolkata00"
ORGS = {SP: "America/Sao_Paulo", LISBON: "Europe/Lisbon", KOLKATA: "Asia/Kolkata"}
EVENING = per_org("evening", "0 18 * * *")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def day_of_ticks(schedules: list[Schedule], orgs: dict[str, str], day: str) -> list[Planned]:
    start = utc(f"{day}T00:00")
    return [p for hour in range(24) for p in plan_tick(schedules, orgs, start + timedelta(hours=hour))]


def test_sao_paulo_and_lisbon_evenings_fall_in_their_own_tick_hours() -> None:
    lisbon_tick = plan_tick([EVENING], ORGS, utc("2025-01-15T18:00"))
    assert lisbon_tick == [Planned(int(utc("2025-01-15T18:00").timestamp()), "evening", LISBON, "2025-01-15T18:00")]
    sp_tick = plan_tick([EVENING], ORGS, utc("2025-01-15T21:00"))
    assert sp_tick == [Planned(int(utc("2025-01-15T21:00").timestamp()), "evening", SP, "2025-01-15T18:00")]
    assert sp_tick[0].dedup == "evening-org_saopaulo0-2025-01-15T18:00"


def test_one_tick_window_plans_both_zones_when_both_fire_in_it() -> None:
    both = per_org("both", "0 15,18 * * *")  # 15:00 in São Paulo and 18:00 in Lisbon are both 18:00 UTC
    planned = plan_tick([both], {SP: ORGS[SP], LISBON: ORGS[LISBON]}, utc("2025-01-15T18:00"))
    assert [(p.org_id, p.local_time, p.not_before) for p in planned] == [
        (LISBON, "2025-01-15T18:00", int(utc("2025-01-15T18:00").timestamp())),
        (SP, "2025-01-15T15:00", int(utc("2025-01-15T18:00").timestamp())),
    ]


def test_every_organisation_fires_once_a_day_at_its_local_time_over_24_ticks() -> None:
    for day in ("2025-01-15", "2025-07-15", "2025-03-30", "2025-10-26"):  # winter, summer, both DST changes
        planned = day_of_ticks([EVENING], ORGS, day)
        assert sorted(p.org_id for p in planned) == sorted(ORGS), day
        for p in planned:
            assert p.local_time == f"{day}T18:00"
            local = datetime.fromtimestamp(p.not_before, ZoneInfo(ORGS[p.org_id]))
            assert (local.hour, local.minute) == (18, 0)


def test_lisbon_evening_moves_an_hour_earlier_in_utc_when_summer_time_starts() -> None:
    before = day_of_ticks([EVENING], {LISBON: ORGS[LISBON]}, "2025-03-29")
    after = day_of_ticks([EVENING], {LISBON: ORGS[LISBON]}, "2025-03-30")
    assert datetime.fromtimestamp(before[0].not_before, UTC).hour == 18  # WET, UTC+0
    assert datetime.fromtimestamp(after[0].not_before, UTC).hour == 17  # WEST, UTC+1


def test_a_local_time_skipped_by_spring_forward_does_not_fire_that_day() -> None:
    early = per_org("early", "30 1 * * *")  # Lisbon 2025-03-30: 01:00 → 02:00, so 01:30 never happens
    assert day_of_ticks([early], {LISBON: ORGS[LISBON]}, "2025-03-30") == []
    assert len(day_of_ticks([early], {LISBON: ORGS[LISBON]}, "2025-03-31")) == 1


def test_a_local_time_repeated_by_fall_back_fires_once_at_its_first_occurrence() -> None:
    early = per_org("early", "30 1 * * *")  # Lisbon 2025-10-26: 02:00 → 01:00, so 01:30 happens twice
    planned = day_of_ticks([early], {LISBON: ORGS[LISBON]}, "2025-10-26")
    assert [(p.local_time, datetime.fromtimestamp(p.not_before, UTC)) for p in planned] == [
        ("2025-10-26T01:30", utc("2025-10-26T00:30"))  # 01:30 WEST; not again at 01:30 WET (01:30 UTC)
    ]


def test_kolkata_half_hour_offset_lands_at_half_past_inside_the_tick() -> None:
    planned = plan_tick([EVENING], ORGS, utc("2025-01-15T12:00"))
    assert planned == [Planned(int(utc("2025-01-15T12:30").timestamp()), "evening", KOLKATA, "2025-01-15T18:00")]
    assert plan_tick([EVENING], ORGS, utc("2025-01-15T13:00")) == []


def test_local_date_is_the_organisations_own() -> None:
    midnight = per_org("midnight", "0 0 * * *")
    planned = plan_tick([midnight], {"org_tokyo0000": "Asia/Tokyo"}, utc("2025-01-15T15:00"))
    assert [p.local_time for p in planned] == ["2025-01-16T00:00"]


def test_a_cron_firing_several_times_an_hour_plans_each_firing() -> None:
    quarter = per_org("quarter", "*/15 9 * * *")
    planned = plan_tick([quarter], {KOLKATA: ORGS[KOLKATA]}, utc("2025-01-15T03:00"))  # 08:30–09:30 IST
    assert [p.local_time[-5:] for p in planned] == ["09:00", "09:15"]
    assert len({p.dedup for p in planned}) == 2


def test_utc_per_org_schedules_ignore_the_organisations_zone() -> None:
    noon = per_org("noon", "0 12 * * *", timezone="UTC")
    planned = plan_tick([noon], ORGS, utc("2025-01-15T12:00"))
    assert sorted(p.org_id for p in planned) == sorted(ORGS)
    assert {p.local_time for p in planned} == {"2025-01-15T12:00"}


def test_the_plan_is_deterministic_and_its_dedup_ids_are_header_safe() -> None:
    many = {f"org_{i:010d}": zone for i, zone in enumerate(["America/Sao_Paulo", "Asia/Kolkata"] * 50)}
    first = plan_tick([EVENING], many, utc("2025-01-15T21:00"))
    assert first == plan_tick([EVENING], dict(reversed(list(many.items()))), utc("2025-01-15T21:00"))
    assert len(first) == 50
    assert all(header_safe(p.dedup) == p.dedup for p in first)
    job = DigestJob(org_id=first[0].org_id, schedule="evening", local_time=first[0].local_time)
    assert DIGEST.dedup is not None and DIGEST.dedup(job) == first[0].dedup


def test_once_schedules_are_not_planned_by_the_tick() -> None:
    assert plan_tick([s for s in SCHEDULES if not s.per_org], ORGS, utc("2025-01-15T12:00")) == []


@pytest.mark.parametrize(
    ("now", "tick"),
    [("2025-01-15T09:59:59", "2025-01-15T10:00"), ("2025-01-15T10:02:40", "2025-01-15T10:00"),
     ("2025-01-15T10:29:00", "2025-01-15T10:00"), ("2025-01-15T23:45:00", "2025-01-16T00:00")],
)  # fmt: skip
def test_a_late_retry_or_an_early_clock_plans_the_same_tick(now: str, tick: str) -> None:
    assert tick_hour(utc(now)) == utc(tick)


def test_the_declared_schedules() -> None:
    assert [(s.name, s.cron, s.timezone, s.fan_out) for s in SCHEDULES] == [
        ("sweeper", "*/5 * * * *", "UTC", "once"),
        ("retention", "30 3 * * *", "org", "per_org"),
        ("contact-sync", "0 */6 * * *", "org", "per_org"),
        ("daily-summary", "0 18 * * *", "org", "per_org"),
        ("birthdays", "0 9 * * *", "org", "per_org"),
        ("inactive", "0 10 * * 1", "org", "per_org"),
        ("opportunities", "0 15 * * 2,4", "org", "per_org"),
        ("weekly-report", "0 23 * * 0", "org", "per_org"),
    ]
    assert (SCHEDULES[0].schedule_id, SCHEDULES[0].path, SCHEDULES[0].job) == (
        "zapline-sweeper",
        "/api/cron/sweeper",
        SWEEP,
    )


class Plain(JobPayload):
    pass


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: Schedule("Bad Name", "* * * * *", job=SWEEP), "schedule name"),
        (lambda: Schedule("tick", "* * * * *", job=SWEEP), "schedule name"),
        (lambda: Schedule("x", "CRON_TZ=Europe/Lisbon 0 9 * * *", job=SWEEP), "timezone="),
        (lambda: Schedule("x", "0 25 * * *", job=SWEEP), "hour"),
        (lambda: Schedule("x", "0 9 * * *", job=SWEEP, timezone="org"), "per_org"),
        (lambda: Schedule("x", "0 9 * * *", job=DIGEST), "org_id"),  # once: the body needs defaults
        (lambda: Schedule("x", "0 9 * * *", job=JobKind("plain", Plain, "m:f"), fan_out="per_org"), "ScheduledJob"),
        (lambda: check_declared([per_org("a", "0 9 * * *"), per_org("a", "0 10 * * *")]), "declared twice"),
    ],
)
def test_declarations_are_checked(make: Callable[[], object], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        make()

"""The schedule registry: every recurring job declared once, as data (as arq declares ``cron_jobs``).

A :class:`Schedule` names a five-field cron, the time zone it is read in (``"UTC"``, or ``"org"``:
each organisation's own) and how it fans out (``"once"`` for the deployment, or ``"per_org"``).
From the declarations come the cron function's routes (:mod:`zapline.cronjobs`) and the QStash
schedules that ``zapline schedules sync`` keeps equal to them (:mod:`zapline.admin.schedules`).

- A ``once`` schedule is one QStash schedule, id ``zapline-<name>``, posting to ``/api/cron/<name>``.
- Every ``per_org`` schedule shares ONE hourly QStash schedule, ``zapline-tick``. Each tick plans
  the hour ahead (:func:`plan_tick`): for every organisation, each local firing of the schedule's
  cron in the organisation's zone that falls in ``[tick, tick + 1h)`` becomes a job published
  with ``Upstash-Not-Before`` at that instant and the deduplication id
  ``<schedule>-<org>-<local date and time>``, so a retried tick publishes nothing twice. One tick
  serves every zone, half-hour ones included, however many organisations there are, where one
  ``CRON_TZ=`` schedule per zone would grow with the zones in use against QStash's schedule cap.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal
from zoneinfo import ZoneInfo

from zapline.cron import Cron, parse_cron
from zapline.jobs.kinds import AUTOMATION, CONTACT_SYNC_START, RETENTION, SWEEP
from zapline.registry.jobs import JobKind, JobPayload, ScheduledJob, scheduled_dedup

__all__ = [
    "CRON_PREFIX",
    "PREFIX",
    "SCHEDULES",
    "TICK",
    "Planned",
    "Schedule",
    "ScheduledJob",
    "TickSchedule",
    "plan_tick",
    "check_declared",
    "scheduled_dedup",
    "tick_hour",
]

PREFIX = "zapline-"  # QStash schedule ids Zapline owns; `schedules sync` never touches any other
CRON_PREFIX = "/api/cron/"
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,40}$")
HOUR_MS = 3_600_000


@dataclass(frozen=True)
class Schedule:
    """One recurring job. ``cron`` has five fields and no ``CRON_TZ=``: ``timezone`` says the zone."""

    name: str
    cron: str
    job: JobKind[Any]
    timezone: Literal["UTC", "org"] = "UTC"
    fan_out: Literal["once", "per_org"] = "once"

    def __post_init__(self) -> None:
        if not _NAME.match(self.name) or self.name == "tick":
            raise ValueError(f"schedule name {self.name!r}: lowercase letters, digits and '-', not 'tick'")
        if self.cron.strip().upper().startswith(("CRON_TZ=", "TZ=")):
            raise ValueError(f"schedule {self.name!r}: say the zone with timezone=, not CRON_TZ= in the cron")
        parse_cron(self.cron)  # a ValueError that names the wrong field
        if self.fan_out == "once":
            if self.timezone != "UTC":
                raise ValueError(f"schedule {self.name!r}: timezone='org' needs fan_out='per_org'")
            self.job.payload()  # its body is the payload's defaults: every field needs one
        elif not (issubclass(self.job.payload, ScheduledJob) and self.job.dedup is scheduled_dedup):
            raise ValueError(
                f"schedule {self.name!r}: a per_org job kind needs a ScheduledJob payload and dedup=scheduled_dedup"
            )
        else:  # the tick builds it from these alone
            self.job.payload(org_id="org_0000000000", schedule=self.name, local_time="2000-01-01T00:00")

    @property
    def schedule_id(self) -> str:
        return PREFIX + self.name

    @property
    def path(self) -> str:
        return CRON_PREFIX + self.name

    @property
    def per_org(self) -> bool:
        return self.fan_out == "per_org"

    def body(self) -> bytes:
        """What the QStash schedule posts: the job's payload with its defaults."""
        payload: JobPayload = self.job.payload()
        return payload.model_dump_json(exclude_defaults=True).encode()

    def parsed(self) -> Cron:
        return parse_cron(self.cron)


@dataclass(frozen=True)
class TickSchedule:
    """The one hourly QStash schedule behind every per-organisation schedule."""

    name: str = "tick"
    cron: str = "0 * * * *"
    # Every retry of a tick (QStash backs off 12 s, then 2 min 28 s) lands inside the 10-minute
    # deduplication window of the jobs it published, so a retried tick publishes nothing twice.
    retries: int = 2

    @property
    def schedule_id(self) -> str:
        return PREFIX + self.name

    @property
    def path(self) -> str:
        return CRON_PREFIX + self.name


TICK = TickSchedule()


@dataclass(frozen=True, order=True)
class Planned:
    """One per-organisation firing planned by a tick."""

    not_before: int  # unix seconds: when QStash delivers the job
    schedule: str
    org_id: str
    local_time: str  # "YYYY-MM-DDTHH:MM" in the organisation's zone

    @property
    def dedup(self) -> str:
        return f"{self.schedule}-{self.org_id}-{self.local_time}"


def plan_tick(schedules: Iterable[Schedule], orgs: Mapping[str, str], tick: datetime) -> list[Planned]:
    """Every firing of the per-organisation ``schedules`` in ``[tick, tick + 1h)``, for each
    organisation of ``orgs`` (id → IANA zone), in time order.

    Pure: the same arguments always give the same plan, so a retried tick plans the same jobs.
    A local time skipped by a daylight-saving jump does not fire that day; one that happens twice
    fires once, at its first occurrence (as the cron parser reads every zone).
    """
    if tick.tzinfo is None:
        raise ValueError("tick must be an aware datetime")
    start_ms = int(tick.timestamp() * 1000)
    by_zone: dict[str, list[str]] = defaultdict(list)
    for org_id, zone_name in orgs.items():
        by_zone[zone_name].append(org_id)
    planned: list[Planned] = []
    for schedule in schedules:
        if not schedule.per_org:
            continue
        cron = schedule.parsed()
        for zone_name, org_ids in by_zone.items():
            zone: ZoneInfo | timezone = ZoneInfo(zone_name) if schedule.timezone == "org" else UTC
            for at in cron.in_zone(zone).between(start_ms, start_ms + HOUR_MS):
                local = datetime.fromtimestamp(at / 1000, zone).strftime("%Y-%m-%dT%H:%M")
                planned.extend(Planned(at // 1000, schedule.name, org_id, local) for org_id in org_ids)
    return sorted(planned)


def tick_hour(now: datetime) -> datetime:
    """The tick a delivery at ``now`` belongs to: the nearest whole UTC hour, so a retry a few
    minutes late, or a clock a second early, plans the same hour."""
    return (now.astimezone(UTC) + timedelta(minutes=30)).replace(minute=0, second=0, microsecond=0)


def check_declared(schedules: Iterable[Schedule]) -> list[Schedule]:
    """``schedules`` as a list, once each name is known to be declared only once."""
    listed = list(schedules)
    names = [s.name for s in listed]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"schedules declared twice: {', '.join(twice)}")
    return listed


SCHEDULES: list[Schedule] = check_declared([
    Schedule("sweeper", "*/5 * * * *", job=SWEEP),
    # messages past the organisation's retention period, week-old dead letters: 03:30, its quietest hour
    Schedule("retention", "30 3 * * *", job=RETENTION, timezone="org", fan_out="per_org"),
    # every 6 hours of each organisation's day, through the one hourly tick (no QStash schedule of its own)
    Schedule("contact-sync", "0 */6 * * *", job=CONTACT_SYNC_START, timezone="org", fan_out="per_org"),
    # the organisation's automations (zapline.automations), at their local times, through the tick
    Schedule("daily-summary", "0 18 * * *", job=AUTOMATION, timezone="org", fan_out="per_org"),
    Schedule("birthdays", "0 9 * * *", job=AUTOMATION, timezone="org", fan_out="per_org"),
    Schedule("inactive", "0 10 * * 1", job=AUTOMATION, timezone="org", fan_out="per_org"),
    Schedule("opportunities", "0 15 * * 2,4", job=AUTOMATION, timezone="org", fan_out="per_org"),
    Schedule("weekly-report", "0 23 * * 0", job=AUTOMATION, timezone="org", fan_out="per_org"),
])  # fmt: skip
"""Every declared schedule. Adding one is one line here (plus its job kind, in jobs/kinds.py)."""

"""A per-organisation job kind and schedules declared only by these tests."""

from __future__ import annotations

from typing import Any

from zapline.registry.jobs import JobKind
from zapline.registry.schedules import Schedule, ScheduledJob, scheduled_dedup


class DigestJob(ScheduledJob):
    pass


async def digest(job: DigestJob, delivery: Any) -> dict[str, Any]:
    return {"outcome": "digested", "local_time": job.local_time}


DIGEST = JobKind(name="digest", payload=DigestJob, handler="tests.schedules.kinds:digest", dedup=scheduled_dedup)


def per_org(name: str, cron: str, *, timezone: Any = "org") -> Schedule:
    return Schedule(name, cron, job=DIGEST, timezone=timezone, fan_out="per_org")

"""One firing of an automation: which organisation, which local date and time, and whether it ran.

Everything an automation decides is relative to its firing, not to the clock of the function that
runs it: "today" is the firing's local date, "no message for 30 days" counts back from the firing's
instant. So a job retried an hour late reports the same day, and the sandbox clock (which moves
QStash's time, not the functions') drives a simulated week.

The firing's marker (``OrgKeys.automation_run``) is set once the automation has done everything:
a QStash retry after its 10-minute deduplication window finds it and does nothing. Until then a
repeat redoes the work, and each step is idempotent on its own (owner messages by key, lead messages
by a message id derived from the firing), so a crash halfway sends nothing twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from zapline.clients import redis_client
from zapline.errors import InvalidPayload
from zapline.store.keys import AUTOMATION_RUN_TTL, OrgKeys
from zapline.store.scripts import run_redis

__all__ = ["MANUAL", "Firing", "firing_of", "message_id"]

MANUAL = "now-"  # org_schedules.run_now's local_time: "now-YYYY-MM-DDTHH:MM:SS"


@dataclass(frozen=True)
class Firing:
    org_id: str
    schedule: str
    local_time: str  # as the job carries it: the marker's name
    at: datetime  # aware, in the organisation's zone
    manual: bool  # run now by the owner (not the tick's): runs even while the schedule is paused

    @property
    def day(self) -> date:
        return self.at.date()

    @property
    def ms(self) -> int:
        return int(self.at.timestamp() * 1000)

    def days_ago_ms(self, days: float) -> int:
        return int((self.at - timedelta(days=days)).timestamp() * 1000)

    def key(self, *parts: str) -> str:
        """A name for something this firing does once (an owner message's key)."""
        return "-".join((self.schedule, *parts, self.local_time.replace(":", "")))

    async def done(self) -> bool:
        key = OrgKeys(self.org_id).automation_run(self.schedule, self.local_time)
        return bool(await run_redis(redis_client().get(key)) == "done")

    async def mark_done(self) -> None:
        key = OrgKeys(self.org_id).automation_run(self.schedule, self.local_time)
        await run_redis(redis_client().set(key, "done", ex=AUTOMATION_RUN_TTL))


def firing_of(org_id: str, schedule: str, local_time: str, zone: str) -> Firing:
    """The firing a job names: ``YYYY-MM-DDTHH:MM`` from the tick, ``now-YYYY-MM-DDTHH:MM:SS`` from run-now.

    A local time that happens twice (clocks going back) is read at its first occurrence, as the tick
    planned it."""
    manual = local_time.startswith(MANUAL)
    text = local_time.removeprefix(MANUAL)
    try:
        naive = datetime.fromisoformat(text)
        if naive.tzinfo is not None or len(text) not in (16, 19):
            raise ValueError(text)
    except ValueError:
        raise InvalidPayload(f"local_time {local_time[:40]!r} is not YYYY-MM-DDTHH:MM", field="local_time",
                             org=org_id) from None  # fmt: skip
    return Firing(org_id, schedule, local_time, naive.replace(tzinfo=ZoneInfo(zone), fold=0), manual)


def message_id(*parts: str) -> str:
    """A lead message's id derived from what it is for: queued twice, it is one message, sent once."""
    return "msg_auto_" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]

"""jobs/automation: one firing of an organisation's automation (``zapline.automations``), once.

The hourly tick publishes it with ``Upstash-Not-Before`` at the local time and the deduplication id
``<schedule>-<org>-<local date and time>``; QStash drops a repeat for 10 minutes only, so the firing's
own marker (:class:`~zapline.automations.firing.Firing`) makes a later retry, or a replayed tick,
do nothing. A firing planned before its automation was switched off does nothing either, unless the
owner ran it now (``POST /api/v1/schedules/<name>/run``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from zapline.automations.firing import Firing, firing_of
from zapline.automations.opportunities import opportunities
from zapline.automations.outreach import birthdays, inactive
from zapline.automations.reports import daily_summary, weekly_report
from zapline.automations.settings import AllSettings, load
from zapline.http import Delivery
from zapline.jobs.kinds import AutomationJob
from zapline.logs import get_logger
from zapline.store.clock import org_timezone

__all__ = ["AUTOMATIONS", "run"]

log = get_logger("zapline.jobs.automations")

Automation = Callable[[Firing, AllSettings], Awaitable[dict[str, Any]]]
AUTOMATIONS: dict[str, Automation] = {
    "daily-summary": daily_summary,
    "birthdays": birthdays,
    "inactive": inactive,
    "opportunities": opportunities,
    "weekly-report": weekly_report,
}


async def run(job: AutomationJob, delivery: Delivery) -> dict[str, Any]:
    firing = firing_of(job.org_id, job.schedule, job.local_time, await org_timezone(job.org_id))
    done = {"schedule": job.schedule, "local_time": job.local_time}
    if await firing.done():
        return {**done, "outcome": "already_done"}
    settings = await load(job.org_id)
    if not settings.for_schedule(job.schedule).enabled and not firing.manual:
        return {**done, "outcome": "disabled"}
    result = await AUTOMATIONS[job.schedule](firing, settings)
    await firing.mark_done()
    log.info("automation ran", org=job.org_id, schedule=job.schedule, local_time=job.local_time,
             qstash_message_id=delivery.message_id, outcome=result.get("outcome"))  # fmt: skip
    return {**done, **result}

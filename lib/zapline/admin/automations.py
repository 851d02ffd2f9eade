"""``GET``/``PUT /api/v1/automations``: the organisation's automations and notifications, for its owner.

``enabled`` of a scheduled automation IS its per-organisation schedule's pause flag: switching it off
pauses the schedule (``/api/v1/schedules`` then shows it paused) and pausing the schedule there shows
it off here. The rest (texts, days, keywords) is stored by :mod:`zapline.automations.settings`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from zapline.admin import org_schedules
from zapline.automations.settings import (
    SCHEDULED,
    SECTIONS,
    AllSettings,
    Birthdays,
    DailySummary,
    Inactive,
    Notifications,
    Opportunities,
    Section,
    WeeklyReport,
    forget,
    load,
    save,
)
from zapline.logs import get_logger

__all__ = ["Automations", "AutomationsUpdate", "listing", "update"]

log = get_logger("zapline.admin.automations")


class AutomationRun(BaseModel):
    name: str = Field(description="the per-organisation schedule (/api/v1/schedules)")
    automation: str = Field(description="its section in this answer")
    cron: str
    timezone: str
    enabled: bool
    next_run: str = Field(description="the next firing, ISO 8601 in the organisation's timezone")


class Automations(AllSettings):
    """Every automation's settings, and when each runs next."""

    timezone: str
    schedules: list[AutomationRun]


class AutomationsUpdate(BaseModel):
    """The sections to change; in a section, the fields to change. What is left out stays as it is."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    daily_summary: DailySummary | None = None
    birthdays: Birthdays | None = None
    inactive: Inactive | None = None
    opportunities: Opportunities | None = None
    weekly_report: WeeklyReport | None = None
    notifications: Notifications | None = None


async def listing(org_id: str, settings: AllSettings | None = None) -> Automations:
    current = settings or await load(org_id)
    runs, zone = [], "UTC"
    for row in (await org_schedules.list_for_org(org_id))["schedules"]:
        if row["name"] in SCHEDULED:
            zone = row["timezone"]
            section: Section = getattr(current, SCHEDULED[row["name"]])
            runs.append(AutomationRun(name=row["name"], automation=SCHEDULED[row["name"]], cron=row["cron"],
                                      timezone=zone, enabled=section.enabled, next_run=row["next_run"]))  # fmt: skip
    sections = {name: getattr(current, name) for name in SECTIONS}
    return Automations(**sections, timezone=zone, schedules=runs)


async def update(org_id: str, body: AutomationsUpdate, actor: str) -> Automations:
    current = await load(org_id)
    changed: dict[str, Section] = {}
    for name in body.model_fields_set:
        given: Section | None = getattr(body, name)
        if given is None:
            continue
        before: Section = getattr(current, name)
        after = before.model_copy(update={field: getattr(given, field) for field in given.model_fields_set})
        changed[name] = after
        schedule = after.schedule
        if schedule and "enabled" in given.model_fields_set:
            switch = org_schedules.resume if after.enabled else org_schedules.pause
            await switch(org_id, schedule, actor)
    await save(org_id, changed)
    forget(org_id)  # this warm function; the others read them again within a minute
    log.info("automations changed", org=org_id, key_prefix=actor, sections=sorted(changed))
    return await listing(org_id, current.model_copy(update=changed))

"""Each organisation's automations: what they say and when, as ``GET``/``PUT /api/v1/automations`` shows them.

An automation is on unless its per-organisation schedule is paused (``FIELDS["schedule_paused"]``,
the flag ``/api/v1/schedules`` pauses and resumes), so both APIs always agree. Its other settings
(texts, days, keywords) are JSON in the org hash (``FIELDS["automation"]``), one field each; what was
never set is the default below. Texts are templates with named placeholders only (``{name}``): no
format specs, no attribute access, nothing evaluated.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    field_validator,
)

from zapline.automations.notifying import CACHE_SECONDS, DEFAULT_URGENT_KEYWORDS, forget, notification_settings
from zapline.clients import redis_client
from zapline.store.keys import FIELDS, OrgKeys
from zapline.store.scripts import run_redis

__all__ = [
    "CACHE_SECONDS",
    "SCHEDULED",
    "SECTIONS",
    "Section",
    "AllSettings",
    "Birthdays",
    "DailySummary",
    "Inactive",
    "Notifications",
    "Opportunities",
    "WeeklyReport",
    "forget",
    "load",
    "notification_settings",
    "render",
    "save",
]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_]+)\}")
_BRACED = re.compile(r"\{([^{}]*)\}")  # anything in braces must be one of the section's placeholders
MAX_TEMPLATE = 1000
Keyword = Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=2, max_length=60)]


def render(template: str, **values: object) -> str:
    """``template`` with each known ``{placeholder}`` replaced; an empty value leaves no stray comma."""
    text = _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), template)
    text = re.sub(r",\s*([!?.])", r"\1", text)  # "Oi, !" when the name is unknown → "Oi!"
    text = re.sub(r"[ \t]+([!?.,])", r"\1", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def check_template(value: str, allowed: tuple[str, ...]) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    unknown = sorted({m.group(1) for m in _BRACED.finditer(value)} - set(allowed))
    if unknown:
        known = ", ".join("{" + a + "}" for a in allowed) or "none"
        raise ValueError(f"{{{unknown[0]}}} is not a placeholder here (placeholders: {known})")
    return value


Template = Annotated[StrictStr, StringConstraints(max_length=MAX_TEMPLATE)]


def _keywords(values: list[str]) -> list[str]:
    return list(dict.fromkeys(v.lower() for v in values))


Keywords = Annotated[list[Keyword], AfterValidator(_keywords)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)
    schedule: ClassVar[str | None] = None  # the per-organisation schedule behind it
    # writes to leads: off until an owner turns it on (PUT /api/v1/automations), never on by default
    opt_in: ClassVar[bool] = False
    placeholders: ClassVar[tuple[str, ...]] = ()  # what its ``text`` may name
    enabled: StrictBool = Field(True, description="on; for a scheduled automation, its schedule is not paused")

    @field_validator("text", check_fields=False)
    @classmethod
    def _text(cls, value: str) -> str:
        return check_template(value, cls.placeholders)


class DailySummary(Section):
    """18:00 every day: today's counters, conversations waiting for a reply, NPS and failed sends, to the owner."""

    schedule: ClassVar[str | None] = "daily-summary"
    placeholders: ClassVar[tuple[str, ...]] = ("date",)
    text: Template = Field("📊 *Resumo do dia {date}*", description="the first line; {date}")


class Birthdays(Section):
    """09:00 every day: a greeting to each lead whose birthday is today (once a year each)."""

    schedule: ClassVar[str | None] = "birthdays"
    opt_in: ClassVar[bool] = True
    placeholders: ClassVar[tuple[str, ...]] = ("name", "first_name")
    text: Template = Field(
        "Feliz aniversário, {first_name}! 🎉 Desejamos um dia incrível e um ano cheio de conquistas.",
        description="to the lead; {name}, {first_name}",
    )


class Inactive(Section):
    """Mondays 10:00: a reactivation text to leads with no message either way for ``days`` days."""

    schedule: ClassVar[str | None] = "inactive"
    opt_in: ClassVar[bool] = True
    placeholders: ClassVar[tuple[str, ...]] = ("name", "first_name", "days")
    days: StrictInt = Field(30, ge=1, le=365, description="days without any message before a lead counts as inactive")
    text: Template = Field(
        "Oi {first_name}, quanto tempo! Sentimos sua falta por aqui. Posso te ajudar com alguma coisa? 🙂",
        description="to the lead; {name}, {first_name}, {days}",
    )


class Opportunities(Section):
    """Tuesdays and Thursdays 15:00: leads who showed buying intent and went quiet, listed to the owner."""

    schedule: ClassVar[str | None] = "opportunities"
    placeholders: ClassVar[tuple[str, ...]] = ("count",)
    quiet_days: StrictInt = Field(2, ge=1, le=30, description="days without a message from the lead")
    lookback_days: StrictInt = Field(14, ge=2, le=60, description="how far back the lead's messages are read")
    keywords: Keywords = Field(
        default_factory=lambda: ["preço", "quanto custa", "orçamento", "comprar", "valor", "parcel"],
        max_length=50,
        description="words of buying intent (case and accents ignored; a word's start matches: parcel → parcela)",
    )
    text: Template = Field(
        "💡 *Oportunidades*: {count} cliente(s) mostraram interesse em comprar e estão em silêncio.",
        description="the first line; {count}",
    )


class WeeklyReport(Section):
    """Sundays 23:00: the week (Monday to Sunday) against the one before, to the owner."""

    schedule: ClassVar[str | None] = "weekly-report"
    placeholders: ClassVar[tuple[str, ...]] = ("start", "end")
    text: Template = Field("📈 *Relatório da semana* ({start} a {end})", description="the first line; {start}, {end}")


class Notifications(Section):
    """Immediate messages to the owner: urgent words from a lead, a low NPS, failed sends, a disconnection."""

    urgent_keywords: Keywords = Field(
        default_factory=lambda: list(DEFAULT_URGENT_KEYWORDS),
        max_length=50,
        description="a lead's message containing one of these notifies the owner (case and accents ignored)",
    )


SECTIONS: dict[str, type[Section]] = {
    "daily_summary": DailySummary,
    "birthdays": Birthdays,
    "inactive": Inactive,
    "opportunities": Opportunities,
    "weekly_report": WeeklyReport,
    "notifications": Notifications,
}
SCHEDULED = {s.schedule: name for name, s in SECTIONS.items() if s.schedule}  # schedule name → section


class AllSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    daily_summary: DailySummary = DailySummary()
    birthdays: Birthdays = Birthdays()
    inactive: Inactive = Inactive()
    opportunities: Opportunities = Opportunities()
    weekly_report: WeeklyReport = WeeklyReport()
    notifications: Notifications = Notifications()

    def for_schedule(self, schedule: str) -> Section:
        section: Section = getattr(self, SCHEDULED[schedule])
        return section


OPTED_IN = "opted_in"


def _stored(section: Section) -> str:
    """What the org hash keeps: everything but a scheduled automation's ``enabled`` (the pause flag), and
    for one that writes to leads whether the owner turned it on (``opted_in``)."""
    exclude = {"enabled"} if section.schedule else set()
    data = section.model_dump(mode="json", exclude=exclude)
    if section.opt_in:
        data[OPTED_IN] = section.enabled
    return json.dumps(data, ensure_ascii=False)


async def load(org_id: str) -> AllSettings:
    """Every section, ``enabled`` from the schedules' pause flags (one ``HMGET``)."""
    names = list(SECTIONS)
    paused = [FIELDS["schedule_paused"].format(s) for s in SCHEDULED]
    fields = [FIELDS["automation"].format(n) for n in names] + paused
    raw = await run_redis(redis_client().hmget(OrgKeys(org_id).org, *fields))
    flags = dict(zip(SCHEDULED, raw[len(names) :], strict=True))
    sections: dict[str, Any] = {}
    for name, value in zip(names, raw[: len(names)], strict=True):
        model = SECTIONS[name]
        data = json.loads(value) if value else {}
        opted_in = data.pop(OPTED_IN, False) is True
        if model.schedule:
            data["enabled"] = not flags[model.schedule] and (opted_in or not model.opt_in)
        sections[name] = model.model_validate(data)
    return AllSettings(**sections)


async def save(org_id: str, sections: dict[str, Section]) -> None:
    """Store the settings of ``sections`` (``enabled`` of a scheduled one is the caller's: a pause)."""
    if sections:
        values = {FIELDS["automation"].format(name): _stored(s) for name, s in sections.items()}
        await run_redis(redis_client().hset(OrgKeys(org_id).org, values=values))

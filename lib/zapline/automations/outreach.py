"""Messages to leads: birthday greetings (09:00) and reactivation of inactive leads (Mondays 10:00).

Each goes into the lead's latest conversation through the ``automation`` lane (``queue_message``),
with a message id derived from the lead and the firing, so queueing it again is the same message.
A per-lead marker (``automation_marks``) remembers the year a lead was greeted and when it was last
sent a reactivation. Opted-out leads are never written to (the store refuses them too).
"""

from __future__ import annotations

import calendar
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import Any

from zapline.automations import store
from zapline.automations.firing import Firing, message_id
from zapline.automations.settings import AllSettings, render
from zapline.errors import LeadOptedOut, RecordMissing
from zapline.logs import get_logger
from zapline.outbound import queue_message
from zapline.store.leads import BIRTHDAY, iter_leads, lead_activity
from zapline.store.records import Lead

__all__ = ["birthday_today", "birthdays", "first_name", "inactive"]

log = get_logger("zapline.automations")


def first_name(lead: Lead) -> str:
    return (lead.name or "").split(" ")[0]


def birthday_today(birthday: str | None, today: date) -> bool:
    """``YYYY-MM-DD`` or ``--MM-DD`` falls on ``today``'s month and day. Born on 29 February: greeted on
    28 February when the year has no 29th (the last day of their month, and before the 1 March)."""
    match = BIRTHDAY.match(birthday or "")
    if not match:
        return False
    month, day = int(match.group(2)), int(match.group(3))
    if (month, day) == (2, 29) and not calendar.isleap(today.year):
        return (today.month, today.day) == (2, 28)
    return (today.month, today.day) == (month, day)


@dataclass
class Outcome:
    sent: list[str] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)

    def result(self) -> dict[str, Any]:
        return {"outcome": "done", "sent": len(self.sent), "skipped": dict(self.skipped)}


async def _send(
    firing: Firing, leads: list[Lead], text_of: Callable[[Lead], str], purpose: str, once: str, outcome: Outcome
) -> list[str]:
    """Queue each lead's text into its latest conversation (its id from ``purpose``, the lead and ``once``);
    answer the leads that got one."""
    conversations = await store.latest_conversations(firing.org_id, [lead.id for lead in leads])
    done: list[str] = []
    for lead in leads:
        conversation = conversations.get(lead.id)
        if conversation is None:  # known from a contact sync or an import: never talked to us
            outcome.skipped["no_conversation"] += 1
            continue
        try:
            await queue_message(firing.org_id, conversation, text=text_of(lead), lane="automation", author=purpose,
                                message_id=message_id(purpose, firing.org_id, lead.id, once))  # fmt: skip
        except LeadOptedOut:
            outcome.skipped["opted_out"] += 1
            continue
        except RecordMissing:  # the conversation was removed meanwhile (retention)
            outcome.skipped["no_conversation"] += 1
            continue
        done.append(lead.id)
    outcome.sent += done
    return done


def _greeting(template: str, lead: Lead) -> str:
    return render(template, name=lead.name or "", first_name=first_name(lead))


async def birthdays(firing: Firing, settings: AllSettings) -> dict[str, Any]:
    template, year = settings.birthdays.text, str(firing.day.year)
    outcome = Outcome()
    async for batch in iter_leads(firing.org_id):
        due = [lead for lead in batch if birthday_today(lead.birthday, firing.day)]
        outcome.skipped["opted_out"] += sum(1 for lead in due if lead.opted_out)
        due = [lead for lead in due if not lead.opted_out]
        greeted = await store.birthday_marks(firing.org_id, [lead.id for lead in due])
        outcome.skipped["greeted_this_year"] += sum(1 for lead in due if greeted.get(lead.id) == year)
        due = [lead for lead in due if greeted.get(lead.id) != year]
        if not due:
            continue
        sent = await _send(firing, due, partial(_greeting, template), "birthday", year, outcome)
        await store.set_marks(firing.org_id, "mark_birthday", dict.fromkeys(sent, year))
    log.info("birthdays", org=firing.org_id, local_time=firing.local_time, sent=len(outcome.sent))
    return outcome.result()


async def inactive(firing: Firing, settings: AllSettings) -> dict[str, Any]:
    """Leads who wrote to us at least once (a lead a campaign only wrote to is not reactivated: that would be
    unsolicited bulk), and had no message either way for ``days`` days; once per such period."""
    cfg = settings.inactive
    cutoff = firing.days_ago_ms(cfg.days)
    outcome = Outcome()
    async for batch in iter_leads(firing.org_id):
        live = [lead for lead in batch if not lead.opted_out]
        activity = await lead_activity(firing.org_id, [lead.id for lead in live])
        due = []
        for lead in live:
            seen = activity[lead.id]
            last = max(seen.last_inbound_at or 0, seen.last_outbound_at or 0)
            if not seen.replied:
                outcome.skipped["never_wrote"] += 1
            elif 0 < last < cutoff:
                due.append(lead)
        marks = await store.inactive_marks(firing.org_id, [lead.id for lead in due])
        outcome.skipped["reactivated_this_period"] += sum(1 for lead in due if int(marks.get(lead.id, 0)) >= cutoff)
        due = [lead for lead in due if int(marks.get(lead.id, 0)) < cutoff]
        if not due:
            continue

        def text(lead: Lead) -> str:
            return render(cfg.text, name=lead.name or "", first_name=first_name(lead), days=cfg.days)

        sent = await _send(firing, due, text, "reactivation", firing.local_time, outcome)
        await store.set_marks(firing.org_id, "mark_inactive", dict.fromkeys(sent, str(firing.ms)))
    log.info("inactive leads", org=firing.org_id, local_time=firing.local_time, sent=len(outcome.sent))
    return outcome.result()

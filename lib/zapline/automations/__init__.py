"""Proactive automations per organisation, each a per-organisation schedule in its own timezone:

| schedule | local time | what |
|---|---|---|
| ``daily-summary`` | 18:00 every day | today's counters, conversations waiting for a reply, NPS, failed sends → owner |
| ``birthdays`` | 09:00 every day | a greeting to each lead whose birthday is today, once a year each |
| ``inactive`` | Mondays 10:00 | a reactivation text to leads with no message for N days, once per period |
| ``opportunities`` | Tuesdays and Thursdays 15:00 | leads with buying intent gone quiet → owner |
| ``weekly-report`` | Sundays 23:00 | the week against the one before, top leads, NPS, AI usage → owner |

Settings: :mod:`zapline.automations.settings`; a firing and its marker: :mod:`~zapline.automations.firing`;
the job handler: :mod:`zapline.jobs.automations`. Importing this package imports nothing else, so the
inbound function can use :mod:`~zapline.automations.settings` and :mod:`~zapline.automations.words` alone.
"""

from __future__ import annotations

NAMES = ("daily-summary", "birthdays", "inactive", "opportunities", "weekly-report")
"""The automations' schedule names (``registry/schedules.py`` declares their crons)."""

__all__ = ["NAMES"]

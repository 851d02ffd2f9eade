"""Who a campaign goes to: a list of phones (with names and custom fields), or a filter over leads.

Each recipient is one JSON entry of the campaign's list, in fan-out order: ``p`` the E.164 phone,
``n`` a name, ``f`` custom fields, ``l`` the lead (a filter's), and ``s`` the reason it is skipped
when that is known before any send — ``invalid_phone`` (not a phone, in the organisation's country
when written nationally) or ``duplicate`` (the same phone earlier in the list, which keeps it).
A filter is resolved when the campaign starts (``jobs/campaigns.py``), over every lead then.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from zapline.uazapi.national import international
from zapline.uazapi.phones import e164

__all__ = ["Recipient", "filter_entries", "list_entries", "matches"]

DAY_MS = 86_400_000


class Recipient(Protocol):
    @property
    def phone(self) -> str: ...
    @property
    def name(self) -> str | None: ...
    @property
    def fields(self) -> dict[str, str] | None: ...


def _entry(values: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in values.items() if v not in (None, "", {})}, ensure_ascii=False,
                      separators=(",", ":"))  # fmt: skip


def list_entries(recipients: Sequence[Recipient], country: str | None) -> list[str]:
    """The list's entries, with ``invalid_phone`` and ``duplicate`` found now."""
    seen: set[str] = set()
    entries = []
    for recipient in recipients:
        phone = e164(international(recipient.phone, country))
        skip = "invalid_phone" if phone is None else "duplicate" if phone in seen else None
        if phone:
            seen.add(phone)
        entries.append(_entry({"p": phone or recipient.phone.strip()[:64], "n": recipient.name,
                               "f": recipient.fields, "s": skip}))  # fmt: skip
    return entries


def _folded(values: Iterable[str] | None) -> set[str]:
    return {v.casefold() for v in values or ()}


def matches(flt: dict[str, Any], tags: Iterable[str], activity: Any, now_ms: int) -> bool:
    """Whether a lead with ``tags`` and ``activity`` (``store.leads.Activity`` or None) is in the filter.

    ``active_within_days``: the lead's latest message either way is that recent; ``inactive_for_days``:
    none for that long (or never); ``has_replied``: the lead ever wrote (or never did).
    """
    own = _folded(tags)
    if flt.get("tags_any") and not own & _folded(flt["tags_any"]):
        return False
    if flt.get("tags_all") and not _folded(flt["tags_all"]) <= own:
        return False
    last_in = getattr(activity, "last_inbound_at", None)
    last_out = getattr(activity, "last_outbound_at", None)
    last = max((t for t in (last_in, last_out) if t is not None), default=None)
    if flt.get("active_within_days") is not None and (
        last is None or last < now_ms - flt["active_within_days"] * DAY_MS
    ):
        return False
    if (
        flt.get("inactive_for_days") is not None
        and last is not None
        and last >= now_ms - flt["inactive_for_days"] * DAY_MS
    ):
        return False
    return not (flt.get("has_replied") is not None and bool(getattr(activity, "replied", False)) != flt["has_replied"])


def _needs_activity(flt: dict[str, Any]) -> bool:
    return any(flt.get(k) is not None for k in ("active_within_days", "inactive_for_days", "has_replied"))


FILTER_LIMIT = 10_000  # a filter takes at most what a list may hold (the API's MAX_RECIPIENTS)


async def filter_entries(org_id: str, flt: dict[str, Any], now_ms: int, *, limit: int = FILTER_LIMIT) -> list[str]:
    """The leads of the organisation the filter takes, now, as list entries (a lead without a phone —
    known by its LID only — is ``invalid_phone``: WhatsApp gave no number to write to); at most ``limit``,
    so one campaign's resolution stays one bounded job."""
    from zapline.store.leads import iter_leads, lead_activity  # the job's import: never the API's cold start

    entries = []
    async for batch in iter_leads(org_id, batch=200):
        activity = await lead_activity(org_id, [lead.id for lead in batch]) if _needs_activity(flt) else {}
        for lead in batch:
            if matches(flt, lead.tags, activity.get(lead.id), now_ms):
                phone = e164(lead.phone)
                entries.append(_entry({"p": phone or lead.lid or lead.id, "l": lead.id,
                                       "s": None if phone else "invalid_phone"}))  # fmt: skip
                if len(entries) >= limit:
                    return entries
    return entries

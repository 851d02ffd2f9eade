"""Whether an organisation's notifications are on, and its urgent keywords: what the inbound function
asks on every lead message, so it is kept light (no pydantic model) and cached in the warm function.

The settings were validated when an owner saved them (``PUT /api/v1/automations``, the
``Notifications`` model of :mod:`zapline.automations.settings`); here they are only read.
"""

from __future__ import annotations

import json
import re
import time

from zapline.automations.words import keyword_pattern
from zapline.clients import redis_client
from zapline.store.keys import FIELDS, OrgKeys
from zapline.store.scripts import run_redis

__all__ = ["CACHE_SECONDS", "DEFAULT_URGENT_KEYWORDS", "forget", "notification_settings"]

CACHE_SECONDS = 60.0
DEFAULT_URGENT_KEYWORDS = ("urgente", "reclamação", "procon", "cancelar")
_notifying: dict[str, tuple[float, bool, re.Pattern[str] | None]] = {}


async def notification_settings(org_id: str) -> tuple[bool, re.Pattern[str] | None]:
    """(notifications on, the urgent keywords' pattern), read at most once every ``CACHE_SECONDS`` per
    organisation and warm function: the inbound path asks on every message."""
    cached = _notifying.get(org_id)
    now = time.monotonic()
    if cached is None or cached[0] <= now:
        raw = await run_redis(redis_client().hget(OrgKeys(org_id).org, FIELDS["automation"].format("notifications")))
        try:
            stored = json.loads(raw) if raw else {}
        except ValueError:  # written by another release: the defaults rather than nothing
            stored = {}
        stored = stored if isinstance(stored, dict) else {}
        keywords = stored.get("urgent_keywords")
        if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
            keywords = list(DEFAULT_URGENT_KEYWORDS)
        enabled = stored.get("enabled", True) is not False
        cached = _notifying[org_id] = (now + CACHE_SECONDS, enabled, keyword_pattern(keywords))
    return cached[1], cached[2]


def forget(org_id: str) -> None:
    """The settings changed: this warm function reads them again (others within ``CACHE_SECONDS``)."""
    _notifying.pop(org_id, None)

"""Time as the store sees it: epoch milliseconds, and each organisation's local day for counters.

The timezone is read once per organisation and warm function (the organisation's, copied onto each
instance when it is registered); the ingest script returns the instance's copy with every answer.
"""

from __future__ import annotations

import time
from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo

from zapline.clients import redis_client
from zapline.store.keys import OrgKeys
from zapline.store.scripts import run_redis

__all__ = ["learn_timezone", "now_ms", "org_day", "org_day_hour", "org_timezone", "queue_now"]

_timezones: dict[str, str] = {}


def now_ms() -> int:
    return int(time.time() * 1000)


async def queue_now() -> float:
    """Now as QStash judges what is due (epoch seconds): the function's clock, or in the sandbox the
    sandbox QStash's (``ZAPLINE_CLOCK_URL``), which tests and ``zapline dev`` move forward. What is
    planned against QStash's not-before and checked when it arrives (the hourly tick, a campaign's
    window) reads this, so the two agree. The sandbox clock unreachable: ``TransientError`` (503)."""
    from zapline.config import get_settings

    url = get_settings().clock_url
    if url is None:
        return time.time()
    import httpx

    from zapline.clients import http_client
    from zapline.errors import TransientError

    try:
        return int((await http_client().get(url)).json()["now"]) / 1000
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise TransientError(f"the sandbox clock at ZAPLINE_CLOCK_URL did not answer: {type(exc).__name__}") from None


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def learn_timezone(org_id: str, timezone: str | None) -> None:
    if timezone:
        _timezones[org_id] = timezone


async def org_timezone(org_id: str) -> str:
    """The organisation's IANA timezone (read once per warm function)."""
    timezone = _timezones.get(org_id)
    if timezone is None:
        stored = await run_redis(redis_client().hget(OrgKeys(org_id).org, "timezone"))
        timezone = _timezones[org_id] = stored or "UTC"
    return timezone


async def org_day_hour(org_id: str, epoch_ms: int | None = None) -> tuple[str, str]:
    """The organisation's local date (YYYY-MM-DD) and hour (``HH``) at ``epoch_ms`` (default: now):
    what the daily counters are keyed by."""
    local = datetime.fromtimestamp((epoch_ms or now_ms()) / 1000, _zone(await org_timezone(org_id)))
    return local.date().isoformat(), f"{local.hour:02d}"


async def org_day(org_id: str, epoch_ms: int | None = None) -> str:
    """The organisation's local date (YYYY-MM-DD) at ``epoch_ms`` (default: now)."""
    timezone = await org_timezone(org_id)
    moment = (epoch_ms or now_ms()) / 1000
    return datetime.fromtimestamp(moment, _zone(timezone)).date().isoformat()

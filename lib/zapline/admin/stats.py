"""Counters over a range of days: ``GET /api/v1/stats?from=YYYY-MM-DD&to=YYYY-MM-DD``.

Every day's counters (the hash the pipeline increments, ``day:<YYYY-MM-DD>`` in the organisation's
timezone) are read in ONE pipelined request, so a range costs one round trip and a command a day.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any

from zapline.clients import redis_client
from zapline.errors import BadRequest
from zapline.store.counters import fold_hours
from zapline.store.keys import OrgKeys
from zapline.store.scripts import run_redis

__all__ = ["MAX_DAYS", "nps", "parse_day", "stats"]

MAX_DAYS = 92  # a quarter: the longest range one request reads


def parse_day(raw: str | None, name: str) -> date:
    try:
        if raw is None or len(raw) != 10:
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a date written YYYY-MM-DD, e.g. 2026-11-30") from None


def nps(counters: dict[str, int]) -> float | None:
    """Net promoter score of the responses counted (None without responses)."""
    responses = counters.get("nps_responses", 0)
    if not responses:
        return None
    return round(100 * (counters.get("nps_promoters", 0) - counters.get("nps_detractors", 0)) / responses, 1)


async def stats(org_id: str, start: date, end: date) -> dict[str, Any]:
    """Per-day counters from ``start`` to ``end`` (inclusive, local days) and their totals."""
    if end < start:
        raise BadRequest("to must not be before from")
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    if len(days) > MAX_DAYS:
        raise BadRequest(f"a range covers at most {MAX_DAYS} days; this one covers {len(days)}")
    keys = OrgKeys(org_id)
    pipe = redis_client().pipeline()
    for day in days:
        pipe.hgetall(keys.daily(day.isoformat()))
    read: list[dict[str, str]] = await run_redis(pipe.exec())
    totals: Counter[str] = Counter()
    rows = []
    for day, raw in zip(days, read, strict=True):
        counters = dict(sorted(fold_hours(raw)[0].items()))
        totals.update(counters)
        rows.append({"day": day.isoformat(), "counters": counters, "nps": nps(counters)})
    summed = dict(sorted(totals.items()))
    return {"from": start.isoformat(), "to": end.isoformat(), "days": rows, "totals": summed, "nps": nps(summed)}

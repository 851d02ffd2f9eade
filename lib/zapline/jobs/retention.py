"""jobs/retention: each organisation's daily retention (the ``retention`` schedule, 03:30 local).

One round deletes at most ``ZAPLINE_RETENTION_BATCH`` messages and as many dead letters, indexes as
many conversations, deletes the recipients of at most ``CAMPAIGNS_PER_ROUND`` campaigns that ended
before the messages' cutoff and makes at most ``ALIAS_SCANS`` SCAN calls (:mod:`zapline.store.retention`);
when any of them had more, the round publishes the next one (deduplication id per organisation,
firing and round), so no job runs long however much is due. Every round is idempotent: what it
deletes is gone for the next. A round already recorded for its firing answers ``done_before``
(QStash's deduplication lasts 10 minutes; a retry may come later).

The cutoff is counted from the firing's local time (``local_time`` in the organisation's zone),
never later than now: every round of one firing, and a late retry of it, deletes the same span.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from zapline import qstash
from zapline.config import get_settings
from zapline.errors import QueueRejected
from zapline.http import Delivery
from zapline.jobs.kinds import RETENTION, RetentionJob
from zapline.logs import get_logger
from zapline.registry.jobs import enqueue
from zapline.store import deadletters
from zapline.store import retention as store
from zapline.store.clock import now_ms, org_timezone

__all__ = ["ALIAS_SCANS", "CAMPAIGNS_PER_ROUND", "MAX_ROUNDS", "firing_ms", "retention"]

log = get_logger("zapline.jobs.retention")

ALIAS_SCANS = 10  # SCAN calls per round (x store.SCAN_COUNT keys visited)
CAMPAIGNS_PER_ROUND = 10  # ended campaigns whose recipients go per round (each up to 10,000 of them)
MAX_ROUNDS = 500  # per firing; what is left then waits for the next day's firing (the index keeps it)


def firing_ms(local_time: str, zone: str) -> int | None:
    """The instant of a firing's ``local_time`` ("YYYY-MM-DDTHH:MM", or run-now's "now-…:SS")."""
    try:
        moment = datetime.fromisoformat(local_time.removeprefix("now-"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return int(moment.timestamp() * 1000)


async def _dead_letters(org_id: str, cutoff: int, limit: int) -> tuple[int, bool]:
    """Dead letters recorded before ``cutoff``: QStash's copies first (as the dashboard's clean does),
    then the records, so QStash being down leaves both for a retry. A refusal (QStash keeps its copies
    only so long anyway) does not keep the records."""
    old = await store.expired_dead_letters(org_id, cutoff=cutoff, limit=limit)
    if not old:
        return 0, False
    dlq_ids = [letter.dlq_id for letter in old if letter.dlq_id]
    if dlq_ids:
        try:
            await qstash.dlq_delete_many(dlq_ids)
        except QueueRejected as exc:
            log.warning("QStash refused to drop old dead letters", org=org_id, error=exc.message)
    removed = await deadletters.delete(org_id, [letter.id for letter in old])
    return len(removed), len(old) == limit


async def retention(job: RetentionJob, delivery: Delivery) -> dict[str, Any]:
    org_id = job.org_id
    previous = await store.last_run(org_id)
    if previous and previous.get("local_time") == job.local_time and job.round < int(previous.get("rounds") or 0):
        return {"outcome": "done_before", "round": job.round, "local_time": job.local_time}
    settings = get_settings()
    now = now_ms()
    as_of = min(firing_ms(job.local_time, await org_timezone(org_id)) or now, now)
    days = await store.message_days(org_id)
    cutoff = as_of - days * store.DAY_MS
    batch = settings.retention_batch

    dead, dead_more = await _dead_letters(org_id, as_of - store.DEAD_LETTER_DAYS * store.DAY_MS, batch)
    fed = await store.feed(org_id, firing=job.local_time, as_of=as_of, limit=batch)
    # a conversation closed a day ago or more: what its close started (survey, learning) has run
    trimmed = await store.trim(org_id, cutoff=cutoff, limit=batch, closed_before=as_of - store.DAY_MS)
    campaigns, campaigns_more = await store.prune_campaigns(org_id, cutoff=cutoff, limit=CAMPAIGNS_PER_ROUND)
    swept = await store.sweep_aliases(
        org_id, firing=job.local_time, threshold=settings.retention_alias_sweep_after, scans=ALIAS_SCANS
    )
    counts = {"messages": trimmed.messages, "dead_letters": dead, "aliases": trimmed.aliases + swept.aliases,
              "conversations": trimmed.conversations, "indexed": fed.indexed, "campaigns": campaigns}  # fmt: skip

    more = dead_more or fed.more or trimmed.more or campaigns_more or swept.more
    continued = more and job.round + 1 < MAX_ROUNDS
    if continued:
        follow = job.model_copy(update={"round": job.round + 1})
        await enqueue(RETENTION, follow, dedup=f"retention-{org_id}-{job.local_time}-r{job.round + 1}")
    elif more:
        log.warning("retention left work for the next firing", org=org_id, rounds=MAX_ROUNDS)
    run = await store.finish(org_id, local_time=job.local_time, round=job.round, counts=counts, more=continued,
                             cutoff=cutoff, days=days)  # fmt: skip
    if any(counts.values()):
        log.info("retention round", org=org_id, round=job.round, continued=continued, **counts)
    return {"outcome": "continued" if continued else "done", "round": job.round, "local_time": job.local_time,
            "message_days": days, "cutoff": cutoff, **counts, "totals": run.get("totals") or {}}  # fmt: skip

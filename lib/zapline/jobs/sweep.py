"""jobs/sweep: nothing stored is lost on the way to QStash (the ``sweeper`` schedule, every 5 minutes).

An outbound message is stored before its send job is published, and a follow-up chain or an NPS
survey is recorded before its timer is: when the publish fails (QStash down) or never happens (the
function died in between), the entry stays in the organisation's outbox or timers. The sweep
re-publishes each entry older than ``grace_seconds`` — with the same deduplication ids, and every
handler is idempotent, so one that did reach QStash after all is not sent twice. It visits the
organisations marked by a failed publish every time, and every organisation at the sweep at :00.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from zapline import automation
from zapline.clients import redis_client
from zapline.errors import PermanentError, QueueUnavailable
from zapline.http import Delivery
from zapline.jobs.kinds import NPS, SEND, NpsJob, SendJob, SweepJob
from zapline.logs import get_logger
from zapline.registry.jobs import enqueue
from zapline.store import sweep as store
from zapline.store.clock import now_ms
from zapline.store.keys import OrgKeys
from zapline.store.scripts import run_redis

__all__ = ["sweep"]

log = get_logger("zapline.jobs.sweep")


async def _requeue_message(org_id: str, message_id: str) -> bool:
    raw = await run_redis(redis_client().get(OrgKeys(org_id).message(message_id)))
    message: dict[str, Any] = store_json(raw)
    if message.get("status") == "pending":
        job = SendJob(org_id=org_id, message_id=message_id, lane=message.get("lane") or "realtime",
                      instance_id=message.get("instance_id") or "")  # fmt: skip
        await enqueue(SEND, job)
        await store.confirm_queued(org_id, message_id)
        return True
    await store.confirm_queued(org_id, message_id)  # sent, failed or gone: nothing to publish
    return False


async def _rearm(org_id: str, member: str) -> bool:
    kind, _, rest = member.partition("|")
    conversation_id, _, epoch = rest.partition("|")
    fields = await run_redis(redis_client().hmget(OrgKeys(org_id).conversation(conversation_id),
                                                  "followup_epoch", "nps_state"))  # fmt: skip
    current_epoch, nps_state = fields
    if kind == "fu" and epoch.isdigit() and str(current_epoch or "0") == epoch:
        return await automation.schedule_followup(org_id, conversation_id, int(epoch), 0) is not None
    if kind == "nps" and nps_state == "scheduled":
        await enqueue(NPS, NpsJob(org_id=org_id, conversation_id=conversation_id, action="send"))
        await store.confirm_timer(org_id, member)
        return True
    await store.confirm_timer(org_id, member)  # the chain moved on, or the survey went: nothing to do
    return False


def store_json(raw: str | None) -> dict[str, Any]:
    value = json.loads(raw) if raw else {}
    return value if isinstance(value, dict) else {}


async def sweep(job: SweepJob, delivery: Delivery) -> dict[str, Any]:
    started = now_ms()
    everyone = job.full if job.full is not None else datetime.now(UTC).minute < 5
    marked = set(await store.marked_orgs(everyone=False))
    orgs = await store.marked_orgs(everyone=True) if everyone else sorted(marked)
    requeued = rearmed = dropped = 0
    unavailable: QueueUnavailable | None = None
    for backlog in await store.backlog(orgs, older_than_ms=job.grace_seconds * 1000):
        entries = [(_requeue_message, m) for m in backlog.messages] + [(_rearm, t) for t in backlog.timers]
        for step, entry in entries:
            try:
                done = await step(backlog.org_id, entry)
            except QueueUnavailable as exc:  # still down: the next sweep tries again
                unavailable = exc
                break
            except PermanentError as exc:  # this one entry can never be published: drop it, go on
                log.error("sweep dropped an entry QStash refuses", org=backlog.org_id, entry=entry[:80],
                          error_type=exc.error_type, error=exc.message)  # fmt: skip
                await (store.confirm_queued if step is _requeue_message else store.confirm_timer)(backlog.org_id, entry)
                dropped += 1
                continue
            if step is _requeue_message:
                requeued += done
            else:
                rearmed += done
        if backlog.org_id in marked and unavailable is None:
            await store.unmark(backlog.org_id, marked_before=started)
    if unavailable is not None:
        log.warning("sweep stopped: QStash unavailable", error=unavailable.message)
        raise unavailable
    if requeued or rearmed or dropped:
        log.info("swept", organisations=len(orgs), requeued=requeued, rearmed=rearmed, dropped=dropped)
    return {"outcome": "swept", "organisations": len(orgs), "requeued": requeued, "rearmed": rearmed,
            "dropped": dropped}  # fmt: skip

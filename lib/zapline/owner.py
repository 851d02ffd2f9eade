"""Messages to the organisation's owner: the owner's assistant, summaries, reports, notifications.

The owner is reached on WhatsApp at the instance's own number (the "message yourself" chat, which
Zapline never stores as a lead): :func:`message_owner` publishes an ``owner-message`` job through the
instance's automation lane, deduplicated by a key the caller chooses (``daily-summary-<day>``, …),
and the job sends it once (``jobs/owner.py``). The last messages are kept for the operator API.
"""

from __future__ import annotations

import re
from typing import Any

from zapline.clients import redis_client
from zapline.errors import RecordMissing
from zapline.jobs.kinds import OWNER_MESSAGE, OwnerMessageJob
from zapline.registry.jobs import enqueue
from zapline.store.keys import OrgKeys
from zapline.store.scripts import run_redis

__all__ = ["OwnerMessageJob", "message_owner", "owner_instance"]

_KEY = re.compile(r"[^A-Za-z0-9._:-]+")


async def owner_instance(org_id: str, instance_id: str | None = None) -> dict[str, Any]:
    """The instance that reaches the owner: ``instance_id``'s, or the organisation's first one with
    an owner number (by name). ``RecordMissing`` when there is none."""
    redis = redis_client()
    keys = OrgKeys(org_id)
    if instance_id:
        ids = [instance_id]
    else:
        by_name: dict[str, str] = await run_redis(redis.hgetall(keys.instances)) or {}
        ids = [by_name[name] for name in sorted(by_name)]
    if ids:
        pipe = redis.pipeline()
        for iid in ids:
            pipe.hmget(keys.instance(iid), "id", "owner")
        for iid, (found, owner) in zip(ids, await run_redis(pipe.exec()), strict=True):
            if found and owner:
                return {"id": iid, "owner": owner}
    raise RecordMissing("instance with an owner number", org=org_id)


async def message_owner(
    org_id: str, text: str, key: str, cause: str, *, instance_id: str | None = None, delay: int | None = None
) -> str:
    """Queue ``text`` for the owner, once per ``key`` (a repeat with the same key sends nothing);
    return QStash's message id."""
    instance = await owner_instance(org_id, instance_id)
    job = OwnerMessageJob(org_id=org_id, instance_id=instance["id"], key=_KEY.sub("-", key)[:90], cause=cause,
                          text=text[:4096])  # fmt: skip
    return await enqueue(OWNER_MESSAGE, job, delay=delay)

"""jobs/owner-message: one message to the owner's WhatsApp (the instance's own number), sent once.

The send is claimed under its key (``sending|<ms>``, then ``sent``) as ``jobs/send`` claims a
lead's message: a concurrent attempt waits (503), and an attempt whose predecessor was cut off
after claiming asks UAZAPI (``/message/find`` by our ``track_id``) whether it went out before
sending again.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from zapline.clients import redis_client
from zapline.config import get_settings
from zapline.errors import RecordMissing, TransientError, UazapiRejected
from zapline.http import Delivery
from zapline.jobs.kinds import OwnerMessageJob
from zapline.logs import get_logger
from zapline.store.clock import now_ms
from zapline.store.keys import OrgKeys
from zapline.store.scripts import run_redis
from zapline.uazapi import client
from zapline.uazapi.client import Instance

__all__ = ["recent_owner_messages", "send_to_owner", "track_id"]

log = get_logger("zapline.jobs.owner")

KEPT = 200  # owner messages listed by the API
CLAIM_TTL = 2 * 24 * 3600


def track_id(org_id: str, key: str) -> str:
    return "own_" + hashlib.sha256(f"{org_id}:{key}".encode()).hexdigest()[:16]


async def send_to_owner(job: OwnerMessageJob, delivery: Delivery) -> dict[str, Any]:
    keys = OrgKeys(job.org_id)
    redis = redis_client()
    claim_key = keys.owner_message(job.key)
    lease_ms = int(get_settings().http_timeout * 1000) * 2 + 5000
    now = now_ms()
    if not await run_redis(redis.set(claim_key, f"sending|{now}", nx=True, ex=CLAIM_TTL)):
        state = await run_redis(redis.get(claim_key)) or ""
        if state == "sent":
            return {"outcome": "already_sent", "key": job.key}
        started = int(state.partition("|")[2] or 0)
        if now - started < lease_ms:
            raise TransientError("the owner message is being sent by another attempt", retry_after=lease_ms // 1000)
        await run_redis(redis.set(claim_key, f"sending|{now}", ex=CLAIM_TTL))
        was_sending = True
    else:
        was_sending = False
    record = await run_redis(redis.hmget(keys.instance(job.instance_id), "base_url", "token", "owner"))
    base_url, token, owner = record
    if not base_url or not token:
        raise RecordMissing("instance", job.instance_id, org=job.org_id)
    if not owner:
        raise UazapiRejected(f"instance {job.instance_id} has no owner number", org=job.org_id)
    instance = Instance(base_url, token, job.instance_id)
    track = track_id(job.org_id, job.key)
    wa_id = None
    if was_sending:
        try:
            wa_id = await client.find_tracked(instance, owner, track)
        except UazapiRejected:
            wa_id = None
    if wa_id is None:
        try:
            sent = await client.send_text(instance, owner, job.text, track_id=track)
        except TransientError as exc:
            if "status" in exc.context:  # UAZAPI answered (429, 5xx): nothing went out, claim afresh
                await run_redis(redis.delete(claim_key))
            raise  # a timeout may have sent it: the lease, then /message/find, decide
        wa_id = sent.message_id
    entry = {"key": job.key, "cause": job.cause, "text": job.text, "instance_id": job.instance_id,
             "wa_id": wa_id, "sent_at": now_ms()}  # fmt: skip
    pipe = redis.pipeline()
    pipe.set(claim_key, "sent", ex=CLAIM_TTL)
    pipe.lpush(keys.owner_messages, json.dumps(entry, ensure_ascii=False))
    pipe.ltrim(keys.owner_messages, 0, KEPT - 1)
    await run_redis(pipe.exec())
    log.info("owner message sent", org=job.org_id, cause=job.cause, key=job.key, qstash_message_id=delivery.message_id)
    return {"outcome": "sent", "key": job.key, "wa_id": wa_id}


async def recent_owner_messages(org_id: str, limit: int = 50) -> list[dict[str, Any]]:
    raw = await run_redis(redis_client().lrange(OrgKeys(org_id).owner_messages, 0, max(0, limit - 1)))
    return [json.loads(item) for item in raw or []]

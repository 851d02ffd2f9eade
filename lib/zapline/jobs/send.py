"""jobs/send: deliver one outbound message through UAZAPI, exactly once as far as UAZAPI can tell.

A message is claimed (pending → sending, with a lease) before the call; a concurrent attempt
waits for the lease (503 + Retry-After). If a previous attempt was cut off after claiming, UAZAPI
is asked whether it already has a message with our ``track_id`` before sending again.
Rejections (an invalid number, a refused payload) fail the message and go to the dead letters
with UAZAPI's reason; 429 and 5xx answer 503 with UAZAPI's ``Retry-After``.

A paused lane (``admin/lanes.py``) is held by QStash itself (its flow-control key is paused: the
message waits in QStash's waitlist, costing nothing). A message that reaches the job anyway — its
key did not exist in QStash when the lane was paused — pauses the key and answers 503, so its retry
waits in that waitlist: one retry spent, never sent while paused, never lost.
"""

from __future__ import annotations

from typing import Any

from zapline import notifications, qstash
from zapline.clients import redis_client
from zapline.config import get_settings
from zapline.errors import LeadOptedOut, TransientError, UazapiRejected, UazapiUnavailable
from zapline.http import Delivery
from zapline.jobs.kinds import SendJob
from zapline.logs import get_logger
from zapline.outbound import publish_update
from zapline.store.ingest import record_sent
from zapline.store.keys import OrgKeys, lane_paused_field
from zapline.store.outbound import Busy, Done, Paused, Stopped, claim_send, fail_send, release_send
from zapline.store.scripts import run_redis
from zapline.uazapi import client
from zapline.uazapi.client import Instance, SentMessage

__all__ = ["send"]

log = get_logger("zapline.jobs.send")


def recipient(chat_jid: str) -> str:
    """What UAZAPI's ``number`` takes: a person's phone digits (device suffix dropped), a group's
    or a LID's JID as is."""
    user, _, server = chat_jid.partition("@")
    if server in ("s.whatsapp.net", "c.us", ""):
        return user.split(":", 1)[0]
    return chat_jid


async def _deliver(instance: Instance, number: str, message: dict[str, Any]) -> SentMessage:
    kind, text, track = message["kind"], message.get("text") or "", message["id"]
    if kind == "text":
        return await client.send_text(instance, number, text, track_id=track)
    if kind == "poll":
        return await client.send_menu(instance, number, kind="poll", text=text, choices=message["choices"],
                                      track_id=track)  # fmt: skip
    media = message.get("media") or {}
    return await client.send_media(instance, number, media_type=media.get("media_type", kind), file=media["url"],
                                   caption=text, file_name=media.get("file_name"), track_id=track)  # fmt: skip


async def _show(org_id: str, message: dict[str, Any]) -> None:
    """Publish a status change; best effort where the job's own answer must not depend on it."""
    try:
        await publish_update(org_id, message)
    except TransientError as exc:
        log.warning("status not shown live", org=org_id, message_id=message["id"], error=exc.message)


PAUSED_RETRY_AFTER = 60  # seconds; the retry waits in the paused key's waitlist, so this is a floor


async def _hold(org_id: str, message: dict[str, Any]) -> None:
    """Pause the lane's flow-control key in QStash; undo it if the lane was resumed meanwhile
    (a resume clears the flag before it resumes the keys, so one of the two always resumes last)."""
    lane, instance_id = message.get("lane") or "realtime", message["instance_id"]
    key = qstash.lane_flow_control(lane, instance_id).key
    await qstash.pause_flow_control(key)
    flag = await run_redis(redis_client().hget(OrgKeys(org_id).instance(instance_id), lane_paused_field(lane)))
    if not flag:
        await qstash.resume_flow_control(key)


async def send(job: SendJob, delivery: Delivery) -> dict[str, Any]:
    # the claim keeps other attempts off the message for longer than one UAZAPI call can take
    lease_ms = int(get_settings().http_timeout * 1000) * 2 + 5000
    claim = await claim_send(job.org_id, job.message_id, lease_ms=lease_ms)
    message = claim.message
    if isinstance(claim, Busy):  # another attempt is sending it right now
        raise TransientError(
            "the message is being sent by another attempt", retry_after=claim.retry_after_ms // 1000 + 1
        )
    if isinstance(claim, Paused):  # held by its lane: QStash keeps it until the lane is resumed
        await _hold(job.org_id, message)
        log.info("lane paused: send held", org=job.org_id, message_id=message["id"], lane=message.get("lane"),
                 qstash_message_id=delivery.message_id)  # fmt: skip
        raise TransientError(f"the {message.get('lane') or 'realtime'} lane is paused", retry_after=PAUSED_RETRY_AFTER)
    if isinstance(claim, Done):
        if message["status"] == "failed" and message.get("error") != "opted_out":
            raise UazapiRejected(message.get("error") or "the send was rejected")  # to the dead letters
        return {"outcome": "already_" + message["status"], "message_id": message["id"]}
    if isinstance(claim, Stopped):
        await _show(job.org_id, message)
        if claim.outcome == "failed":  # opted out since it was queued: dropped once, recorded, never retried
            raise LeadOptedOut(f"message {message['id']} not sent: the lead opted out", org=job.org_id)
        return {"outcome": claim.outcome, "reason": message.get("error"), "message_id": message["id"]}

    instance = Instance(claim.base_url, claim.token, message["instance_id"])
    number = recipient(message["chat_jid"])
    sent: SentMessage | None = None
    if claim.was_sending:  # an earlier attempt claimed it and its lease ran out: did it reach WhatsApp?
        try:
            wa_id = await client.find_tracked(instance, message["chat_jid"], message["id"])
        except UazapiRejected:
            wa_id = None  # this UAZAPI cannot search: sending again is the lesser evil
        sent = SentMessage(wa_id, None, {}) if wa_id else None
    if sent is None:
        try:
            sent = await _deliver(instance, number, message)
        except UazapiRejected as exc:
            await _show(job.org_id, await fail_send(job.org_id, message["id"], exc.message))
            await notifications.send_failed(job.org_id, message["instance_id"], message["id"])  # a burst: the owner
            raise
        except UazapiUnavailable as exc:
            if "status" in exc.context:  # UAZAPI answered (429, 5xx): nothing was sent
                await release_send(job.org_id, message["id"])
            raise  # a timeout may have sent it: the claim's lease, then /message/find, decide
    recorded = await record_sent(job.org_id, message["id"], sent.message_id, sent.timestamp)
    await _show(job.org_id, recorded["message"])
    log.info("sent", org=job.org_id, message_id=message["id"], wa_id=sent.message_id, lane=message.get("lane"),
             qstash_message_id=delivery.message_id)  # fmt: skip
    return {"outcome": "sent", "message_id": message["id"], "wa_id": sent.message_id}

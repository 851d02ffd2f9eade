"""jobs/send: deliver one outbound message through UAZAPI, exactly once as far as UAZAPI can tell.

A message is claimed (pending → sending) before the call. If a previous attempt was cut off
after claiming, UAZAPI is asked whether it already has a message with our ``track_id`` before
sending again. Rejections (an invalid number, a refused payload) fail the message and go to
the dead letters with UAZAPI's reason; 429 and 5xx answer 503 with UAZAPI's ``Retry-After``.
"""

from __future__ import annotations

from typing import Any

from zapline.http import Delivery
from zapline.jobs.payloads import SendJob, parse_job
from zapline.logs import get_logger
from zapline.outbound import publish_update
from zapline.store.outbound import outbound
from zapline.uazapi import client
from zapline.uazapi.client import Instance, SentMessage, UazapiRejected

__all__ = ["send"]

log = get_logger("zapline.jobs.send")


def recipient(chat_jid: str) -> str:
    """What UAZAPI's ``number`` takes: a group's JID as is, a person's phone digits."""
    return chat_jid if chat_jid.endswith("@g.us") else chat_jid.split("@", 1)[0]


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


async def send(delivery: Delivery) -> dict[str, Any]:
    job = parse_job(SendJob, delivery.body)
    claim = await outbound(job.org_id, "claim", message_id=job.message_id)
    message = claim["message"]
    if claim["outcome"] == "done":
        return {"outcome": "already_" + message["status"], "message_id": message["id"]}
    if claim["outcome"] == "opted_out":
        await publish_update(job.org_id, message)
        return {"outcome": "opted_out", "message_id": message["id"]}

    instance = Instance(claim["base_url"], claim["token"], message["instance_id"])
    number = recipient(message["chat_jid"])
    wa_id = None
    if claim["was_sending"]:  # an earlier attempt claimed it: did it reach WhatsApp?
        try:
            wa_id = await client.find_tracked(instance, number, message["id"])
        except UazapiRejected:
            wa_id = None  # this UAZAPI cannot search: sending again is the lesser evil
    if wa_id is None:
        try:
            wa_id = (await _deliver(instance, number, message)).message_id
        except UazapiRejected as exc:
            failed = await outbound(job.org_id, "failed", message_id=message["id"], error=exc.message)
            await publish_update(job.org_id, failed["message"])
            raise
    sent = await outbound(job.org_id, "sent", message_id=message["id"], wa_id=wa_id)
    await publish_update(job.org_id, sent["message"])
    log.info("sent", org=job.org_id, message_id=message["id"], wa_id=wa_id, lane=message.get("lane"),
             qstash_message_id=delivery.message_id)  # fmt: skip
    return {"outcome": "sent", "message_id": message["id"], "wa_id": wa_id}

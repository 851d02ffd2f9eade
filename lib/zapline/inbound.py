"""The inbound function: a QStash-signed UAZAPI webhook becomes stored records and one live update.

1. the signed-endpoint wrapper has verified ``Upstash-Signature`` (401 otherwise, nothing stored);
2. the instance key and the event are parsed (malformed → 489, straight to the dead letters);
3. one Lua round trip stores it, checking the instance and the body's token (unknown → 489);
4. one Centrifugo broadcast shows it live (down → 503; QStash retries, storing is then a no-op).

A duplicate (UAZAPI re-sent the webhook, or QStash retried after a 503) stores nothing and
publishes again with the same idempotency key: Centrifugo drops the copy if the first got through.

The instance's own chat ("message yourself") is checked like any webhook, then acknowledged as
``self_chat`` with nothing stored: it is the owner's, not a lead's. What the owner types there goes to
the owner's assistant (``ai/assistant.py``) when the organisation's AI is on. Group membership changes
(``groups`` events) become ``group_event`` messages of the group's conversation.
"""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.routing import Route

from zapline import notifications
from zapline.campaigns import attribution
from zapline.http import Delivery, signed
from zapline.keywords import nps_score, opt_out_keyword
from zapline.logs import get_logger
from zapline.planner import plan_message
from zapline.publications import instance_status, message_status, publish
from zapline.qstash import cancel_quietly
from zapline.store.ingest import (
    ingest_connection,
    ingest_message,
    ingest_receipts,
    ingest_self_chat,
    ingest_unknown,
)
from zapline.store.registry import InstanceRef, parse_instance_key
from zapline.uazapi.events import ConnectionEvent, GroupEvent, MessagesEvent, ReceiptEvent, parse_event
from zapline.uazapi.normalize import WhatsAppMessage, normalize_group_event, normalize_message
from zapline.uazapi.phones import e164

__all__ = ["routes"]

log = get_logger("zapline.inbound")


async def receive_uazapi(delivery: Delivery) -> dict[str, Any]:
    ref = parse_instance_key(delivery.path_params["instance_key"])
    event = parse_event(delivery.body)
    retry = delivery.retried > 0  # receipts: the first attempt may have changed, but not shown, them
    if isinstance(event, MessagesEvent):
        message = normalize_message(event)
        if message.self_chat:  # "message yourself": the owner's notes, not a lead (nothing stored)
            result = await ingest_self_chat(ref, event.token)
            answer: dict[str, Any] = {"outcome": "self_chat"}
            if result.ai and _for_assistant(message):
                from zapline.jobs.kinds import ASSISTANT, AssistantJob
                from zapline.registry.jobs import enqueue

                kind = "audio" if message.kind == "audio" else "text"
                job = AssistantJob(org_id=ref.org_id, instance_id=ref.instance_id, wa_id=message.wa_id, kind=kind,
                                   text=message.text[:4096])  # fmt: skip
                await enqueue(ASSISTANT, job)
                answer["assistant"] = True
        else:
            answer = await _ingest_message(ref, event.token, message)
    elif isinstance(event, GroupEvent):
        change = normalize_group_event(event)
        if change is None:  # a group's name, description or settings: not shown yet
            await ingest_unknown(ref, event.token, f"groups:{event.type}")
            return {"outcome": "ignored"}
        answer = await _ingest_message(ref, event.token, change)
    elif isinstance(event, ReceiptEvent):
        status = event.status
        if _own_chat(event.event.chat, event.owner):
            await ingest_self_chat(ref, event.token)
            return {"outcome": "self_chat"}
        if status is None:
            await ingest_unknown(ref, event.token, f"messages_update:{event.state or event.type}")
            return {"outcome": "ignored"}
        result = await ingest_receipts(ref, event.token, event.event.message_ids, status, event.event.timestamp,
                                       chat=event.event.chat)  # fmt: skip
        await attribution.after_receipts(ref.org_id, result.current if retry else result.changed)  # campaigns' only
        await _publish_receipts(ref, delivery, result.current if retry else result.changed, status)
        answer = {"outcome": "receipts", "changed": len(result.changed)}
    elif isinstance(event, ConnectionEvent):
        state = event.instance
        result = await ingest_connection(
            ref, event.token, state.status if state else "", state.last_disconnect_reason if state else ""
        )
        reason = state.last_disconnect_reason if state else None
        await publish(instance_status(ref.org_id, ref.instance_id, result.status, reason, key=_key(ref, delivery)))
        await notifications.connection_changed(ref, result.status, reason)
        answer = {"outcome": "connection", "status": result.status}
    else:
        await ingest_unknown(ref, event.token, event.event_type)
        answer = {"outcome": "ignored", "event_type": event.event_type[:64]}
    log.info("ingested", org=ref.org_id, instance=ref.instance_id, qstash_message_id=delivery.message_id, **answer)
    return answer


async def _ingest_message(ref: InstanceRef, token: str, message: WhatsAppMessage) -> dict[str, Any]:
    answered = message.vote if message.kind in ("poll_vote", "list_response") and message.vote else message.text
    inbound = not message.from_me
    result = await ingest_message(
        ref,
        token,
        message,
        nps_score=nps_score(answered) if inbound else None,
        opt_out=inbound and message.kind == "text" and opt_out_keyword(message.text),
    )
    await attribution.after_message(ref.org_id, result)  # a reply to a campaign's message (no command otherwise)
    plan = plan_message(ref, message.wa_id, result)
    for timer in plan.cancel:
        await cancel_quietly(timer)
    for publication in plan.publications:
        await publish(publication)
    if plan.jobs:  # AI work: QStash down → 503, and the retry (a duplicate) publishes them (deduplicated)
        from zapline.registry.jobs import enqueue

        for job in plan.jobs:
            await enqueue(job.kind, job.payload, delay=job.delay)
    await notifications.after_inbound(ref, message, result)  # urgent words, a low NPS: the owner at once
    answer: dict[str, Any] = {"outcome": result.outcome, "message_id": (result.message or {}).get("id")}
    if result.nps_score is not None:
        answer["nps_score"] = result.nps_score
    if result.opted_out:
        answer["opted_out"] = True
    return answer


def _for_assistant(message: WhatsAppMessage) -> bool:
    """The owner typed it (or recorded a voice note) in the instance's own chat: not our own send coming
    back (the assistant's answers, summaries), which would answer itself."""
    if message.sent_by_api or message.track_id:
        return False
    return message.kind == "audio" or (message.kind == "text" and bool(message.text.strip()))


def _own_chat(chat_jid: str, owner: str) -> bool:
    return bool(owner) and e164(chat_jid) is not None and e164(chat_jid) == e164(owner)


def _key(ref: InstanceRef, delivery: Delivery) -> str:
    return f"{ref.instance_id}:qstash:{delivery.message_id or hashlib.sha256(delivery.body).hexdigest()[:32]}"


async def _publish_receipts(ref: InstanceRef, delivery: Delivery, entries: list[dict[str, Any]], status: str) -> None:
    if entries:
        await publish(message_status(ref.org_id, status, entries, key=_key(ref, delivery)))


routes = [Route("/api/inbound/uazapi/{instance_key}", signed(receive_uazapi), methods=["POST"])]

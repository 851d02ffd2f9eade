"""The inbound function: a QStash-signed UAZAPI webhook becomes stored records and one live update.

1. the signed-endpoint wrapper has verified ``Upstash-Signature`` (401 otherwise, nothing stored);
2. the instance key and the event are parsed (malformed → 489, straight to the dead letters);
3. one Lua round trip stores it, checking the instance and the body's token (unknown → 489);
4. one Centrifugo broadcast shows it live (down → 503; QStash retries, storing is then a no-op).

A duplicate (UAZAPI re-sent the webhook, or QStash retried after a 503) stores nothing and
publishes again with the same idempotency key: Centrifugo drops the copy if the first got through.
"""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.routing import Route

from zapline import automation, realtime
from zapline.http import Delivery, signed
from zapline.logs import get_logger
from zapline.store.ingest import (
    IngestResult,
    ingest_connection,
    ingest_message,
    ingest_receipts,
    ingest_unknown,
)
from zapline.store.registry import InstanceRef, parse_instance_key
from zapline.uazapi.events import ConnectionEvent, MessagesEvent, ReceiptEvent, parse_event
from zapline.uazapi.normalize import normalize_message

__all__ = ["routes"]

log = get_logger("zapline.inbound")


async def receive_uazapi(delivery: Delivery) -> dict[str, Any]:
    ref = parse_instance_key(delivery.path_params["instance_key"])
    event = parse_event(delivery.body)
    retry = delivery.retried > 0  # receipts: the first attempt may have changed, but not shown, them
    if isinstance(event, MessagesEvent):
        message = normalize_message(event)
        said = message.vote if message.kind == "poll_vote" else message.text
        inbound = not message.from_me
        result = await ingest_message(
            ref,
            event.token,
            message,
            nps_score=automation.nps_score(said) if inbound else None,
            opt_out=inbound and message.kind == "text" and automation.opt_out_keyword(said),
        )
        await automation.cancel_quietly(result.cancel)  # the lead wrote: the armed follow-up is stale
        # a duplicate publishes again: if the first delivery stored it but could not publish, this
        # shows it; if it did, Centrifugo's idempotency key drops the copy
        await _publish_message(ref, message.wa_id, result)
        answer = {"outcome": result.outcome, "message_id": (result.message or {}).get("id")}
        if result.nps_score is not None:
            answer["nps_score"] = result.nps_score
        if result.opted_out:
            answer["opted_out"] = True
    elif isinstance(event, ReceiptEvent):
        status = event.status
        if status is None:
            await ingest_unknown(ref, event.token, f"messages_update:{event.state or event.type}")
            return {"outcome": "ignored"}
        result = await ingest_receipts(ref, event.token, event.event.message_ids, status, event.event.timestamp)
        await _publish_receipts(ref, delivery, result.current if retry else result.changed, status)
        answer = {"outcome": "receipts", "changed": len(result.changed)}
    elif isinstance(event, ConnectionEvent):
        state = event.instance
        result = await ingest_connection(
            ref, event.token, state.status if state else "", state.last_disconnect_reason if state else ""
        )
        data = {"type": "instance.status", "instance_id": ref.instance_id, "status": result.status}
        await realtime.broadcast([realtime.inbox_channel(ref.org_id)], data, idempotency_key=_key(ref, delivery))
        answer = {"outcome": "connection", "status": result.status}
    else:
        await ingest_unknown(ref, event.token, event.event_type)
        answer = {"outcome": "ignored", "event_type": event.event_type[:64]}
    log.info("ingested", org=ref.org_id, instance=ref.instance_id, qstash_message_id=delivery.message_id, **answer)
    return answer


def _key(ref: InstanceRef, delivery: Delivery) -> str:
    return f"{ref.instance_id}:qstash:{delivery.message_id or hashlib.sha256(delivery.body).hexdigest()[:32]}"


async def _publish_message(ref: InstanceRef, wa_id: str, result: IngestResult) -> None:
    message, conversation = result.message, result.conversation
    if not message or not conversation:
        return
    created = result.outcome == "stored" or (result.outcome == "duplicate" and result.original == "created")
    kind = "message.created" if created else "message.updated"
    channels = [realtime.inbox_channel(ref.org_id), realtime.conversation_channel(ref.org_id, conversation["id"])]
    data = {"type": kind, "conversation": conversation, "message": message}
    await realtime.broadcast(channels, data, idempotency_key=f"{ref.instance_id}:{wa_id}")


async def _publish_receipts(ref: InstanceRef, delivery: Delivery, entries: list[dict[str, Any]], status: str) -> None:
    if not entries:
        return
    channels = [realtime.inbox_channel(ref.org_id)]
    channels += [realtime.conversation_channel(ref.org_id, e["conversation_id"]) for e in entries]
    data = {"type": "message.status", "status": status, "messages": entries}
    await realtime.broadcast(channels, data, idempotency_key=_key(ref, delivery))


routes = [Route("/api/inbound/uazapi/{instance_key}", signed(receive_uazapi), methods=["POST"])]

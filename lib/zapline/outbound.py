"""Queueing an outbound message: stored at once (pending), then sent by ``jobs/send`` in its lane.

Every outbound message is a QStash message to ``jobs/send`` whose deduplication id is the
message's own id, so submitting the same message twice (same id) sends it once.
"""

from __future__ import annotations

import secrets
from typing import Any

from zapline import qstash
from zapline.errors import BadRequest, QueueUnavailable, TransientError
from zapline.jobs.kinds import SEND, SendJob
from zapline.logs import get_logger
from zapline.publications import message_changed, publish
from zapline.registry.jobs import enqueue
from zapline.store import sweep
from zapline.store.outbound import Created, create_outbound

__all__ = ["MAX_CAPTION_CHARS", "MAX_TEXT_CHARS", "media_kind", "new_message_id", "publish_update", "queue_message"]

log = get_logger("zapline.outbound")

KINDS = ("text", "image", "video", "audio", "document", "sticker", "poll")
MAX_TEXT_CHARS = 4096  # WhatsApp's limit for one text message
MAX_CAPTION_CHARS = 1024  # and for a media caption
_MEDIA_KINDS = {"ptt": "audio", "myaudio": "audio", "ptv": "video"}  # UAZAPI's send types → a message's kind


def media_kind(media_type: str) -> str:
    """The stored message kind of a media send of UAZAPI ``media_type`` (a voice note is audio)."""
    return _MEDIA_KINDS.get(media_type, media_type)


def new_message_id() -> str:
    return f"msg_{secrets.token_hex(8)}"


async def publish_update(org_id: str, message: dict[str, Any], kind: str = "message.updated") -> None:
    """Show a change of an outbound message live (created, sent, failed)."""
    created = kind == "message.created"
    key = f"{message['id']}:{kind}" + ("" if created else f":{message.get('status')}")
    await publish(message_changed(org_id, message, created=created, key=key))


async def queue_message(
    org_id: str,
    conversation_id: str,
    *,
    text: str = "",
    kind: str = "text",
    media: dict[str, Any] | None = None,
    choices: list[str] | None = None,
    lane: str = "realtime",
    message_id: str | None = None,
    author: str | None = None,
    restart_followups: bool = False,
    guard_epoch: int | None = None,
) -> Created:
    """Store a pending outbound message and queue its send (``LeadOptedOut`` when the lead opted out)."""
    if kind not in KINDS or lane not in qstash.LANES:
        raise BadRequest(f"kind must be one of {', '.join(KINDS)} and lane one of {', '.join(qstash.LANES)}")
    if len(text) > MAX_TEXT_CHARS:
        raise BadRequest(f"text is {len(text)} characters; WhatsApp takes at most {MAX_TEXT_CHARS}")
    if kind == "text" and not text.strip():
        raise BadRequest("a text message needs text")
    if kind not in ("text", "poll") and not (media and media.get("url")):
        raise BadRequest(f"a {kind} message needs media.url")
    message = {"id": message_id or new_message_id(), "kind": kind, "text": text, "media": media, "lane": lane,
               "choices": choices, "author": author, "guard_epoch": guard_epoch}  # fmt: skip
    created = await create_outbound(
        org_id,
        conversation_id,
        {k: v for k, v in message.items() if v is not None},
        preview=text[:160],
        restart_followups=restart_followups,
    )
    record = created.message
    if record["status"] == "pending":  # new, or a double submit not sent yet: QStash deduplicates
        job = SendJob(org_id=org_id, message_id=record["id"], lane=record.get("lane") or lane,
                      instance_id=record["instance_id"])  # fmt: skip
        try:
            await enqueue(SEND, job)
        except QueueUnavailable as exc:  # stored, so not lost: the sweeper publishes it once QStash is back
            log.warning("send not queued yet; the sweeper will", org=org_id, message_id=record["id"], error=exc.message)
            await sweep.mark(org_id)
        else:
            try:  # queued: from here on nothing may fail the caller, who would send it again
                await sweep.confirm_queued(org_id, record["id"])
            except TransientError as exc:  # the sweeper finds it still listed and republishes (deduplicated)
                log.warning("queued send not confirmed", org=org_id, message_id=record["id"], error=exc.message)
    # also for a repeat: if the first attempt failed after storing, its publication never happened
    # (Centrifugo drops the copy when it did)
    try:
        await publish_update(org_id, record, "message.created")
    except TransientError as exc:  # stored and queued: the inbox shows it on its next read or update
        log.warning("queued message not shown live", org=org_id, message_id=record["id"], error=exc.message)
    return created

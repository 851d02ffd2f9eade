"""Every live update Zapline publishes, typed in one place: its type, its channels, its payload.

Each is ONE Centrifugo broadcast (:func:`zapline.realtime.broadcast`) with an idempotency key, so a
retried delivery publishes again and Centrifugo drops the copy. Channels: ``inbox:<org>`` sees
everything of the organisation, ``conversation:<org>:<id>`` one conversation.

| type | channels | payload |
|---|---|---|
| ``message.created`` / ``message.updated`` | inbox, conversation | ``message`` (+ ``conversation``, ``poll``) |
| ``message.status`` | inbox, each message's conversation | ``status``, ``messages`` (id, conversation) |
| ``conversation.updated`` | inbox, conversation | ``conversation`` (id, status) |
| ``instance.status`` | inbox | ``instance_id``, ``status``, ``reason`` when UAZAPI gave one |
| ``job.failed`` | inbox | the dead letter as ``GET /api/v1/dead-letters`` lists it |
| ``campaign.progress`` | inbox | ``campaign`` as ``GET /api/v1/campaigns/{id}`` shows it (at most one a second) |
| ``owner.notification`` | inbox | ``cause``, ``text`` and what it is about (``conversation_id``, ``instance_id``, …) |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from zapline import realtime

__all__ = [
    "Publication",
    "campaign_progress",
    "conversation_updated",
    "instance_status",
    "job_failed",
    "message_changed",
    "message_status",
    "owner_notification",
    "publish",
]

EventType = Literal[
    "message.created",
    "message.updated",
    "message.status",
    "conversation.updated",
    "instance.status",
    "job.failed",
    "owner.notification",
    "campaign.progress",
]


@dataclass(frozen=True)
class Publication:
    type: EventType
    channels: tuple[str, ...]
    payload: dict[str, Any]
    idempotency_key: str

    @property
    def data(self) -> dict[str, Any]:
        return {"type": self.type, **self.payload}


async def publish(publication: Publication) -> None:
    """Broadcast it (``RealtimeUnavailable`` when Centrifugo cannot take it: the caller's retry repeats it)."""
    await realtime.broadcast(publication.channels, publication.data, idempotency_key=publication.idempotency_key)


def _both(org_id: str, conversation_id: str) -> tuple[str, ...]:
    return realtime.inbox_channel(org_id), realtime.conversation_channel(org_id, conversation_id)


def message_changed(
    org_id: str,
    message: dict[str, Any],
    *,
    created: bool,
    key: str,
    conversation: dict[str, Any] | None = None,
    poll: dict[str, Any] | None = None,
) -> Publication:
    payload: dict[str, Any] = {"message": message}
    if conversation is not None:
        payload["conversation"] = conversation
    if poll is not None:
        payload["poll"] = poll
    kind: EventType = "message.created" if created else "message.updated"
    return Publication(kind, _both(org_id, message["conversation_id"]), payload, key)


def message_status(org_id: str, status: str, entries: list[dict[str, Any]], *, key: str) -> Publication:
    channels = (realtime.inbox_channel(org_id), *(realtime.conversation_channel(org_id, e["conversation_id"])
                                                   for e in entries))  # fmt: skip
    return Publication("message.status", tuple(dict.fromkeys(channels)), {"status": status, "messages": entries}, key)


def conversation_updated(org_id: str, conversation_id: str, status: str) -> Publication:
    payload = {"conversation": {"id": conversation_id, "status": status}}
    return Publication("conversation.updated", _both(org_id, conversation_id), payload,
                       f"{conversation_id}:status:{status}")  # fmt: skip


def instance_status(org_id: str, instance_id: str, status: str | None, reason: str | None, *, key: str) -> Publication:
    payload: dict[str, Any] = {"instance_id": instance_id, "status": status}
    if reason:
        payload["reason"] = reason
    return Publication("instance.status", (realtime.inbox_channel(org_id),), payload, key)


def job_failed(org_id: str, entry: dict[str, Any], *, seen_id: str) -> Publication:
    return Publication("job.failed", (realtime.inbox_channel(org_id),), dict(entry), f"dead:{seen_id}")


def owner_notification(org_id: str, cause: str, text: str, *, key: str, about: dict[str, str]) -> Publication:
    """A high-priority notification (``notifications.py``), shown live as it goes to the owner's WhatsApp."""
    return Publication("owner.notification", (realtime.inbox_channel(org_id),), {"cause": cause, "text": text, **about},
                       f"notify:{key}")  # fmt: skip


def campaign_progress(org_id: str, campaign: dict[str, Any], *, seq: str) -> Publication:
    """A campaign's status and counters moved (``seq``: the campaign's count of updates, so a repeat is dropped)."""
    return Publication("campaign.progress", (realtime.inbox_channel(org_id),), {"campaign": campaign},
                       f"{campaign['id']}:progress:{seq}")  # fmt: skip

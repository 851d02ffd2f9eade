"""The UAZAPI sending client: ``/send/text``, ``/send/media``, ``/send/menu``, ``/chat/check``,
``/message/download``, ``/message/find`` and ``/webhook``, with the shared httpx client.

Errors are classified for QStash: 429, 5xx, timeouts and connection failures are
:class:`UazapiUnavailable` (retryable; ``retry_after`` from UAZAPI's ``Retry-After``); a rejected
payload, an invalid number or a bad instance token is :class:`UazapiRejected` (not retryable).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zapline import outgoing
from zapline.errors import UazapiRejected, UazapiUnavailable

__all__ = ["Instance", "SentMessage", "UazapiRejected", "UazapiUnavailable", "send_media", "send_menu", "send_text"]


@dataclass(frozen=True)
class Instance:
    """Where and how to reach one UAZAPI instance."""

    base_url: str
    token: str
    id: str = ""


@dataclass(frozen=True)
class SentMessage:
    message_id: str | None  # WhatsApp's id (echoes and receipts refer to it); None if UAZAPI gave none
    timestamp: int | None
    raw: dict[str, Any]


async def _call(instance: Instance, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
    response = await outgoing.request(
        f"UAZAPI {path}", method, f"{instance.base_url}{path}", unavailable=UazapiUnavailable,
        rejected=UazapiRejected, context={"instance": instance.id}, json=payload, headers={"token": instance.token},
    )  # fmt: skip
    try:
        return response.json()
    except ValueError:
        return {}


def _sent(body: Any) -> SentMessage:
    """A 2xx means UAZAPI took the message; without an id in it, the echo (matched by our
    ``track_id``) supplies the id later. Treating it as a failure would send it again."""
    body = body if isinstance(body, dict) else {}
    raw_id = body.get("messageid") or (str(body["id"]).split(":")[-1] if body.get("id") else None)
    message_id = str(raw_id) if raw_id else None
    timestamp = body.get("messageTimestamp")
    return SentMessage(message_id, int(timestamp) if isinstance(timestamp, int | float) else None, body)


def _tracking(track_id: str | None) -> dict[str, str]:
    return {"track_source": "zapline", "track_id": track_id} if track_id else {}


async def send_text(
    instance: Instance, number: str, text: str, *, track_id: str | None = None, reply_to: str | None = None
) -> SentMessage:
    payload: dict[str, Any] = {"number": number, "text": text, **_tracking(track_id)}
    if reply_to:
        payload["replyid"] = reply_to
    return _sent(await _call(instance, "POST", "/send/text", payload))


async def send_media(
    instance: Instance,
    number: str,
    *,
    media_type: str,
    file: str,
    caption: str = "",
    file_name: str | None = None,
    track_id: str | None = None,
) -> SentMessage:
    payload: dict[str, Any] = {"number": number, "type": media_type, "file": file, **_tracking(track_id)}
    if caption:
        payload["text"] = caption
    if file_name:
        payload["docName"] = file_name
    return _sent(await _call(instance, "POST", "/send/media", payload))


async def send_menu(
    instance: Instance, number: str, *, kind: str, text: str, choices: list[str], track_id: str | None = None
) -> SentMessage:
    """A poll (``kind="poll"``) or list; the answer comes back as a ``messages`` event."""
    payload: dict[str, Any] = {"number": number, "type": kind, "text": text, "choices": choices,
                               "selectableCount": 1, **_tracking(track_id)}  # fmt: skip
    return _sent(await _call(instance, "POST", "/send/menu", payload))


async def check_numbers(instance: Instance, numbers: list[str]) -> list[dict[str, Any]]:
    body = await _call(instance, "POST", "/chat/check", {"numbers": numbers})
    return list(body) if isinstance(body, list) else []


async def download(instance: Instance, message_id: str, *, transcribe: bool = False) -> dict[str, Any]:
    payload = {"id": message_id, "return_link": True, "return_base64": False, "transcribe": transcribe}
    body = await _call(instance, "POST", "/message/download", payload)
    return dict(body) if isinstance(body, dict) else {}


async def find_tracked(instance: Instance, number: str, track_id: str) -> str | None:
    """The WhatsApp id of a message we sent with ``track_id``, if UAZAPI has it (did a send happen?)."""
    body = await _call(instance, "POST", "/message/find", {"chatid": number, "track_id": track_id, "limit": 1})
    messages = body.get("messages", body) if isinstance(body, dict) else body
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, dict) and message.get("track_id") == track_id and message.get("messageid"):
            return str(message["messageid"])
    return None


async def configure_webhook(instance: Instance, url: str) -> list[dict[str, Any]]:
    """Point the instance's webhook at ``url`` (Zapline's QStash publish URL) and read it back."""
    payload = {
        "enabled": True,
        "url": url,
        "events": ["messages", "messages_update", "connection"],
        "excludeMessages": [],
        "addUrlEvents": False,
        "addUrlTypesMessages": False,
    }
    await _call(instance, "POST", "/webhook", payload)
    body = await _call(instance, "GET", "/webhook")
    return list(body) if isinstance(body, list) else [body]


# --- contacts (the contact sync, jobs/contacts.py) ------------------------------------------------


@dataclass(frozen=True)
class ChatPage:
    chats: list[dict[str, Any]]  # Chat objects as UAZAPI stores them (parsed by uazapi/contacts.py)
    total: int | None  # pagination.totalRecords, when UAZAPI gave it


async def find_chats(instance: Instance, *, limit: int, offset: int) -> ChatPage:
    """``POST /chat/find``: one page of the instance's 1:1 chats (``wa_isGroup: false``), in the stable
    order of their JIDs, with the name, picture and labels UAZAPI holds for each."""
    payload = {"operator": "AND", "sort": "+wa_chatid", "limit": limit, "offset": offset, "wa_isGroup": False}
    body = await _call(instance, "POST", "/chat/find", payload)
    body = body if isinstance(body, dict) else {}
    chats = body.get("chats")
    pagination = body.get("pagination")
    total = pagination.get("totalRecords") if isinstance(pagination, dict) else None
    return ChatPage(
        [c for c in chats if isinstance(c, dict)] if isinstance(chats, list) else [],
        int(total) if isinstance(total, int) and not isinstance(total, bool) else None,
    )


async def list_labels(instance: Instance) -> dict[str, str]:
    """``GET /labels``: the instance's WhatsApp labels, id → name."""
    body = await _call(instance, "GET", "/labels")
    labels: dict[str, str] = {}
    for label in body if isinstance(body, list) else []:
        if isinstance(label, dict) and isinstance(label.get("name"), str):
            label_id = label.get("id", label.get("labelid"))
            if isinstance(label_id, str | int) and not isinstance(label_id, bool):
                labels[str(label_id)] = label["name"]
    return labels


async def chat_details(instance: Instance, number: str, *, preview: bool = False) -> dict[str, Any]:
    """``POST /chat/details``: one chat with every field, its picture refreshed (``image``, or
    ``imagePreview`` with ``preview``)."""
    body = await _call(instance, "POST", "/chat/details", {"number": number, "preview": preview})
    return dict(body) if isinstance(body, dict) else {}

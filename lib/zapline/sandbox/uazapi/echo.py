"""What one accepted send becomes: the ``messages`` echo webhook, the API's 200 body, the record
``GET /_sandbox/sent`` lists, and the message the simulator remembers.

The echo is the webhook UAZAPI posts for a message sent through its API: ``fromMe: true``,
``wasSentByApi: true``, ``source: "api"``, the send's ``messageid``, and ``track_source`` /
``track_id`` copied from the request. The 200 body is the same stored Message object plus
``response`` (reference §3.2).
"""

from __future__ import annotations

from typing import Any

from zapline.sandbox.uazapi.instances import KnownMessage
from zapline.sandbox.uazapi.outgoing import Outgoing
from zapline.sandbox.uazapi.payloads import Uazapi

__all__ = ["api_response", "echo_webhook", "known_message", "menu_options", "sent_record"]

# media type of /send/media -> (messageType, mediaType, our kind)
_MEDIA = {
    "image": ("ImageMessage", "image", "image"),
    "video": ("VideoMessage", "video", "video"),
    "ptv": ("PtvMessage", "ptv", "video"),
    "document": ("DocumentMessage", "document", "document"),
    "audio": ("AudioMessage", "audio", "audio"),
    "myaudio": ("AudioMessage", "ptt", "audio"),
    "ptt": ("AudioMessage", "ptt", "audio"),
    "sticker": ("StickerMessage", "sticker", "sticker"),
}
_MENU = {"button": "ButtonsMessage", "list": "ListMessage", "carousel": "InteractiveMessage"}
_RESPONSE_FIELDS = (
    "id", "messageid", "chatid", "sender", "senderName", "isGroup", "fromMe", "messageType", "source",
    "messageTimestamp", "status", "text", "quoted", "edited", "reaction", "vote", "convertOptions",
    "buttonOrListid", "owner", "track_source", "track_id", "wasSentByApi", "sender_pn", "sender_lid",
)  # fmt: skip


def menu_options(out: Outgoing) -> list[str]:
    """The choices a customer sees: poll options as given; list/button rows without ``|id|...`` and
    ``[Section]`` headers."""
    if out.menu_type == "poll":
        return list(out.choices)
    return [c.split("|", 1)[0] for c in out.choices if not (c.startswith("[") and c.endswith("]"))]


def echo_webhook(
    builder: Uazapi, out: Outgoing, *, message_id: str, timestamp: int, contact_name: str, file_url: str
) -> dict[str, Any]:
    kw: dict[str, Any] = {
        "contact": out.to.contact,
        "name": contact_name,
        "from_me": True,
        "sent_by_api": True,
        "message_id": message_id,
        "timestamp": timestamp,
        "track_id": out.track_id,
        "track_source": out.track_source,
        "quoted": out.reply_id,
        "status": "Sent",
    }
    if out.to.is_group:
        kw["group"] = out.to.contact
    if out.kind == "text":
        return builder.extended_text(out.text, **kw)
    if out.kind == "media":
        message_type, media_type, _ = _MEDIA[out.media_type]
        content: dict[str, Any] = {
            "URL": file_url,
            "mimetype": out.mimetype,
            "fileLength": len(out.data) if out.data is not None else 0,
        }
        if out.text:
            content["caption"] = out.text
        if out.media_type == "document":
            content["fileName"] = out.doc_name
        if media_type in ("ptt", "audio"):
            content.update(seconds=0, PTT=media_type == "ptt")
        return builder.media(message_type, media_type, out.text, content, **kw)
    if out.menu_type == "poll":
        return builder.poll(out.text, "|".join(out.choices), **kw)
    content = {"text": out.text, "footerText": out.footer_text, "listButton": out.list_button, "choices": out.choices}
    return builder.message(text=out.text, message_type=_MENU[out.menu_type], type_="text", content=content, **kw)


def api_response(echo: dict[str, Any], out: Outgoing, file_url: str) -> dict[str, Any]:
    message = echo["message"]
    body = {name: message.get(name) for name in _RESPONSE_FIELDS}
    body.update(
        content=None,
        error="",
        sendFunction=out.endpoint,
        sendPayload=out.payload,
        fileURL=file_url,
        send_folder_id="",
        ai_metadata={},
        response={"status": "success", "message": "Message sent successfully"},
    )
    if out.kind == "media":
        body["response"]["fileUrl"] = file_url
    return body


def known_message(out: Outgoing, message_id: str) -> KnownMessage:
    kind = _MEDIA[out.media_type][2] if out.kind == "media" else (out.menu_type or "text")
    return KnownMessage(
        messageid=message_id,
        contact=out.to.contact,
        from_me=True,
        kind=kind,
        text=out.text,
        mimetype=out.mimetype,
        file_name=out.doc_name,
        data=out.data,
        options=menu_options(out) if out.kind == "menu" else [],
    )


def sent_record(out: Outgoing, *, instance: str, message_id: str, received_ms: int) -> dict[str, Any]:
    media = None
    if out.kind == "media":
        media = {
            "type": out.media_type,
            "file": out.file if out.file_is_url else f"(base64, {len(out.data or b'')} bytes)",
            "mimetype": out.mimetype,
            "docName": out.doc_name,
        }
    record: dict[str, Any] = {
        "instance": instance,
        "number": out.to.contact,
        "chatid": out.to.jid,
        "type": out.kind,
        "text": out.text,
        "media": media,
        "message_id": message_id,
        "track_id": out.track_id,
        "track_source": out.track_source,
        "quoted": out.reply_id,
        "time": received_ms,
    }
    if out.kind == "menu":
        record.update(menu_type=out.menu_type, choices=menu_options(out))
    return record

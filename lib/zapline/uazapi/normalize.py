"""From UAZAPI's event shapes to Zapline's: one :class:`WhatsAppMessage` per ``messages`` event.

Who the counterpart is: always ``message.chatid`` / ``chat.wa_chatid`` (the contact, even when we
sent the message), never ``sender`` (a LID, or us when ``fromMe``). The lead's phone comes, in
order, from ``chatid``, ``chat.wa_chatid``, ``sender_pn`` (only when the contact sent it) and
``chat.phone``; a contact known only by a ``@lid`` keeps that as its identity.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from zapline.errors import InvalidPayload
from zapline.uazapi.events import MessageInfo, MessagesEvent
from zapline.uazapi.phones import e164, is_group_jid

__all__ = ["WhatsAppMessage", "normalize_message"]

# UAZAPI messageType → our kind. ``type``/``mediaType`` refine it below.
_KINDS = {
    "conversation": "text",
    "extendedtextmessage": "text",
    "imagemessage": "image",
    "audiomessage": "audio",
    "videomessage": "video",
    "ptvmessage": "video",
    "documentmessage": "document",
    "documentwithcaptionmessage": "document",
    "stickermessage": "sticker",
    "locationmessage": "location",
    "livelocationmessage": "location",
    "contactmessage": "contact",
    "contactsarraymessage": "contact",
    "reactionmessage": "reaction",
    "pollupdatemessage": "poll_vote",
    "pollcreationmessage": "poll",
    "pollcreationmessagev2": "poll",
    "pollcreationmessagev3": "poll",
    "listresponsemessage": "list_response",
    "buttonsresponsemessage": "button_response",
    "templatebuttonreplymessage": "button_response",
    "protocolmessage": "protocol",
    "albummessage": "album",
}
_MEDIA_TYPES = {"image": "image", "ptt": "audio", "audio": "audio", "myaudio": "audio", "video": "video",
                "gif": "video", "ptv": "video", "document": "document", "sticker": "sticker",
                "user_created_sticker": "sticker", "location": "location", "vcard": "contact",
                "list_response": "list_response"}  # fmt: skip
_MEDIA_FIELDS = {
    "mimetype": "mimetype",
    "fileName": "file_name",
    "fileLength": "size",
    "seconds": "seconds",
    "PTT": "voice_note",
    "gifPlayback": "gif",
    "pageCount": "pages",
    "width": "width",
    "height": "height",
    "degreesLatitude": "latitude",
    "degreesLongitude": "longitude",
    "displayName": "display_name",
    "vcard": "vcard",
    "isAnimated": "animated",
}


@dataclass(frozen=True)
class WhatsAppMessage:
    """A message as Zapline stores it, whichever direction it went."""

    wa_id: str
    chat_jid: str
    timestamp: int  # ms, WhatsApp's clock
    kind: str  # text, image, audio, video, document, sticker, location, contact, reaction, poll,
    # poll_vote, list_response, button_response, edit, revoke, album, protocol, unknown
    text: str
    from_me: bool
    sent_by_api: bool
    is_group: bool
    phone: str | None  # E.164 of the contact (1:1 chats)
    lid: str | None
    contact_name: str | None
    group_name: str | None
    sender_phone: str | None  # who wrote it, in groups
    sender_name: str | None
    target: str | None  # the message a reaction, edit, revoke or vote refers to
    quoted: str | None
    vote: str | None
    option_id: str | None
    media: dict[str, Any] | None
    track_id: str | None
    raw_type: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _kind(message: MessageInfo) -> str:
    kind = _KINDS.get(message.message_type.lower())
    if kind is None:
        kind = _MEDIA_TYPES.get(message.media_type.lower()) or {
            "text": "text",
            "reaction": "reaction",
            "poll": "poll_vote",
            "revoked": "revoke",
        }.get(message.type.lower(), "unknown")
    if kind == "text" and message.edited:
        return "edit"
    if kind == "protocol":
        content = message.content if isinstance(message.content, dict) else {}
        if str(content.get("type", "")).upper() in ("0", "REVOKE") or message.type.lower() == "revoked":
            return "revoke"
        if message.edited:
            return "edit"
    return kind


def _media(message: MessageInfo, kind: str) -> dict[str, Any] | None:
    if kind == "poll":
        options = [o for o in message.convert_options.split("|") if o]
        return {"options": options} if options else None  # Lua's cjson would store [] as {}
    if kind not in ("image", "audio", "video", "document", "sticker", "location", "contact"):
        return None
    content = message.content if isinstance(message.content, dict) else {}
    media = {ours: content[theirs] for theirs, ours in _MEDIA_FIELDS.items() if content.get(theirs) not in (None, "")}
    media["media_type"] = message.media_type or kind
    if kind in ("image", "audio", "video", "document", "sticker"):
        media["downloaded"] = False  # fetched on demand through UAZAPI's /message/download
    return media


def _target(message: MessageInfo, kind: str) -> str | None:
    if kind == "reaction":
        return message.reaction or _content_key_id(message)
    if kind == "edit":
        return message.edited or _content_key_id(message)
    if kind == "revoke":
        return _content_key_id(message) or message.edited or message.quoted or None
    if kind in ("poll_vote", "list_response", "button_response"):
        return message.quoted or _content_key_id(message)
    return None


def _content_key_id(message: MessageInfo) -> str | None:
    content = message.content if isinstance(message.content, dict) else {}
    for field in ("key", "pollCreationMessageKey"):
        key = content.get(field)
        if isinstance(key, dict) and key.get("ID"):
            return str(key["ID"])
    return None


def normalize_message(event: MessagesEvent) -> WhatsAppMessage:
    message, chat = event.message, event.chat
    chat_jid = message.chatid or (chat.wa_chatid if chat else "")
    if "@" not in chat_jid:  # without it, different contacts would share one lead and conversation
        raise InvalidPayload("messages event: neither message.chatid nor chat.wa_chatid is a chat JID",
                             field="message.chatid")  # fmt: skip
    is_group = message.is_group or is_group_jid(chat_jid) or bool(chat and chat.wa_is_group)
    kind = _kind(message)
    phone = lid = contact_name = None
    if not is_group:
        candidates = [message.chatid, chat.wa_chatid if chat else None]
        if not message.from_me:
            candidates.append(message.sender_pn)
        candidates.append(chat.phone if chat else None)
        phone = next((p for c in candidates if (p := e164(c))), None)
        lid = next(
            (j for j in (message.chatlid, chat.wa_chatlid if chat else "", chat_jid) if j.endswith("@lid")), None
        )
        names = [chat.wa_contact_name, chat.wa_name, chat.name] if chat else []
        if not message.from_me:
            names.append(message.sender_name)
        contact_name = next((n.strip() for n in names if n and n.strip()), None)
    return WhatsAppMessage(
        wa_id=message.messageid,
        chat_jid=chat_jid,
        timestamp=message.timestamp or int(time.time() * 1000),
        kind=kind,
        text=message.vote if kind == "poll_vote" and not message.text else message.text,
        from_me=message.from_me,
        sent_by_api=message.was_sent_by_api,
        is_group=is_group,
        phone=phone,
        lid=lid,
        contact_name=contact_name,
        group_name=(message.group_name or (chat.name if chat else "")) or None if is_group else None,
        sender_phone=e164(message.sender_pn) if is_group else None,
        sender_name=(message.sender_name or None) if is_group else None,
        target=_target(message, kind),
        quoted=message.quoted or None,
        vote=message.vote or None,
        option_id=message.button_or_list_id or None,
        media=_media(message, kind),
        track_id=message.track_id or None,
        raw_type=message.message_type or message.type,
    )

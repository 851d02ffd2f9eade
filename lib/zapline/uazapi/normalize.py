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
from zapline.uazapi.events import GroupEvent, MessageInfo, MessagesEvent
from zapline.uazapi.phones import display_jid, e164, is_group_jid

__all__ = ["WhatsAppMessage", "normalize_group_event", "normalize_message"]

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
_LOCATION_FIELDS = {"name": "name", "address": "address", "URL": "url", "comment": "comment"}


@dataclass(frozen=True)
class WhatsAppMessage:
    """A message as Zapline stores it, whichever direction it went."""

    wa_id: str
    chat_jid: str
    timestamp: int  # ms, WhatsApp's clock
    kind: str  # text, image, audio, video, document, sticker, location, contact, reaction, poll,
    # poll_vote, list_response, button_response, edit, revoke, album, protocol, group_event, unknown
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
    self_chat: bool = False  # the instance's own number ("message yourself"): not a lead

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
    fields = {**_MEDIA_FIELDS, **_LOCATION_FIELDS} if kind == "location" else _MEDIA_FIELDS
    media = {ours: content[theirs] for theirs, ours in fields.items() if _scalar(content.get(theirs))}
    media["media_type"] = message.media_type or kind
    if kind in ("image", "audio", "video", "document", "sticker"):
        media["downloaded"] = False  # fetched on demand through UAZAPI's /message/download
    return media


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float) and value != ""


def _content_text(message: MessageInfo, *fields: str) -> str:
    """The non-empty ``content`` strings among ``fields``, one per line."""
    content = message.content if isinstance(message.content, dict) else {}
    values = (content.get(f) for f in fields)
    return "\n".join(v.strip() for v in values if isinstance(v, str) and v.strip())


def _text(message: MessageInfo, kind: str) -> str:
    """What the message says; for choices and places that have no text of their own, what was chosen."""
    if message.text:
        return message.text
    if kind == "poll_vote":
        return message.vote
    if kind == "list_response":  # the row's title and description, as the lead saw them
        return _content_text(message, "title", "description") or message.vote
    if kind == "button_response":
        return _content_text(message, "selectedDisplayText") or message.vote
    if kind == "location":
        return _content_text(message, "name", "address")
    return ""


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
        text=_text(message, kind),
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
        self_chat=not is_group and _is_self_chat(event, phone, lid),
    )


def _is_self_chat(event: MessagesEvent, phone: str | None, lid: str | None) -> bool:
    """The chat with the instance's own number: by phone, or (ours, sent there) by the owner's LID."""
    owner = e164(event.owner) or (e164(event.message.sender_pn) if event.message.from_me else None)
    if phone and owner and phone == owner:
        return True
    return bool(event.message.from_me and lid and lid == event.message.sender_lid)


def normalize_group_event(event: GroupEvent) -> WhatsAppMessage | None:
    """Members joining or leaving a group, as a ``group_event`` message of its conversation.

    Other group changes (name, description, settings) give None: they are acknowledged only.
    """
    info = event.event
    if not is_group_jid(info.jid) or not (info.join or info.leave):
        return None
    actor = e164(info.sender_pn) or e164(info.sender)
    lines = []
    for jid in info.join:
        who = display_jid(jid)
        by_other = actor and actor != e164(jid) and info.join_reason != "invite"
        lines.append(f"{actor} adicionou {who}" if by_other else f"{who} entrou")
    for jid in info.leave:
        who = display_jid(jid)
        lines.append(f"{actor} removeu {who}" if actor and actor != e164(jid) else f"{who} saiu")
    return WhatsAppMessage(
        wa_id=event.change_id,
        chat_jid=info.jid,
        timestamp=info.timestamp or int(time.time() * 1000),
        kind="group_event",
        text="\n".join(lines),
        from_me=False,
        sent_by_api=False,
        is_group=True,
        phone=None,
        lid=None,
        contact_name=None,
        group_name=None,
        sender_phone=actor,
        sender_name=None,
        target=None,
        quoted=None,
        vote=None,
        option_id=None,
        media={k: [display_jid(j) for j in jids] for k, jids in (("joined", info.join), ("left", info.leave)) if jids},
        track_id=None,
        raw_type=f"groups:{event.type or 'Group'}",
    )

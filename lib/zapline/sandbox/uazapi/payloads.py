"""Synthetic UAZAPI webhooks with the structure of real captures (uazapiGO v2.1.x).

Made-up numbers, names and ids; real field names, types and units: ``messageTimestamp`` in ms,
receipts' ``Timestamp`` in seconds (as a string), booleans sometimes as strings, ``chat`` with its
``wa_*``/``lead_*`` fields, ``message.id`` = ``"<owner>:<messageid>"``, senders as LIDs.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from typing import Any

_counter = itertools.count(1)


def wa_id() -> str:
    return secrets.token_hex(16).upper()


def now_ms() -> int:
    return int(time.time() * 1000)


class Uazapi:
    """Builds the webhooks one UAZAPI instance would send."""

    def __init__(
        self,
        *,
        token: str,
        owner: str = "5511999990000",
        instance_name: str = "inst01",
        base_url: str = "https://example.uazapi.com",
        profile_name: str = "Zapline Demo",
    ) -> None:
        self.token = token
        self.owner = owner
        self.instance_name = instance_name
        self.base_url = base_url
        self.profile_name = profile_name

    def envelope(self, event_type: str, **fields: Any) -> dict[str, Any]:
        return {
            "BaseUrl": self.base_url,
            "EventType": event_type,
            "instanceName": self.instance_name,
            "owner": self.owner,
            "token": self.token,
            **fields,
        }

    def chat(self, contact: str, name: str, *, group: bool = False) -> dict[str, Any]:
        lid = f"1000000{contact[-8:]}@lid"
        jid = f"{contact}@g.us" if group else f"{contact}@s.whatsapp.net"
        chat: dict[str, Any] = {
            "id": f"r{secrets.token_hex(7)}",
            "name": name,
            "owner": self.owner,
            "phone": "" if group else f"+{contact[:2]} {contact[2:4]} {contact[4:9]}-{contact[9:]}",
            "image": "",
            "imagePreview": "https://pps.whatsapp.net/EXAMPLE.jpg",
            "wa_chatid": jid,
            "wa_chatlid": "" if group else lid,
            "wa_fastid": f"{self.owner}:{contact}",
            "wa_contactName": "",
            "wa_name": name,
            "wa_isGroup": group,
            "wa_isGroup_admin": False,
            "wa_isGroup_announce": False,
            "wa_isGroup_community": False,
            "wa_isGroup_member": group,
            "wa_isBlocked": False,
            "wa_archived": False,
            "wa_isPinned": False,
            "wa_label": [],
            "wa_lastMessageSender": lid,
            "wa_lastMessageTextVote": "",
            "wa_lastMessageType": "Conversation",
            "wa_lastMsgTimestamp": now_ms(),
            "wa_muteEndTime": 0,
            "wa_unreadCount": 1,
            "wa_ephemeralExpiration": 0,
            "lead_name": "",
            "lead_fullName": "",
            "lead_email": "",
            "lead_personalid": "",
            "lead_status": "",
            "lead_tags": [],
            "lead_notes": "",
            "lead_isTicketOpen": False,
            "lead_assignedAttendant_id": "",
            "lead_kanbanOrder": 0,
            "chatbot_agentResetMemoryAt": 0,
            "chatbot_disableUntil": 0,
            "chatbot_lastTriggerAt": 0,
            "chatbot_lastTrigger_id": "",
        }
        chat.update({f"lead_field{i:02d}": "" for i in range(1, 21)})
        return chat

    def message(
        self,
        *,
        contact: str = "5511999990001",
        name: str = "Ana Souza",
        text: str = "",
        message_type: str = "Conversation",
        type_: str = "text",
        media_type: str = "",
        content: Any = None,
        from_me: bool = False,
        sent_by_api: bool = False,
        message_id: str | None = None,
        timestamp: int | None = None,
        group: str | None = None,
        participant: str = "5511999990002",
        **extra: Any,
    ) -> dict[str, Any]:
        mid = message_id or wa_id()
        chat_contact = group or contact
        chatid = f"{group}@g.us" if group else f"{contact}@s.whatsapp.net"
        sender_phone = self.owner if from_me else (participant if group else contact)
        message: dict[str, Any] = {
            "id": f"{self.owner}:{mid}",
            "messageid": mid,
            "chatid": chatid,
            "chatlid": "" if group else f"1000000{contact[-8:]}@lid",
            "owner": self.owner,
            "fromMe": from_me,
            "isGroup": bool(group),
            "groupName": name if group else "Unknown",
            "messageType": message_type,
            "type": type_,
            "mediaType": media_type,
            "messageTimestamp": timestamp or now_ms(),
            "text": text,
            "content": content if content is not None else (text if message_type == "Conversation" else {"text": text}),
            "sender": f"2000000{sender_phone[-8:]}@lid",
            "sender_lid": f"2000000{sender_phone[-8:]}@lid",
            "sender_pn": f"{sender_phone}@s.whatsapp.net",
            "senderName": self.profile_name if from_me else ("Bruno Lima" if group else name),
            "source": "api" if sent_by_api else "android",
            "status": "",
            "quoted": "",
            "reaction": "",
            "edited": "",
            "vote": "",
            "buttonOrListid": "",
            "convertOptions": "",
            "track_id": "",
            "track_source": "",
            "wasSentByApi": sent_by_api,
        }
        message.update(extra)
        return self.envelope(
            "messages", chatSource="updated", chat=self.chat(chat_contact, name, group=bool(group)), message=message
        )

    def text(self, text: str = "Oi, tudo bem?", **kw: Any) -> dict[str, Any]:
        return self.message(text=text, **kw)

    def extended_text(self, text: str = "Olá! Vi o anúncio 😀", **kw: Any) -> dict[str, Any]:
        content = {"text": text, "previewType": 0, "contextInfo": {"expiration": 0}}
        return self.message(text=text, message_type="ExtendedTextMessage", content=content, **kw)

    def media(
        self, message_type: str, media_type: str, caption: str, content: dict[str, Any], **kw: Any
    ) -> dict[str, Any]:
        """Any media message: WhatsApp's CDN fields plus ``content`` (mimetype, fileName, seconds, ...)."""
        base = {
            "URL": "https://mmg.whatsapp.net/v/t62.7118-24/EXAMPLE.enc?ccb=11-4",
            "fileSHA256": "c2hhMjU2",
            "fileEncSHA256": "ZW5j",
            "mediaKey": "a2V5",
            "directPath": "/v/t62.7118-24/EXAMPLE.enc",
            "mediaKeyTimestamp": 1770000000,
            "contextInfo": {},
        }
        return self.message(
            text=caption,
            message_type=message_type,
            type_="media",
            media_type=media_type,
            content={**base, **content},
            **kw,
        )

    def image(self, caption: str = "Foto do produto", **kw: Any) -> dict[str, Any]:
        return self.media(
            "ImageMessage",
            "image",
            caption,
            {
                "mimetype": "image/jpeg",
                "fileLength": 48213,
                "height": 1280,
                "width": 960,
                "JPEGThumbnail": "/9j/4AAQSkZJRg==",
                "caption": caption,
            },
            **kw,
        )

    def audio(self, *, ptt: bool = True, **kw: Any) -> dict[str, Any]:
        return self.media(
            "AudioMessage",
            "ptt" if ptt else "audio",
            "",
            {"mimetype": "audio/ogg; codecs=opus", "fileLength": 9123, "seconds": 7, "PTT": ptt, "waveform": "AAAA"},
            **kw,
        )

    def video(self, **kw: Any) -> dict[str, Any]:
        return self.media(
            "VideoMessage",
            "video",
            "",
            {
                "mimetype": "video/mp4",
                "fileLength": 912345,
                "seconds": 12,
                "height": 640,
                "width": 360,
                "JPEGThumbnail": "/9j/",
            },
            **kw,
        )

    def document(self, **kw: Any) -> dict[str, Any]:
        return self.media(
            "DocumentMessage",
            "document",
            "",
            {"mimetype": "application/pdf", "fileName": "Orçamento 2026.pdf", "fileLength": 120345, "pageCount": 3},
            **kw,
        )

    def sticker(self, **kw: Any) -> dict[str, Any]:
        return self.media(
            "StickerMessage",
            "user_created_sticker",
            "",
            {"mimetype": "image/webp", "fileLength": 20480, "isAnimated": False, "isAvatar": False},
            **kw,
        )

    def location(self, **kw: Any) -> dict[str, Any]:
        content = {"degreesLatitude": -23.5613, "degreesLongitude": -46.6565, "JPEGThumbnail": "/9j/"}
        return self.message(
            text="", message_type="LocationMessage", type_="media", media_type="location", content=content, **kw
        )

    def contact_card(self, **kw: Any) -> dict[str, Any]:
        vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Carla Dias\nTEL;type=CELL:+55 11 99999-0003\nEND:VCARD"
        return self.message(
            text="Carla Dias\nPhone (Celular): +55 11 99999-0003",
            message_type="ContactMessage",
            type_="media",
            media_type="vcard",
            content={"displayName": "Carla Dias", "vcard": vcard},
            **kw,
        )

    def quoted_reply(self, text: str, target: str, quoted_text: str = "", **kw: Any) -> dict[str, Any]:
        """A text answering ``target`` (swipe-to-reply): ``quoted`` and ``contextInfo`` name it."""
        context = {
            "stanzaID": target,
            "participant": f"{self.owner}@s.whatsapp.net",
            "quotedMessage": {"conversation": quoted_text},
            "expiration": 0,
        }
        content = {"text": text, "previewType": 0, "contextInfo": context}
        return self.message(text=text, message_type="ExtendedTextMessage", content=content, quoted=target, **kw)

    def reaction(self, target: str, emoji: str = "❤️", *, target_from_me: bool = True, **kw: Any) -> dict[str, Any]:
        remote = f"{kw.get('contact', '5511999990001')}@s.whatsapp.net"
        content = {
            "key": {"remoteJID": remote, "fromMe": target_from_me, "ID": target},
            "text": emoji,
            "senderTimestampMS": now_ms(),
        }
        return self.message(
            text=emoji, message_type="ReactionMessage", type_="reaction", content=content, reaction=target, **kw
        )

    def poll(
        self, question: str = "De 0 a 10, quanto nos recomendaria?", options: str = "0|5|10", **kw: Any
    ) -> dict[str, Any]:
        return self.message(
            text=question,
            message_type="PollCreationMessageV3",
            type_="poll",
            content={"name": question},
            convertOptions=options,
            **kw,
        )

    def poll_vote(self, target: str, vote: str = "10", **kw: Any) -> dict[str, Any]:
        remote = f"{kw.get('contact', '5511999990001')}@s.whatsapp.net"
        content = {
            "pollCreationMessageKey": {"remoteJID": remote, "fromMe": True, "ID": target},
            "vote": {"encPayload": "ZW5j", "encIV": "aXY="},
            "senderTimestampMS": now_ms(),
        }
        return self.message(
            text="", message_type="PollUpdateMessage", type_="poll", content=content, vote=vote, quoted=target, **kw
        )

    def list_response(self, target: str, title: str, row_id: str = "", **kw: Any) -> dict[str, Any]:
        """A row picked in a list menu: ``vote`` = row title, ``buttonOrListid`` = row id."""
        content = {
            "title": title,
            "listType": 1,
            "singleSelectReply": {"selectedRowID": row_id},
            "contextInfo": {"stanzaID": target, "participant": f"{self.owner}@s.whatsapp.net", "quotedMessage": {}},
            "description": "",
        }
        return self.message(
            text=title,
            message_type="ListResponseMessage",
            type_="media",
            media_type="list_response",
            content=content,
            vote=title,
            buttonOrListid=row_id,
            quoted=target,
            **kw,
        )

    def edited(self, target: str, text: str, **kw: Any) -> dict[str, Any]:
        return self.message(text=text, message_type="ExtendedTextMessage", content={"text": text}, edited=target, **kw)

    def deleted(self, target: str, **kw: Any) -> dict[str, Any]:
        remote = f"{kw.get('contact', '5511999990001')}@s.whatsapp.net"
        content = {"key": {"remoteJID": remote, "fromMe": False, "ID": target}, "type": 0}
        return self.message(text="", message_type="ProtocolMessage", type_="revoked", content=content, **kw)

    def receipt(
        self,
        ids: list[str],
        state: str = "Delivered",
        *,
        contact: str = "5511999990001",
        stringly: bool = True,
        seconds: int | None = None,
    ) -> dict[str, Any]:
        ts = seconds or int(time.time())
        event = {
            "MessageIDs": ids,
            "Chat": f"{contact}@s.whatsapp.net",
            "Sender": f"{contact}@s.whatsapp.net",
            "sender_pn": f"{contact}@s.whatsapp.net",
            "sender_lid": f"1000000{contact[-8:]}@lid",
            "IsFromMe": "False" if stringly else False,
            "IsGroup": "False" if stringly else False,
            "Timestamp": str(ts) if stringly else ts,
            "Type": state,
        }
        return self.envelope("messages_update", type="ReadReceipt", state=state, event=event)

    def connection(self, status: str = "connected") -> dict[str, Any]:
        instance: dict[str, Any] = {"name": self.instance_name, "status": status}
        if status == "disconnected":
            instance.update(lastDisconnect="2026-01-15 10:00:00.000Z", lastDisconnectReason="401: logged out")
        return self.envelope(
            "connection", instance=instance, **({"type": "LoggedOut"} if status == "disconnected" else {})
        )

    def unknown(self, event_type: str = "presence") -> dict[str, Any]:
        return self.envelope(event_type, event={"Chat": "5511999990001@s.whatsapp.net", "State": "composing"})


def body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode()

"""Every UAZAPI event shape parses and normalises to what Zapline stores."""

from __future__ import annotations

import pytest

from zapline.errors import InvalidPayload
from zapline.sandbox.uazapi.payloads import Uazapi, body
from zapline.uazapi.events import ConnectionEvent, Envelope, MessagesEvent, ReceiptEvent, parse_event
from zapline.uazapi.normalize import normalize_message
from zapline.uazapi.phones import e164

U = Uazapi(token="tok")


def message(payload: dict[str, object]):  # type: ignore[no-untyped-def]
    event = parse_event(body(payload))
    assert isinstance(event, MessagesEvent)
    return normalize_message(event)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("5511999990001@s.whatsapp.net", "+5511999990001"),
        ("5511999990001:12@s.whatsapp.net", "+5511999990001"),
        ("5511999990001@c.us", "+5511999990001"),
        ("+55 11 99999-0001", "+5511999990001"),
        ("554399990001@s.whatsapp.net", "+5543999990001"),  # Brazilian mobile without its ninth digit
        ("554333330001@s.whatsapp.net", "+554333330001"),  # landline: no ninth digit to add
        ("14155550123@s.whatsapp.net", "+14155550123"),
        ("100000000000001@lid", None),
        ("120363000000000001@g.us", None),
        ("status@broadcast", None),
        ("", None),
        ("12@s.whatsapp.net", None),
    ],
)
def test_phone_normalisation(raw: str, expected: str | None) -> None:
    assert e164(raw) == expected


def test_plain_text_with_string_content() -> None:
    m = message(U.text("Oi", contact="5511999990001", name="Ana Souza"))
    assert (m.kind, m.text, m.phone, m.contact_name, m.from_me) == ("text", "Oi", "+5511999990001", "Ana Souza", False)
    assert m.lid and m.lid.endswith("@lid")
    assert m.timestamp > 1_700_000_000_000


def test_extended_text() -> None:
    assert message(U.extended_text("Olá 😀")).text == "Olá 😀"


@pytest.mark.parametrize(
    ("builder", "kind", "field", "value"),
    [
        (U.image, "image", "mimetype", "image/jpeg"),
        (lambda: U.audio(ptt=True), "audio", "voice_note", True),
        (lambda: U.audio(ptt=False), "audio", "media_type", "audio"),
        (U.video, "video", "seconds", 12),
        (U.document, "document", "file_name", "Orçamento 2026.pdf"),
        (U.sticker, "sticker", "mimetype", "image/webp"),
        (U.location, "location", "latitude", -23.5613),
        (U.contact_card, "contact", "display_name", "Carla Dias"),
    ],
)
def test_media_kinds(builder, kind: str, field: str, value: object) -> None:  # type: ignore[no-untyped-def]
    m = message(builder())
    assert m.kind == kind
    assert m.media is not None and m.media[field] == value
    assert "URL" not in m.media and "mediaKey" not in m.media  # nothing only useful to a downloader


def test_image_caption_is_the_text() -> None:
    assert message(U.image(caption="Veja")).text == "Veja"


def test_reaction_edit_delete_and_vote_name_their_target() -> None:
    assert (lambda m: (m.kind, m.target, m.text))(message(U.reaction("T1", "👍"))) == ("reaction", "T1", "👍")
    assert (lambda m: (m.kind, m.target, m.text))(message(U.edited("T2", "corrigido"))) == ("edit", "T2", "corrigido")
    assert (lambda m: (m.kind, m.target))(message(U.deleted("T3"))) == ("revoke", "T3")
    vote = message(U.poll_vote("T4", "10"))
    assert (vote.kind, vote.target, vote.vote, vote.text) == ("poll_vote", "T4", "10", "10")
    poll = message(U.poll(options="0|5|10", from_me=True))
    assert poll.kind == "poll" and poll.media == {"options": ["0", "5", "10"]}


def test_from_me_keeps_the_contact_as_counterpart() -> None:
    m = message(U.text("Obrigado!", from_me=True, sent_by_api=True, contact="5511999990007", name="Davi"))
    assert m.from_me and m.sent_by_api
    assert m.phone == "+5511999990007"  # the contact, never the owner in sender_pn
    assert m.contact_name == "Davi"  # from the chat, never our own senderName


def test_group_message() -> None:
    m = message(U.text("Bom dia, grupo", group="120363000000000001", name="Clientes VIP"))
    assert m.is_group and m.phone is None and m.lid is None
    assert m.chat_jid == "120363000000000001@g.us"
    assert (m.group_name, m.sender_phone, m.sender_name) == ("Clientes VIP", "+5511999990002", "Bruno Lima")


def test_lid_only_contact_has_no_phone() -> None:
    payload = U.text("oi")
    payload["message"]["chatid"] = payload["message"]["chatlid"] = "100000000000777@lid"
    payload["message"]["sender_pn"] = ""
    payload["chat"]["wa_chatid"] = payload["chat"]["wa_chatlid"] = "100000000000777@lid"
    payload["chat"]["phone"] = ""
    m = message(payload)
    assert m.phone is None and m.lid == "100000000000777@lid"


@pytest.mark.parametrize("stringly", [True, False])
def test_receipts_with_string_or_native_types(stringly: bool) -> None:
    event = parse_event(body(U.receipt(["A", "B"], "Read", stringly=stringly, seconds=1770000000)))
    assert isinstance(event, ReceiptEvent)
    assert event.event.message_ids == ["A", "B"]
    assert event.event.is_from_me is False
    assert event.event.timestamp == 1_770_000_000_000  # seconds became milliseconds
    assert event.status == "read"


def test_a_receipt_without_message_ids_is_ignored_not_refused() -> None:
    event = parse_event(b'{"EventType": "messages_update", "state": "Read", "event": {"Chat": "x@s.whatsapp.net"}}')
    assert isinstance(event, ReceiptEvent) and event.status is None


def test_a_message_without_a_chat_is_refused() -> None:
    payload = U.text("oi")
    payload["message"]["chatid"] = ""
    payload["chat"] = None
    with pytest.raises(InvalidPayload) as info:
        message(payload)
    assert info.value.field == "message.chatid"


def test_connection_and_unknown_events() -> None:
    event = parse_event(body(U.connection("disconnected")))
    assert isinstance(event, ConnectionEvent)
    assert event.instance and event.instance.last_disconnect_reason == "401: logged out"
    unknown = parse_event(body(U.unknown("presence")))
    assert type(unknown) is Envelope and unknown.event_type == "presence"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"not json", None),
        (b"[1, 2]", None),
        (b'{"token": "x"}', "EventType"),
        (b'{"EventType": "messages", "token": "x"}', "message"),
        (b'{"EventType": "messages", "message": {"messageid": ""}}', "message.messageid"),
        (b'{"EventType": "messages_update", "token": "x"}', "event"),
    ],
)
def test_malformed_payloads_name_the_field(raw: bytes, field: str | None) -> None:
    with pytest.raises(InvalidPayload) as info:
        parse_event(raw)
    assert info.value.field == field

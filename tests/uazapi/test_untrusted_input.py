"""What a webhook may carry that is not what UAZAPI documents: junk is refused naming its field,
odd-but-valid customer input is kept."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from zapline.automation import nps_score, opt_out_keyword
from zapline.errors import InvalidPayload
from zapline.jsonsafe import JSONTooDeep, loads_limited
from zapline.sandbox.uazapi.payloads import Uazapi, body
from zapline.uazapi.events import GroupEvent, MessagesEvent, ReceiptEvent, parse_event
from zapline.uazapi.normalize import WhatsAppMessage, normalize_group_event, normalize_message
from zapline.uazapi.phones import e164

U = Uazapi(token="tok")


def normalized(payload: dict[str, Any]) -> WhatsAppMessage:
    event = parse_event(body(payload))
    assert isinstance(event, MessagesEvent)
    return normalize_message(event)


@pytest.mark.parametrize(
    ("text", "score"),
    [("10", 10), ("0", 0), (" 7. ", 7), ("05", 5), ("9!", 9), ("11", None), ("100", None), ("-1", None),
     ("²", None), ("①", None), (" ¹ ", None), ("⁵.", None), ("١", None), ("५", None), ("１０", None),
     ("", None), (None, None), ("dez", None)],
)  # fmt: skip
def test_only_ascii_0_to_10_is_a_score(text: str | None, score: int | None) -> None:
    assert nps_score(text) == score


@pytest.mark.parametrize("text", ["²", "①", "⁵.", "!!!", "STOP²"])
def test_odd_digits_and_punctuation_are_not_an_opt_out(app_env: dict[str, str], text: str) -> None:
    assert opt_out_keyword(text) is False


def test_a_phone_with_superscript_digits_is_not_a_phone() -> None:
    assert e164("1415555²0123@s.whatsapp.net") == "+14155550123"  # the "²" is dropped, never kept
    assert e164("²³") is None


def test_json_nested_too_deep_is_refused_not_a_recursion_error() -> None:
    with pytest.raises(JSONTooDeep):
        loads_limited(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(JSONTooDeep):
        loads_limited(json.dumps(_nested(65)))  # deep enough to refuse, shallow enough for json.loads
    assert loads_limited(json.dumps(_nested(64))) == _nested(64)
    assert isinstance(JSONTooDeep(64), ValueError)  # callers mapping ValueError to "not JSON" need nothing more


def _nested(depth: int) -> Any:
    value: Any = "x"
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


def test_a_deeply_nested_webhook_is_an_invalid_payload() -> None:
    raw = b'{"EventType": "messages", "message": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(InvalidPayload) as caught:
        parse_event(raw)
    assert caught.value.field == "body" and "nested deeper" in caught.value.message


@pytest.mark.parametrize(
    "value", ["inf", "Infinity", "NaN", float("inf"), 1e400, 10**17, -(10**15), 10**400, "1e400", "soon", True]
)
def test_an_impossible_message_timestamp_names_its_field(value: Any) -> None:
    payload = U.text("oi")
    payload["message"]["messageTimestamp"] = value
    with pytest.raises(InvalidPayload) as caught:
        parse_event(json.dumps(payload).encode())  # json.dumps writes inf as Infinity, as a sender could
    assert caught.value.field == "message.messageTimestamp"


@pytest.mark.parametrize("value", ["inf", "-inf", "1e400", "99999999999999999", "-5"])
def test_an_impossible_receipt_timestamp_names_its_field(value: str) -> None:
    payload = U.receipt(["ABC"], "Read")
    payload["event"]["Timestamp"] = value
    with pytest.raises(InvalidPayload) as caught:
        parse_event(body(payload))
    assert caught.value.field == "event.Timestamp"


def test_timestamps_in_every_documented_unit_are_read() -> None:
    now_s = int(time.time())
    payload = U.text("oi", timestamp=now_s * 1000)
    assert normalized(payload).timestamp == now_s * 1000
    payload["message"]["messageTimestamp"] = str(now_s)  # seconds, as a string
    assert normalized(payload).timestamp == now_s * 1000
    payload["message"]["messageTimestamp"] = 0  # absent: the time it arrived
    assert normalized(payload).timestamp >= now_s * 1000
    receipt = parse_event(body(U.receipt(["ABC"], "Read", seconds=now_s)))
    assert isinstance(receipt, ReceiptEvent) and receipt.event.timestamp == now_s * 1000


def test_a_location_keeps_its_name_address_and_url_and_says_them() -> None:
    payload = U.location()
    payload["message"]["content"].update(
        name="Padaria Real", address="Rua Augusta, 100 - São Paulo", URL="https://padariareal.example"
    )
    m = normalized(payload)
    assert m.kind == "location"
    assert m.text == "Padaria Real\nRua Augusta, 100 - São Paulo"
    assert m.media is not None
    assert (m.media["name"], m.media["address"], m.media["url"]) == (
        "Padaria Real", "Rua Augusta, 100 - São Paulo", "https://padariareal.example",
    )  # fmt: skip
    assert (m.media["latitude"], m.media["longitude"]) == (-23.5613, -46.6565)
    assert normalized(U.location()).text == ""  # a bare pin: the preview says [location]


def test_an_image_does_not_keep_whatsapps_encrypted_url() -> None:
    m = normalized(U.image())
    assert m.media is not None and "url" not in m.media


def test_a_list_response_says_the_chosen_row() -> None:
    payload = U.list_response("LIST1", "Plano Premium", row_id="row-2")
    payload["message"]["text"] = ""  # as UAZAPI sends it: the choice is in vote and content
    payload["message"]["content"]["description"] = "R$ 99/mês"
    m = normalized(payload)
    assert (m.kind, m.text, m.vote, m.option_id, m.target) == (
        "list_response", "Plano Premium\nR$ 99/mês", "Plano Premium", "row-2", "LIST1",
    )  # fmt: skip
    payload["message"]["content"] = {}
    assert normalized(payload).text == "Plano Premium"  # from vote when content has no title


def test_the_chat_with_the_instances_own_number_is_a_self_chat() -> None:
    mine = U.text("lembrete: ligar pro fornecedor", contact=U.owner, from_me=True)
    assert normalized(mine).self_chat
    by_lid = U.text("nota", contact="5511988887777", from_me=True)
    by_lid["message"]["chatlid"] = by_lid["message"]["sender_lid"]  # the owner's own LID
    by_lid["message"]["chatid"] = by_lid["chat"]["wa_chatid"] = by_lid["message"]["sender_lid"]
    by_lid["chat"]["phone"] = ""
    assert normalized(by_lid).self_chat
    assert not normalized(U.text("oi", contact="5511988887777")).self_chat
    assert not normalized(U.text("oi", contact="5511988887777", from_me=True)).self_chat
    assert not normalized(U.text("oi", group="120363000000000001", from_me=True)).self_chat


def group_event(**event: Any) -> GroupEvent:
    payload = U.envelope("groups", type="Group", event={
        "JID": "120363000000000001@g.us", "Notify": "", "Timestamp": "2026-01-15T10:00:00Z",
        "PrevParticipantVersionID": "1", "ParticipantVersionID": "2", "JoinReason": "",
        "Join": None, "Leave": None, "Name": None, **event,
    })  # fmt: skip
    parsed = parse_event(body(payload))
    assert isinstance(parsed, GroupEvent)
    return parsed


def test_group_membership_changes_become_group_event_messages() -> None:
    joined = normalize_group_event(group_event(Join=["5511999990003@s.whatsapp.net"],
                                               Sender="5511999990003@s.whatsapp.net"))  # fmt: skip
    assert joined is not None
    assert (joined.kind, joined.chat_jid, joined.is_group, joined.text) == (
        "group_event", "120363000000000001@g.us", True, "+5511999990003 entrou",
    )  # fmt: skip
    assert joined.timestamp == 1768471200000  # the ISO-8601 Timestamp of groups events
    assert joined.media == {"joined": ["+5511999990003"]}

    moved = normalize_group_event(group_event(
        Join=["5511999990004@s.whatsapp.net"], Leave=["5511999990005@s.whatsapp.net", "200000000000009@lid"],
        SenderPN="5511999990002@s.whatsapp.net",
    ))  # fmt: skip
    assert moved is not None
    assert moved.text.split("\n") == [
        "+5511999990002 adicionou +5511999990004",
        "+5511999990002 removeu +5511999990005",
        "+5511999990002 removeu 200000000000009@lid",
    ]
    assert moved.wa_id != joined.wa_id
    again = normalize_group_event(group_event(Join=["5511999990003@s.whatsapp.net"],
                                              Sender="5511999990003@s.whatsapp.net"))  # fmt: skip
    assert again is not None and again.wa_id == joined.wa_id  # the same webhook twice: one message
    assert normalize_group_event(group_event(Name={"Name": "Novo nome"})) is None  # not a membership change


def test_a_group_event_with_an_impossible_timestamp_names_its_field() -> None:
    with pytest.raises(InvalidPayload) as caught:
        group_event(Timestamp="yesterday-ish", Join=["5511999990003@s.whatsapp.net"])
    assert caught.value.field == "event.Timestamp"

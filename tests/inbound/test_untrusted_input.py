"""Odd customer input is stored as text; junk is refused with 489 and the field it is in."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.inbound.conftest import Inbound
from zapline.sandbox.uazapi.payloads import wa_id


@pytest.mark.parametrize("said", ["²", "①", " ¹ ", "⁵.", "١٠"])
def test_a_single_non_ascii_digit_is_plain_text_never_a_500(inbound: Inbound, contact: str, said: str) -> None:
    answer = inbound.stored(inbound.uazapi.text(said, contact=contact))
    assert answer["outcome"] == "stored" and "nps_score" not in answer and "opted_out" not in answer
    conv = inbound.conversation(f"{contact}@s.whatsapp.net")
    assert [m["text"] for m in inbound.messages(conv["id"])] == [said]


def test_a_non_ascii_digit_as_a_poll_vote_is_stored(inbound: Inbound, contact: str) -> None:
    poll = wa_id()
    inbound.stored(inbound.uazapi.poll(options="0|5|10", contact=contact, from_me=True, message_id=poll))
    answer = inbound.stored(inbound.uazapi.poll_vote(poll, vote="①", contact=contact))
    assert answer["outcome"] == "stored" and "nps_score" not in answer
    conv = inbound.conversation(f"{contact}@s.whatsapp.net")
    assert [(m["kind"], m["text"]) for m in inbound.messages(conv["id"])] == [
        ("poll", "De 0 a 10, quanto nos recomendaria?"), ("poll_vote", "①"),
    ]  # fmt: skip


def _with(payload: dict[str, Any], where: str, field: str, value: Any) -> bytes:
    payload[where][field] = value
    return json.dumps(payload).encode()  # float("inf") and 1e400 go out as Infinity, as a sender could


@pytest.mark.parametrize("value", ["inf", float("inf"), 1e400, 10**17, -(10**15)])
def test_an_impossible_message_timestamp_is_refused_naming_the_field(
    inbound: Inbound, contact: str, value: Any
) -> None:
    raw = _with(inbound.uazapi.text("quando?", contact=contact), "message", "messageTimestamp", value)
    response = inbound.send(raw)
    assert response.status_code == 489, response.text
    assert response.headers["Upstash-NonRetryable-Error"] == "true"
    assert (response.json()["error_type"], response.json()["field"]) == ("invalid_payload", "message.messageTimestamp")
    assert inbound.tenant.api("/leads", phone=f"+{contact}").status_code == 404


def test_an_impossible_receipt_timestamp_is_refused_naming_the_field(inbound: Inbound, contact: str) -> None:
    raw = _with(inbound.uazapi.receipt([wa_id()], "Read", contact=contact), "event", "Timestamp", "inf")
    response = inbound.send(raw)
    assert response.status_code == 489, response.text
    assert (response.json()["error_type"], response.json()["field"]) == ("invalid_payload", "event.Timestamp")


def test_json_nested_100000_levels_is_refused_with_a_reason(inbound: Inbound) -> None:
    raw = b'{"EventType": "messages", "message": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = inbound.send(raw)
    assert response.status_code == 489, response.text
    assert response.headers["Upstash-NonRetryable-Error"] == "true"
    assert response.json()["error_type"] == "invalid_payload"
    assert "nested deeper than" in response.json()["error"]

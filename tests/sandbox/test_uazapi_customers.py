"""Simulated customers (``/_sandbox/customers/message``) and ``/message/download``.

Customer webhooks are captured by a real local receiver and read back with Zapline's parser and
normaliser: every kind must come out as the kind Zapline stores.
"""

from __future__ import annotations

import base64

import httpx
import pytest

from tests.receiver import HttpReceiver, Reply
from tests.sandbox.uazapi_helpers import Instance, number
from zapline.uazapi.events import MessagesEvent, parse_event
from zapline.uazapi.normalize import WhatsAppMessage, normalize_message


def _listen(uaz: Instance, rx: HttpReceiver) -> str:
    path = f"/customers/{uaz.name}"
    uaz.webhook(rx.url_for(path), events=["messages"])
    return path


def _last(rx: HttpReceiver, path: str) -> WhatsAppMessage:
    event = parse_event(rx.received(path)[-1].body)
    assert isinstance(event, MessagesEvent)
    return normalize_message(event)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("text", "text"), ("image", "image"), ("audio", "audio"), ("video", "video"), ("document", "document"),
     ("sticker", "sticker"), ("location", "location"), ("contact", "contact")],
)  # fmt: skip
def test_each_kind_becomes_the_webhook_zapline_expects(
    uaz: Instance, rx: HttpReceiver, kind: str, expected: str
) -> None:
    path = _listen(uaz, rx)
    sender = number()
    response = uaz.customer(sender, kind, name="Bruno Lima", text="Oi, tudo bem?")
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["status"], result["attempts"], result["webhooks"]) == (200, 1, 1)
    message = _last(rx, path)
    assert (message.wa_id, message.kind, message.from_me, message.sent_by_api) == (
        result["messageid"], expected, False, False,
    )  # fmt: skip
    assert (message.phone, message.contact_name) == (f"+{sender}", "Bruno Lima")
    if kind in ("text", "image"):
        assert message.text == "Oi, tudo bem?"


def test_replies_quote_reactions_target_and_votes_answer_our_poll(uaz: Instance, rx: HttpReceiver) -> None:
    path = _listen(uaz, rx)
    customer = number()
    ours = uaz.send_text(customer, "Podemos agendar para amanhã?").json()["messageid"]
    poll = uaz.call("POST", "/send/menu", {"number": customer, "type": "poll", "text": "De 0 a 10?",
                                           "choices": [str(i) for i in range(11)]}).json()["messageid"]  # fmt: skip
    uaz.settled()

    assert uaz.customer(customer, "text", text="Sim, pode ser", reply_to=ours).status_code == 200
    reply = _last(rx, path)
    assert (reply.kind, reply.quoted, reply.text) == ("text", ours, "Sim, pode ser")

    assert uaz.customer(customer, "reaction", text="👍", reply_to=ours).status_code == 200
    reaction = _last(rx, path)
    assert (reaction.kind, reaction.target, reaction.text) == ("reaction", ours, "👍")

    assert uaz.customer(customer, "poll_vote", reply_to=poll, vote="9").status_code == 200
    vote = _last(rx, path)
    assert (vote.kind, vote.target, vote.vote) == ("poll_vote", poll, "9")

    refused = uaz.customer(customer, "poll_vote", reply_to=poll, vote="11")
    assert refused.status_code == 400 and "one of the options" in refused.json()["error"]


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"kind": "telepathy"}, 400),
        ({"kind": "reaction", "text": "👍"}, 400),  # no reply_to
        ({"kind": "text", "from": "12345"}, 400),
        ({"kind": "text", "instance": "no-such-instance"}, 404),
    ],
)
def test_malformed_customer_messages_are_refused(uaz: Instance, fields: dict[str, str], status: int) -> None:
    body = {"instance": uaz.token, "from": number(), "text": "oi", **fields}
    response = uaz.http.post("/_sandbox/customers/message", json=body)
    assert response.status_code == status
    assert "error" in response.json()
    assert uaz.stats()["customer_messages"] == 0


def test_a_customer_message_reports_a_failing_webhook(uaz: Instance, rx: HttpReceiver) -> None:
    path = f"/down/{uaz.name}"
    rx.respond(path, Reply(502))
    uaz.webhook(rx.url_for(path))
    result = uaz.customer(number(), "text", text="alguém aí?").json()
    assert (result["status"], result["attempts"]) == (502, 3)
    assert "502" in result["error"]
    assert len(rx.received(path)) == 3


def test_without_a_webhook_a_customer_message_reaches_nobody(uaz: Instance) -> None:
    result = uaz.customer(number(), "text", text="oi").json()
    assert (result["status"], result["webhooks"]) == (None, 0)


def test_download_serves_what_was_sent(uaz: Instance) -> None:
    data = b"%PDF-1.4 contrato assinado"
    sent = uaz.call("POST", "/send/media", {"number": number(), "type": "document", "docName": "Contrato.pdf",
                                            "file": base64.b64encode(data).decode()}).json()  # fmt: skip
    answer = uaz.call("POST", "/message/download", {"id": sent["id"], "return_link": True, "return_base64": True})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["mimetype"] == "application/pdf"
    assert base64.b64decode(body["base64Data"]) == data
    assert body["fileURL"] == f"{uaz.url}/_sandbox/files/{sent['messageid']}.pdf"
    file = httpx.get(body["fileURL"])  # public: no token
    assert (file.status_code, file.content, file.headers["content-type"]) == (200, data, "application/pdf")


def test_download_of_received_media_is_deterministic(uaz: Instance) -> None:
    image = uaz.customer(number(), "image").json()["messageid"]
    first = uaz.call("POST", "/message/download", {"id": image}).json()
    second = uaz.call("POST", "/message/download", {"id": f"5511999990000:{image}", "return_base64": True}).json()
    assert first["fileURL"] == second["fileURL"] and first["fileURL"].endswith(".jpg")
    content = httpx.get(first["fileURL"]).content
    assert content[:3] == b"\xff\xd8\xff" and base64.b64decode(second["base64Data"]) == content

    voice = uaz.customer(number(), "audio", text="Quero saber o preço").json()["messageid"]
    audio = uaz.call("POST", "/message/download", {"id": voice, "generate_mp3": True, "transcribe": True}).json()
    assert (audio["mimetype"], audio["transcription"]) == ("audio/mpeg", "Quero saber o preço")
    assert audio["fileURL"].endswith(".mp3") and httpx.get(audio["fileURL"]).content.startswith(b"ID3")
    ogg = uaz.call("POST", "/message/download", {"id": voice, "generate_mp3": False}).json()
    assert ogg["mimetype"].startswith("audio/ogg") and "transcription" not in ogg


def test_download_of_unknown_or_textual_messages_fails(uaz: Instance) -> None:
    missing = uaz.call("POST", "/message/download", {"id": "0123456789ABCDEF0123456789ABCDEF"})
    assert (missing.status_code, missing.json()) == (404, {"error": "Message not found"})
    text = uaz.send_text(number(), "só texto").json()["messageid"]
    assert uaz.call("POST", "/message/download", {"id": text}).status_code == 400
    assert httpx.get(f"{uaz.url}/_sandbox/files/nothing.jpg").status_code == 404

"""The sandbox UAZAPI's webhooks: configuration, the echo and receipts of a send, filters, retries.

What it posts is captured by a real local HTTP receiver and read back with Zapline's own parser
(``parse_event``) and normaliser, so the shapes are the ones the inbound function will see.
"""

from __future__ import annotations

import json

import pytest

from tests.receiver import HttpReceiver, Recorded, Reply
from tests.sandbox.uazapi_helpers import Instance, number
from zapline.uazapi.events import MessagesEvent, ReceiptEvent, parse_event
from zapline.uazapi.normalize import normalize_message


def _for(path: str) -> str:
    return f"/hooks/{path}"


def test_webhook_configuration_is_always_an_array(uaz: Instance) -> None:
    assert uaz.call("GET", "/webhook").json() == []
    [hook] = uaz.webhook("https://example.test/a", excludeMessages=["isGroupYes"])
    assert (hook["url"], hook["enabled"], hook["events"], hook["excludeMessages"]) == (
        "https://example.test/a", True, ["messages", "messages_update"], ["isGroupYes"],
    )  # fmt: skip
    [again] = uaz.webhook("https://example.test/b")  # simple mode upserts the one webhook
    assert (again["id"], again["url"]) == (hook["id"], "https://example.test/b")
    added = uaz.call("POST", "/webhook", {"action": "add", "url": "https://example.test/c", "events": ["messages"]})
    assert [h["url"] for h in added.json()] == ["https://example.test/b", "https://example.test/c"]
    extra_id = added.json()[1]["id"]
    updated = uaz.call("POST", "/webhook", {"action": "update", "id": extra_id, "enabled": False}).json()
    assert [h["enabled"] for h in updated] == [True, False]
    assert len(uaz.call("POST", "/webhook", {"action": "delete", "id": extra_id}).json()) == 1
    assert uaz.call("GET", "/webhook").json()[0]["url"] == "https://example.test/b"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"url": "ftp://example.test"}, 400),
        ({"url": "https://example.test", "events": ["everything"]}, 400),
        ({"url": "https://example.test", "excludeMessages": ["isGroupMaybe"]}, 400),
        ({"action": "update", "id": "w-missing", "enabled": False}, 404),
    ],
)
def test_invalid_webhook_configuration_is_refused(uaz: Instance, body: dict[str, object], status: int) -> None:
    response = uaz.call("POST", "/webhook", body)
    assert response.status_code == status
    assert "error" in response.json()
    assert uaz.call("GET", "/webhook").json() == []


def test_a_send_is_echoed_then_delivered_then_read(uaz: Instance, rx: HttpReceiver) -> None:
    path = _for(uaz.name)
    uaz.webhook(rx.url_for(path))
    to = number()
    sent = uaz.send_text(to, "Seu pedido foi confirmado", track_source="zapline", track_id="order-42").json()

    echo, delivered, read = rx.wait_for(3, path=path, timeout=10)
    assert echo.monotonic <= delivered.monotonic <= read.monotonic
    assert echo.headers["content-type"] == "application/json"

    event = parse_event(echo.body)
    assert isinstance(event, MessagesEvent)
    assert (event.token, event.owner, event.instance_name) == (uaz.token, "5511999990000", uaz.name)
    assert event.base_url == uaz.url
    message = normalize_message(event)
    assert (message.wa_id, message.from_me, message.sent_by_api, message.track_id) == (
        sent["messageid"], True, True, "order-42",
    )  # fmt: skip
    assert (message.phone, message.kind, message.text) == (f"+{to}", "text", "Seu pedido foi confirmado")
    raw = json.loads(echo.body)["message"]
    assert (raw["source"], raw["track_source"], raw["id"]) == ("api", "zapline", sent["id"])

    for recorded, state in ((delivered, "delivered"), (read, "read")):
        receipt = parse_event(recorded.body)
        assert isinstance(receipt, ReceiptEvent)
        assert (receipt.status, receipt.event.message_ids, receipt.event.chat) == (
            state, [sent["messageid"]], f"{to}@s.whatsapp.net",
        )  # fmt: skip
        raw_event = json.loads(recorded.body)["event"]
        assert raw_event["IsFromMe"] == "False" and raw_event["Timestamp"].isdigit()
        assert abs(int(raw_event["Timestamp"]) - sent["messageTimestamp"] // 1000) <= 5  # seconds, not ms
    assert uaz.settled()["webhooks_posted"] == 3


def test_media_and_poll_echoes_normalise_to_their_kinds(uaz: Instance, rx: HttpReceiver) -> None:
    path = _for(uaz.name)
    uaz.webhook(rx.url_for(path), events=["messages"])
    to = number()
    image = {"number": to, "type": "image", "file": "https://cdn.example.com/p.jpg", "text": "Catálogo"}
    uaz.call("POST", "/send/media", image)
    uaz.call("POST", "/send/menu", {"number": to, "type": "poll", "text": "Nota?", "choices": ["0", "5", "10"]})
    uaz.settled()
    kinds = {}
    for recorded in rx.received(path):
        event = parse_event(recorded.body)
        assert isinstance(event, MessagesEvent)
        normalised = normalize_message(event)
        kinds[normalised.kind] = normalised
    assert set(kinds) == {"image", "poll"}
    assert kinds["image"].text == "Catálogo" and kinds["image"].media is not None
    assert kinds["image"].media["mimetype"] == "image/jpeg"
    assert kinds["poll"].media == {"options": ["0", "5", "10"]}


def test_without_a_webhook_nothing_is_posted(uaz: Instance) -> None:
    assert uaz.send_text(number(), "ninguém escuta").status_code == 200
    stats = uaz.settled()
    assert (stats["sends"], stats["webhook_attempts"]) == (1, 0)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"excludeMessages": ["wasSentByApi"]}, ["messages_update", "messages_update"]),
        ({"events": ["messages"]}, ["messages"]),
        ({"enabled": False}, []),
    ],
)
def test_events_and_excludes_filter_what_is_posted(
    uaz: Instance, rx: HttpReceiver, config: dict[str, object], expected: list[str]
) -> None:
    path = _for(uaz.name)
    uaz.webhook(rx.url_for(path), **config)
    uaz.send_text(number(), "filtrado")
    uaz.settled()
    assert [json.loads(r.body)["EventType"] for r in rx.received(path)] == expected


def test_url_suffixes_follow_add_url_events(uaz: Instance, rx: HttpReceiver) -> None:
    base = _for(uaz.name)
    uaz.webhook(rx.url_for(base + "?k=1"), addUrlEvents=True, addUrlTypesMessages=True)
    uaz.send_text(number(), "sufixos")
    uaz.settled()
    got = sorted((r.path, r.query) for r in rx.requests if r.path.startswith(base + "/"))
    assert got == [
        (f"{base}/messages/extendedTextMessage", "k=1"),
        (f"{base}/messages_update", "k=1"),
        (f"{base}/messages_update", "k=1"),
    ]


def test_a_failing_webhook_is_retried_and_recorded(uaz: Instance, rx: HttpReceiver) -> None:
    path = _for(uaz.name)
    rx.respond(path, Reply(503), Reply(502), Reply(500), Reply(200))  # the echo fails 3 times; then all is well
    uaz.webhook(rx.url_for(path))
    sent = uaz.send_text(number(), "vai falhar uma vez").json()
    stats = uaz.settled()
    assert (stats["webhook_attempts"], stats["webhook_failures"], stats["webhooks_posted"]) == (5, 1, 2)
    attempts: list[Recorded] = rx.received(path)
    assert [json.loads(r.body)["EventType"] for r in attempts] == ["messages"] * 3 + ["messages_update"] * 2

    errors = uaz.call("GET", "/webhook/errors")
    assert errors.headers["x-webhook-error-capture-started-at"].isdigit()
    [error] = errors.json()
    assert (error["type"], error["event"], error["status_code"], error["attempts"]) == ("local", "messages", 500, 3)
    assert error["url"] == rx.url_for(path) and "500" in error["error"]
    assert error["payload"]["message"]["messageid"] == sent["messageid"]
    assert error["payload"]["token"] == "REDACTED"

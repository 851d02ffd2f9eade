"""The sandbox UAZAPI's sending API: answers, errors, injected faults, /chat/check, the send log."""

from __future__ import annotations

import base64
import re
import time
from typing import Any

import httpx
import pytest

from tests.sandbox.uazapi_helpers import Instance, number


def test_send_text_answers_with_the_stored_message(uaz: Instance) -> None:
    to = number()
    before = int(time.time() * 1000)
    response = uaz.send_text(to, "Olá! Seu pedido saiu 🚚", track_source="zapline", track_id="out-1", replyid="ABC1")
    assert response.status_code == 200, response.text
    body = response.json()
    assert re.fullmatch(r"[0-9A-F]{32}", body["messageid"])
    assert body["id"] == f"5511999990000:{body['messageid']}"
    assert body["chatid"] == f"{to}@s.whatsapp.net"
    assert (body["fromMe"], body["wasSentByApi"], body["source"], body["isGroup"]) == (True, True, "api", False)
    assert (body["text"], body["track_source"], body["track_id"], body["quoted"]) == (
        "Olá! Seu pedido saiu 🚚", "zapline", "out-1", "ABC1",
    )  # fmt: skip
    assert body["messageType"] == "ExtendedTextMessage"
    assert body["sender_pn"] == "5511999990000@s.whatsapp.net"
    assert before <= body["messageTimestamp"] <= int(time.time() * 1000)
    assert body["response"] == {"status": "success", "message": "Message sent successfully"}
    assert {"content", "sendFunction", "sendPayload", "fileURL", "ai_metadata", "sender_lid", "owner"} <= set(body)


@pytest.mark.parametrize("token", [None, "", "not-a-token"])
def test_a_send_without_a_valid_token_is_401(uaz: Instance, token: str | None) -> None:
    headers = {} if token is None else {"token": token}
    response = uaz.http.post("/send/text", json={"number": number(), "text": "oi"}, headers=headers)
    assert (response.status_code, response.json()) == (401, {"error": "Invalid token"})
    assert uaz.sent() == []


@pytest.mark.parametrize(
    ("path", "body", "error"),
    [
        ("/send/text", {"number": "5511987650001"}, "Missing number or text"),
        ("/send/text", {"text": "oi"}, "Missing number or text"),
        ("/send/media", {"number": "5511987650001", "type": "image"}, "Missing number or file"),
        ("/send/media", {"number": "5511987650001", "type": "gif", "file": "https://x.test/a.gif"}, "Invalid media"),
        ("/send/menu", {"number": "5511987650001", "type": "poll", "text": "Nota?"}, "Missing choices"),
        ("/send/menu", {"number": "5511987650001", "type": "poll", "text": "Nota?",
                        "choices": [str(i) for i in range(13)]}, "A poll needs 2 to 12"),
        ("/send/menu", {"number": "5511987650001", "type": "wheel", "text": "x", "choices": ["a"]}, "Invalid menu"),
    ],
)  # fmt: skip
def test_missing_or_invalid_fields_are_400(uaz: Instance, path: str, body: dict[str, Any], error: str) -> None:
    response = uaz.call("POST", path, body)
    assert response.status_code == 400
    assert response.json()["error"].startswith(error)


@pytest.mark.parametrize("to", ["5500000000001", "+55 (00) 0012-3456", "551199999", "12345"])
def test_a_number_not_on_whatsapp_is_refused(uaz: Instance, to: str) -> None:
    response = uaz.send_text(to, "oi")
    assert response.status_code == 400
    assert "not on WhatsApp" in response.json()["error"]
    assert uaz.sent() == []


def test_chat_check_follows_the_same_rule(uaz: Instance) -> None:
    response = uaz.call("POST", "/chat/check", {"numbers": ["+55 11 98765-0001", "5500000000001", "123"]})
    assert response.status_code == 200
    ok, zeros, short = response.json()
    assert ok == {"query": "+55 11 98765-0001", "jid": "5511987650001@s.whatsapp.net", "lid": "100000087650001@lid",
                  "isInWhatsapp": True, "verifiedName": ""}  # fmt: skip
    assert (zeros["isInWhatsapp"], zeros["jid"], short["isInWhatsapp"]) == (False, "", False)
    assert uaz.call("POST", "/chat/check", {"numbers": []}).status_code == 400


def test_injected_429_answers_retry_after_then_sends_again(uaz: Instance) -> None:
    fault = uaz.http.post("/_sandbox/faults", json={"instance": uaz.token, "status": 429, "count": 2, "retry_after": 7})
    assert fault.status_code == 201, fault.text
    to = number()
    for _ in range(2):
        limited = uaz.send_text(to, "oi")
        assert (limited.status_code, limited.json()) == (429, {"error": "Rate limit exceeded"})
        assert limited.headers["retry-after"] == "7"
    assert uaz.send_text(to, "oi").status_code == 200
    assert [s["text"] for s in uaz.sent()] == ["oi"]


def test_injected_500_only_hits_its_endpoint_and_instance(uaz: Instance, sandbox: dict[str, str]) -> None:
    uaz.http.post("/_sandbox/faults", json={"instance": uaz.token, "status": 500, "endpoint": "/send/media"})
    with Instance(sandbox) as other:
        media = {"number": number(), "type": "image", "file": "https://cdn.example.com/a.jpg"}
        assert other.call("POST", "/send/media", media).status_code == 200
        assert uaz.send_text(number(), "texto passa").status_code == 200
        failed = uaz.call("POST", "/send/media", media)
        assert (failed.status_code, failed.json()) == (500, {"error": "Failed to send message"})
        assert uaz.call("POST", "/send/media", media).status_code == 200


def test_send_media_and_menu_answer_their_message_types(uaz: Instance) -> None:
    pdf = base64.b64encode(b"%PDF-1.4 proposta").decode()
    document = {"number": number(), "type": "document", "file": pdf, "docName": "Proposta.pdf", "text": "Segue",
                "track_id": "doc-1"}  # fmt: skip
    media = uaz.call("POST", "/send/media", document)
    assert media.status_code == 200, media.text
    assert (media.json()["messageType"], media.json()["text"], media.json()["track_id"]) == (
        "DocumentMessage", "Segue", "doc-1",
    )  # fmt: skip
    assert media.json()["fileURL"].endswith(f"/_sandbox/files/{media.json()['messageid']}.pdf")
    voice = uaz.call("POST", "/send/media", {"number": number(), "type": "ptt", "file": "https://x.test/a.ogg"})
    assert voice.json()["messageType"] == "AudioMessage"
    poll = uaz.call("POST", "/send/menu", {"number": number(), "type": "poll", "text": "De 0 a 10?",
                                           "choices": [str(i) for i in range(11)], "selectableCount": 1})  # fmt: skip
    assert poll.status_code == 200, poll.text
    assert poll.json()["messageType"] == "PollCreationMessageV3"
    assert poll.json()["convertOptions"] == "|".join(str(i) for i in range(11))


def test_sent_lists_every_send_in_order_with_times(uaz: Instance, sandbox: dict[str, str]) -> None:
    to = number()
    start = int(time.time() * 1000)
    ids = [uaz.send_text(to, f"msg {i}", track_id=f"t{i}").json()["messageid"] for i in range(3)]
    poll = uaz.call("POST", "/send/menu", {"number": to, "type": "poll", "text": "Nota?", "choices": ["0", "10"]})
    end = int(time.time() * 1000)
    with Instance(sandbox) as other:
        other.send_text(to, "de outra instância")
        records = uaz.sent()
        assert [r["message_id"] for r in records] == [*ids, poll.json()["messageid"]]
        assert [r["type"] for r in records] == ["text", "text", "text", "menu"]
        first = records[0]
        assert {k: first[k] for k in ("instance", "number", "text", "media", "track_id", "track_source")} == {
            "instance": uaz.name, "number": to, "text": "msg 0", "media": None, "track_id": "t0", "track_source": "",
        }  # fmt: skip
        assert (records[3]["menu_type"], records[3]["choices"]) == ("poll", ["0", "10"])
        times = [r["time"] for r in records]
        assert start <= times[0] <= times[1] <= times[2] <= times[3] <= end
        since = [r["message_id"] for r in uaz.sent(since=str(times[3]))]  # inclusive: same-ms sends too
        assert since == [r["message_id"] for r in records if r["time"] >= times[3]]
        assert since[-1] == poll.json()["messageid"]
        assert [r["text"] for r in other.sent()] == ["de outra instância"]
        by_name = uaz.http.get("/_sandbox/sent", params={"instance": uaz.name}).json()
        assert len(by_name) == 4


def test_message_find_returns_tracked_sends(uaz: Instance) -> None:
    to = number()
    sent = uaz.send_text(to, "rastreada", track_source="zapline", track_id="find-me").json()
    uaz.send_text(to, "outra", track_id="not-me")
    found = uaz.call("POST", "/message/find", {"chatid": f"{to}@s.whatsapp.net", "track_id": "find-me", "limit": 1})
    assert found.status_code == 200
    assert [m["messageid"] for m in found.json()["messages"]] == [sent["messageid"]]
    both = uaz.call("POST", "/message/find", {"chatid": to}).json()
    assert both["returnedMessages"] == 2 and both["hasMore"] is False


def test_instance_init_needs_the_admin_token(sandbox: dict[str, str]) -> None:
    url = sandbox["UAZAPI_URL"]
    refused = httpx.post(f"{url}/instance/init", json={"name": "loja"}, headers={"admintoken": "nope"})
    assert (refused.status_code, refused.json()) == (401, {"error": "Invalid admin token"})
    created = httpx.post(f"{url}/instance/init", json={"name": "loja"},
                         headers={"admintoken": sandbox["UAZAPI_ADMIN_TOKEN"]})  # fmt: skip
    assert created.status_code == 200, created.text
    token = created.json()["token"]
    assert created.json()["name"] == created.json()["instance"]["name"] == "loja"
    status = httpx.get(f"{url}/instance/status", headers={"token": token}).json()
    assert status["instance"]["status"] == "connected" and status["status"]["connected"] is True
    assert httpx.post(f"{url}/send/text", json={"number": number(), "text": "oi"},
                      headers={"token": token}).status_code == 200  # fmt: skip


def test_the_default_instance_uses_the_published_token(sandbox: dict[str, str]) -> None:
    status = httpx.get(f"{sandbox['UAZAPI_URL']}/instance/status", headers={"token": sandbox["UAZAPI_INSTANCE_TOKEN"]})
    assert status.status_code == 200
    assert status.json()["instance"]["owner"] == "5511999990000"
    assert status.json()["status"]["jid"] == "5511999990000@s.whatsapp.net"


def test_stats_count_requests_and_sends(uaz: Instance) -> None:
    uaz.send_text(number(), "um")
    uaz.send_text("123", "recusado")
    stats = uaz.stats()
    assert (stats["api_requests"], stats["sends"]) == (2, 1)
    totals = uaz.http.get("/_sandbox/stats").json()
    assert totals["sends"] >= 1 and set(totals) >= {"api_requests", "sends", "webhooks_posted"}

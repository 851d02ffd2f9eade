"""High-priority notifications end to end: webhooks signed as QStash signs them (so the inbound function has
run its hooks when it answers), the owner's WhatsApp message read from the UAZAPI simulator, the live event
from Centrifugo, and what was queued for the owner from QStash's log. Runs on a sandbox of its own: the NPS
survey waits for QStash's clock."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.automations.helpers import OWNER, Shop, new_number, qstash_logs
from tests.live import LiveInbox, Publication
from tests.support import deliver, wait_until
from zapline.sandbox.uazapi.payloads import Uazapi, body


@pytest.fixture
def shop(stack: dict[str, str]) -> Shop:
    return Shop(stack)


def webhook(shop: Shop, payload: dict[str, Any], **kw: Any) -> dict[str, Any]:
    response = deliver(shop.env["APP_URL"], shop.inbound_path, body(payload),
                       key=shop.env["QSTASH_CURRENT_SIGNING_KEY"], **kw)  # fmt: skip
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def queued_for_owner(shop: Shop, cause: str) -> list[str]:
    """The keys of the owner messages of ``cause`` published to QStash for this organisation."""
    created = qstash_logs(shop.env, label="job-owner-message", state="CREATED")
    return sorted({e["job"]["key"] for e in created if e["job"]["org_id"] == shop.org_id
                   and e["job"]["cause"] == f"notify:{cause}"})  # fmt: skip


def with_live_inbox(shop: Shop, act: Any, cause: str) -> Publication:
    """Do ``act()`` while the organisation's inbox is followed live; the ``owner.notification`` of ``cause``."""

    async def follow() -> Publication:
        async with LiveInbox(shop.env["APP_URL"], shop.api_key) as inbox:
            await asyncio.to_thread(act)
            _, event = await inbox.expect(lambda _, p: p["type"] == "owner.notification" and p["cause"] == cause)
            return event

    return asyncio.run(follow())


def test_an_urgent_word_tells_the_owner_once_an_hour_per_conversation(shop: Shop) -> None:
    uazapi, ana, bia = Uazapi(token=shop.token), new_number(), new_number()
    first = uazapi.text("Preciso de ajuda URGENTE, o pedido não chegou!", contact=ana, name="Ana Souza")
    event = with_live_inbox(shop, lambda: webhook(shop, first), "urgent")
    [text] = wait_until(lambda: shop.to_owner("Mensagem urgente"), timeout=30, what="the owner's notification")
    assert text == '🚨 *Mensagem urgente* de Ana Souza ("urgente"):\n"Preciso de ajuda URGENTE, o pedido não chegou!"'
    lead = shop.lead(ana)
    assert (event["text"], event["lead_id"], event["instance_id"]) == (text, lead["id"], shop.instance_id)
    assert event["conversation_id"].startswith("conv_")

    assert webhook(shop, first, retried=1)["outcome"] == "duplicate"  # QStash's retry of the same webhook
    webhook(shop, uazapi.text("É uma reclamação, vou no Procon", contact=ana, name="Ana Souza"))  # same hour
    webhook(shop, uazapi.text("bom dia", contact=bia, name="Bia"))
    assert len(queued_for_owner(shop, "urgent")) == 1
    webhook(shop, uazapi.text("Quero cancelar tudo", contact=bia, name="Bia"))  # another conversation
    assert len(queued_for_owner(shop, "urgent")) == 2
    wait_until(lambda: len(shop.to_owner("Mensagem urgente")) == 2, timeout=30, what="Bia's notification")
    assert len(shop.owner_messages("notify:urgent")) == 2


def test_keywords_are_the_organisations_and_notifications_can_be_switched_off(shop: Shop) -> None:
    uazapi, caio = Uazapi(token=shop.token), new_number()
    shop.configure(notifications={"urgent_keywords": ["socorro"]})
    webhook(shop, uazapi.text("isso é urgente", contact=caio, name="Caio"))
    assert queued_for_owner(shop, "urgent") == []
    webhook(shop, uazapi.text("Socorro!", contact=caio, name="Caio"))
    assert len(queued_for_owner(shop, "urgent")) == 1
    shop.configure(notifications={"enabled": False})
    webhook(shop, uazapi.text("SOCORRO", contact=new_number(), name="Duda"))
    assert len(queued_for_owner(shop, "urgent")) == 1


def _survey_answer(shop: Shop, number: str, vote: str) -> dict[str, Any]:
    """The lead writes, the conversation is closed, the survey goes out (QStash's clock), the lead votes."""
    shop.customer_says(number, "Obrigado!", name=f"Cliente {vote}")
    [conversation] = [c for c in shop.api("GET", "/conversations").json()["items"]
                      if c["lead_id"] == shop.lead(number)["id"]]  # fmt: skip
    assert shop.api("POST", f"/conversations/{conversation['id']}/close").status_code == 200
    httpx.post(f"{shop.env['QSTASH_URL']}/_sandbox/clock/advance", json={"seconds": 61}, timeout=60).raise_for_status()
    [survey] = wait_until(lambda: shop.sent(number), timeout=30, what="the NPS survey")
    httpx.post(f"{shop.env['UAZAPI_URL']}/_sandbox/customers/message", timeout=30, json={
        "instance": shop.token, "from": number, "name": f"Cliente {vote}", "kind": "poll_vote", "vote": vote,
        "reply_to": survey["message_id"]}).raise_for_status()  # fmt: skip
    scored = wait_until(lambda: (c := shop.api("GET", f"/conversations/{conversation['id']}").json())["nps_score"]
                        is not None and c, timeout=30, what="the score")  # fmt: skip

    # the inbound delivery that stored the vote has answered: its hooks ran
    def vote_delivered() -> bool:
        events = qstash_logs(shop.env, state="DELIVERED")
        return any("/api/inbound/" in e["url"] and '"nps_score"' in e.get("responseBody", "") for e in events)

    wait_until(vote_delivered, timeout=30, what="the vote's delivery")
    answered: dict[str, Any] = scored
    return answered


def test_a_low_nps_answer_tells_the_owner_a_high_one_does_not(shop: Shop) -> None:
    low, high = new_number(), new_number()
    assert _survey_answer(shop, high, "9")["nps_score"] == 9
    assert queued_for_owner(shop, "low_nps") == []
    assert _survey_answer(shop, low, "3")["nps_score"] == 3
    [text] = wait_until(lambda: shop.to_owner("NPS baixo"), timeout=30, what="the low NPS notification")
    assert text.startswith("⚠️ *NPS baixo*: Cliente 3 deu nota 3")
    assert len(queued_for_owner(shop, "low_nps")) == 1


def test_a_disconnected_instance_tells_the_owner_once_an_hour(shop: Shop) -> None:
    uazapi = Uazapi(token=shop.token)
    event = with_live_inbox(shop, lambda: webhook(shop, uazapi.connection("disconnected")), "disconnected")
    assert event["instance_id"] == shop.instance_id
    [text] = wait_until(lambda: shop.to_owner("Instância desconectada"), timeout=30, what="the notification")
    assert text.startswith("🔌 *Instância desconectada*: main saiu do WhatsApp (401: logged out).")
    webhook(shop, uazapi.connection("connected"))
    webhook(shop, uazapi.connection("disconnected"))
    assert len(queued_for_owner(shop, "disconnected")) == 1
    assert [m["cause"] for m in shop.owner_messages()] == ["notify:disconnected"]


def test_a_burst_of_failed_sends_tells_the_owner_once(shop: Shop) -> None:
    nowhere = "5500000000" + new_number()[-3:]  # not on WhatsApp in the simulator: every send is refused
    webhook(shop, Uazapi(token=shop.token).text("Oi", contact=nowhere, name="Ninguém"))
    [conversation] = [c for c in shop.api("GET", "/conversations").json()["items"]
                      if c["lead_id"] == shop.lead(nowhere)["id"]]  # fmt: skip

    def failed() -> int:
        messages = shop.api("GET", f"/conversations/{conversation['id']}/messages").json()["items"]
        return sum(1 for m in messages if m["status"] == "failed")

    for i in range(4):
        shop.api("POST", f"/conversations/{conversation['id']}/messages", json={"text": f"Resposta {i}"})
    wait_until(lambda: failed() == 4, timeout=30, what="4 failed sends")
    shop.api("POST", f"/conversations/{conversation['id']}/messages", json={"text": "Resposta 4"})
    [text] = wait_until(lambda: shop.to_owner("Falhas de envio"), timeout=30, what="the burst notification")
    assert text.startswith("⚠️ *Falhas de envio*: 5 mensagens da instância main falharam nos últimos 10 minutos.")
    assert len(queued_for_owner(shop, "send_failures")) == 1
    assert shop.sent(OWNER) and not shop.sent(nowhere)

"""The owner's assistant and what the AI learns when a conversation closes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import redis

from tests.ai.helpers import OWNER, AiLoop
from tests.support import wait_until
from zapline.store.keys import OrgKeys


def test_the_owner_is_answered_by_the_assistant_and_is_no_lead(ai: AiLoop) -> None:
    customer = ai.new_number()
    ai.customer_says(customer, "Oi, quero um orçamento")
    ai.conversation_of(customer)
    ai.script({"match": {"contains": "Quantas mensagens"}, "times": 1,
               "answer": {"tool_calls": [{"name": "today_counters", "arguments": {}},
                                         {"name": "waiting_conversations", "arguments": {}}]}})  # fmt: skip
    since = ai.seq()
    ai.customer_says(OWNER, "Quantas mensagens recebemos hoje e quem está esperando?")
    told = ai.wait_sent(OWNER, 1, "the assistant's answer on the owner's WhatsApp")
    assert len(told) == 1
    followed = ai.requests(since)
    assert len(followed) == 2, "a tool round, then the answer"
    tool_results = [m["text"] for m in followed[1]["messages"] if m["role"] == "tool"]
    counters, waiting = json.loads(tool_results[0]), json.loads(tool_results[1])
    assert counters["inbound"] >= 1
    assert any(w["title"] == "Cliente Teste" for w in waiting), waiting
    assert ai.tenant.api("/leads", phone=f"+{OWNER}").status_code == 404
    listed = ai.operator("GET", "/owner/messages").json()["items"]
    assert listed[0]["cause"] == "assistant" and listed[0]["text"] == told[0]["text"]
    # the assistant's own answer comes back as the echo of an API send: it is not answered again
    ai.settle()
    assert len(ai.sent(OWNER)) == 1


def test_the_owners_voice_note_is_transcribed_then_answered(ai: AiLoop) -> None:
    ai.script({"match": {"endpoint": "audio.transcriptions"}, "times": 1,
               "answer": {"text": "Quantos clientes novos tivemos hoje?"}})  # fmt: skip
    since = ai.seq()
    ai.customer_says(OWNER, kind="audio")
    told = ai.wait_sent(OWNER, 1, "the assistant's answer to the voice note")
    assert len(told) == 1 and len(ai.requests(since, "audio.transcriptions")) == 1
    asked = ai.requests(since)
    assert asked and asked[0]["messages"][1] == {"role": "user", "text": "Quantos clientes novos tivemos hoje?"}


def test_closing_teaches_and_knowledge_waits_for_approval(ai: AiLoop) -> None:
    number = ai.new_number()
    ai.customer_says(number, "Vocês aceitam pix?")
    conversation = ai.conversation_of(number)
    ai.settle()
    ai.wait_sent(number, 1, "the first answer")
    lesson = {"summary": "Cliente perguntou sobre PIX", "outcome": "resolved", "intent": "forma de pagamento",
              "buying_intent": True, "knowledge": [{"question": "Vocês aceitam pix?",
                                                    "answer": "Sim, aceitamos PIX com 5% de desconto."}]}  # fmt: skip
    ai.script({"match": {"endpoint": "chat.completions", "tools": False}, "times": 1, "answer": {"json": lesson}})
    assert ai.operator("POST", f"/conversations/{conversation['id']}/close").status_code == 200

    def learned() -> dict[str, object] | None:
        found: dict[str, object] = ai.operator("GET", f"/conversations/{conversation['id']}").json()
        return found if found.get("ai_summary") else None

    closed = wait_until(learned, what="the lesson on the conversation")
    assert closed["ai_outcome"] == "resolved" and closed["ai_intent"] == "forma de pagamento"
    lead = ai.operator("GET", f"/leads/{conversation['lead_id']}").json()
    assert "buying_intent" in lead["tags"]
    pending = ai.operator("GET", "/ai/knowledge", params={"status": "pending"}).json()["items"]
    assert [p["question"] for p in pending] == ["Vocês aceitam pix?"]
    since = ai.seq()
    other = ai.new_number()
    ai.customer_says(other, "Aceita pix?")
    ai.settle()
    ai.wait_sent(other, 1, "an answer before approval")
    assert not ai.prompts_with(since, "5% de desconto"), "unapproved knowledge is never used"
    approved = ai.operator("POST", f"/ai/knowledge/{pending[0]['id']}/approve")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    since = ai.seq()
    third = ai.new_number()
    ai.customer_says(third, "Tem desconto no pix?")
    ai.settle()
    ai.wait_sent(third, 1, "an answer after approval")
    system = ai.prompts_with(since, "5% de desconto")
    assert system and system[0]["messages"][0]["role"] == "system"


def test_another_organisations_knowledge_is_not_found(ai: AiLoop, app: object, sandbox: dict[str, str]) -> None:
    other = AiLoop(ai.app, sandbox)
    other.enable()
    number = other.new_number()
    other.customer_says(number, "Qual o prazo de entrega?")
    conversation = other.conversation_of(number)
    other.script({"match": {"endpoint": "chat.completions", "tools": False}, "times": 1, "answer": {"json": {
        "summary": "prazo", "outcome": "resolved", "intent": "prazo", "buying_intent": False,
        "knowledge": [{"question": "Qual o prazo de entrega?", "answer": "Três dias úteis."}]}}})  # fmt: skip
    other.operator("POST", f"/conversations/{conversation['id']}/close")
    entry = wait_until(lambda: other.operator("GET", "/ai/knowledge").json()["items"] or None, what="B's proposal")[0]
    for verb in ("approve", "reject"):
        answer = ai.operator("POST", f"/ai/knowledge/{entry['id']}/{verb}")
        assert answer.status_code == 404, answer.text
    assert other.operator("GET", "/ai/knowledge").json()["items"][0]["status"] == "pending"
    assert httpx  # the module's client is the official one used by the helpers


def test_two_organisations_owner_messages_with_the_same_key_both_go_out(ai: AiLoop, sandbox: dict[str, str]) -> None:
    """QStash deduplicates account-wide: the owner-message id carries the organisation, so two
    organisations' daily summaries of the same local time are not one."""
    from tests.support import run_in_app_env

    other = AiLoop(ai.app, sandbox)
    for loop in (ai, other):
        run_in_app_env(ai.app, "zapline.owner:message_owner", loop.tenant.org_id, f"Resumo de {loop.tenant.org_id}",
                       "daily-summary-2026-12-07T1800", "daily_summary")  # fmt: skip
    for loop in (ai, other):
        org = loop.tenant.org_id

        def summary(loop: AiLoop = loop, org: str = org) -> list[dict[str, object]] | None:
            return [s for s in loop.sent(OWNER) if org in s["text"]] or None

        wait_until(summary, what=f"{org}'s summary")


def test_the_assistants_nps_sums_the_days_asked_for(ai: AiLoop) -> None:
    zone = ZoneInfo("America/Sao_Paulo")  # the organisation's
    today = datetime.now(zone).date()
    db = redis.Redis.from_url(ai.sandbox["REDIS_URL"])
    keys = OrgKeys(ai.tenant.org_id)
    db.hset(keys.daily((today - timedelta(days=1)).isoformat()),
            mapping={"nps_responses": 3, "nps_promoters": 2, "nps_detractors": 1, "nps_score_sum": 23})  # fmt: skip
    db.hset(keys.daily((today - timedelta(days=2)).isoformat()),
            mapping={"nps_responses": 1, "nps_passives": 1, "nps_score_sum": 7})  # fmt: skip
    db.hset(keys.daily((today - timedelta(days=5)).isoformat()), mapping={"nps_responses": 9, "nps_detractors": 9})
    db.close()
    ai.script({"match": {"contains": "Como está o NPS"}, "times": 1,
               "answer": {"tool_calls": [{"name": "nps", "arguments": {"days": 3}}]}})  # fmt: skip
    since = ai.seq()
    ai.customer_says(OWNER, "Como está o NPS dos últimos 3 dias?")
    ai.wait_sent(OWNER, 1, "the assistant's answer")
    [result] = [m["text"] for m in ai.requests(since)[1]["messages"] if m["role"] == "tool"]
    assert json.loads(result) == {"days": 3, "answers": 4, "nps": 25, "nps_responses": 4, "nps_score_sum": 30,
                                  "nps_promoters": 2, "nps_detractors": 1, "nps_passives": 1}  # fmt: skip

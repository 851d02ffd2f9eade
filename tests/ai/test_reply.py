"""AI replies to customers, through the sandbox: QStash (debounce, flow control), the OpenAI stand-in
reached with the official SDK, and the UAZAPI simulator that receives the answer."""

from __future__ import annotations

import json

from tests.ai.helpers import DEBOUNCE, OWNER, AiLoop
from tests.support import deliver, wait_until


def test_three_quick_messages_get_one_answer_marked_ai(ai: AiLoop) -> None:
    number = ai.new_number()
    since = ai.seq()
    for text in ("Oi", "Vocês abrem sábado?", "E qual o preço do corte?"):
        ai.customer_says(number, text)
    conversation = ai.conversation_of(number)
    wait_until(lambda: len(ai.messages(conversation["id"])) == 3 or None, what="three messages stored")
    ai.settle()
    sent = ai.wait_sent(number, 1, "the AI's answer handed to UAZAPI")
    assert len(sent) == 1, sent
    chats = ai.requests(since)
    assert len(chats) == 1, "one model call for three quick messages (the first two stepped aside)"
    assert "E qual o preço do corte?" in chats[0]["messages"][-1]["text"]
    assert chats[0]["messages"][0]["role"] == "system"
    assert not any("preço do corte" in m["text"] for m in chats[0]["messages"] if m["role"] == "system")
    answers = ai.ai_messages(conversation["id"])
    assert len(answers) == 1 and answers[0]["direction"] == "out" and answers[0]["text"] == sent[0]["text"]
    stats = ai.operator("GET", "/stats/daily").json()["counters"]
    assert stats["ai_tokens"] > 0 and stats["ai_replies"] == 1, stats


def test_the_same_ai_reply_job_twice_sends_once(ai: AiLoop) -> None:
    number = ai.new_number()
    ai.customer_says(number, "Quero agendar uma visita")
    conversation = ai.conversation_of(number)
    trigger = ai.messages(conversation["id"])[0]["id"]
    body = json.dumps({"org_id": ai.tenant.org_id, "conversation_id": conversation["id"], "trigger": trigger}).encode()
    key = ai.sandbox["QSTASH_CURRENT_SIGNING_KEY"]
    first = deliver(ai.app.url, "/api/jobs/ai-reply", body, key=key)
    second = deliver(ai.app.url, "/api/jobs/ai-reply", body, key=key, retried=1)
    assert first.status_code == 200 and first.json()["outcome"] == "answered", first.text
    assert second.status_code == 200 and second.json()["outcome"] == "already_answered", second.text
    ai.settle()  # the debounced job the message itself queued finds the answer too
    ai.wait_sent(number, 1, "the answer")
    assert len(ai.sent(number)) == 1
    assert len(ai.ai_messages(conversation["id"])) == 1


def test_hand_off_pauses_the_ai_until_resumed(ai: AiLoop) -> None:
    number = ai.new_number()
    hand_off = {"tool_calls": [{"name": "hand_off", "arguments": {"reason": "pediu um humano"}}]}
    ai.script({"match": {"contains": "falar com um humano"}, "times": 1, "answer": hand_off})
    ai.customer_says(number, "Quero falar com um humano, por favor")
    conversation = ai.conversation_of(number)
    ai.settle()
    ai.wait_sent(number, 1, "the AI's last words before the hand-off")

    def paused() -> str | None:
        state: str | None = ai.operator("GET", f"/conversations/{conversation['id']}").json().get("ai_paused")
        return state

    assert wait_until(paused, what="the AI paused") == "handoff"
    since = ai.seq()
    ai.customer_says(number, "Alô? Tem alguém aí?")
    wait_until(lambda: len(ai.messages(conversation["id"])) == 3 or None, what="the lead's next message stored")
    ai.settle()
    assert ai.requests(since) == [], "no model call while a human has the conversation"
    assert len(ai.sent(number)) == 1
    resumed = ai.operator("POST", f"/conversations/{conversation['id']}/ai/resume")
    assert resumed.status_code == 200 and resumed.json() == {"conversation_id": conversation["id"], "ai_paused": None}
    ai.customer_says(number, "Ainda preciso de ajuda")
    ai.settle()
    ai.wait_sent(number, 2, "an AI answer once resumed")


def test_an_operator_reply_pauses_the_ai(ai: AiLoop) -> None:
    number = ai.new_number()
    ai.customer_says(number, "Bom dia")
    conversation = ai.conversation_of(number)
    ai.reply(conversation["id"], "Bom dia! Aqui é a Marta, como posso ajudar?")
    ai.wait_sent(number, 1, "the operator's reply")
    since = ai.seq()
    ai.settle()  # the AI job of "Bom dia" finds a human answered
    ai.customer_says(number, "Quero um orçamento")
    wait_until(lambda: len(ai.messages(conversation["id"])) == 3 or None, what="the next message stored")
    ai.settle()
    assert ai.requests(since) == []
    assert [s["text"] for s in ai.sent(number)] == ["Bom dia! Aqui é a Marta, como posso ajudar?"]
    paused = ai.operator("GET", f"/conversations/{conversation['id']}").json()
    assert paused["ai_paused"] == "operator"


def test_no_answer_to_an_opted_out_lead_nor_to_the_owner_number(ai: AiLoop) -> None:
    number = ai.new_number()
    ai.customer_says(number, "Oi")
    conversation = ai.conversation_of(number)
    assert ai.operator("POST", f"/leads/{conversation['lead_id']}/opt-out").status_code == 200
    since = ai.seq()
    ai.settle()
    assert ai.requests(since) == [] and ai.sent(number) == []
    lead = ai.tenant.api("/leads", phone=f"+{OWNER}")
    assert lead.status_code == 404, "the owner's number is never a lead"


def test_a_429_from_openai_is_retried_after_its_retry_after(ai: AiLoop) -> None:
    number = ai.new_number()
    ai.script({"match": {"contains": "horário de funcionamento"}, "times": 1,
               "fault": {"status": 429, "retry_after": 2, "message": "Rate limit reached"}})  # fmt: skip
    ai.customer_says(number, "Qual o horário de funcionamento?")
    ai.conversation_of(number)
    ai.settle()
    ai.advance(5)
    sent = ai.wait_sent(number, 1, "the answer after the retry")
    assert len(sent) == 1


def test_an_openai_400_is_a_dead_letter_with_its_reason(ai: AiLoop) -> None:
    number = ai.new_number()
    refusal = {"status": 400, "message": "Invalid 'messages': bad content", "code": "invalid_value"}
    ai.script({"match": {"contains": "pergunta recusada"}, "times": 5, "fault": refusal})
    ai.customer_says(number, "Esta é uma pergunta recusada")
    ai.conversation_of(number)
    ai.settle()

    def letter() -> dict[str, object] | None:
        items = ai.operator("GET", "/dead-letters").json()["items"]
        return next((d for d in items if d.get("job") == "ai-reply"), None)

    found = wait_until(letter, what="the ai-reply dead letter")
    assert "OpenAI refused the request (HTTP 400)" in json.dumps(found), found
    assert ai.sent(number) == []


def test_budget_exhausted_stops_the_ai_and_tells_the_owner_once(ai: AiLoop) -> None:
    ai.enable(daily_token_budget=1)
    first, second = ai.new_number(), ai.new_number()
    ai.customer_says(first, "Oi, quanto custa?")
    ai.conversation_of(first)
    ai.settle()
    ai.wait_sent(first, 1, "the answer that spends the day's budget")
    since = ai.seq()
    ai.customer_says(second, "Oi, vocês entregam?")
    ai.customer_says(ai.new_number(), "Boa tarde")
    ai.settle()
    assert ai.requests(since) == [], "no model call past the budget"
    assert ai.sent(second) == []
    told = ai.wait_sent(OWNER, 1, "the owner told the AI paused")
    assert len([s for s in told if "limite diário" in s["text"]]) == 1, told
    assert DEBOUNCE  # the settle above fired both jobs


def test_a_reply_from_the_phone_pauses_the_ai(ai: AiLoop) -> None:
    from zapline.sandbox.uazapi.payloads import Uazapi, body

    number = ai.new_number()
    ai.customer_says(number, "Oi, boa tarde")
    conversation = ai.conversation_of(number)
    phone = body(Uazapi(token=ai.tenant.token, owner=OWNER).text("Oi! Sou a Carla, já te respondo", contact=number,
                                                                 from_me=True))  # fmt: skip
    key = ai.sandbox["QSTASH_CURRENT_SIGNING_KEY"]
    stored = deliver(ai.app.url, ai.tenant.inbound_path, phone, key=key)
    assert stored.status_code == 200 and stored.json()["outcome"] == "stored", stored.text
    assert ai.operator("GET", f"/conversations/{conversation['id']}").json()["ai_paused"] == "phone"
    since = ai.seq()
    ai.settle()
    assert ai.requests(since) == [] and ai.sent(number) == []


def test_an_answer_the_conversation_outgrew_while_the_model_thought_is_dropped(ai: AiLoop) -> None:
    number = ai.new_number()
    ai.script({"match": {"contains": "pergunta demorada"}, "times": 1, "delay": 2})  # a slow model
    ai.customer_says(number, "Uma pergunta demorada")
    conversation = ai.conversation_of(number)
    trigger = ai.messages(conversation["id"])[0]["id"]
    body = json.dumps({"org_id": ai.tenant.org_id, "conversation_id": conversation["id"], "trigger": trigger}).encode()
    key = ai.sandbox["QSTASH_CURRENT_SIGNING_KEY"]

    import threading

    answers: list[dict[str, object]] = []
    worker = threading.Thread(target=lambda: answers.append(deliver(ai.app.url, "/api/jobs/ai-reply", body,
                                                                    key=key).json()))  # fmt: skip
    worker.start()
    wait_until(lambda: ai.requests(0) and any("pergunta demorada" in m["text"] for r in ai.requests(0)
                                              for m in r["messages"]) or None, what="the model asked")  # fmt: skip
    assert ai.operator("POST", f"/conversations/{conversation['id']}/ai/pause").status_code == 200  # a human took it
    worker.join(timeout=30)
    assert answers and answers[0]["outcome"] == "taken_over", answers
    assert ai.sent(number) == [] and ai.ai_messages(conversation["id"]) == []


def test_an_owner_picks_only_what_the_deployment_pays_for(ai: AiLoop) -> None:
    expensive = ai.operator("PUT", "/ai", json={"enabled": True, "model": "o1-pro"})
    assert expensive.status_code == 400 and "model" in expensive.json()["error"], expensive.text
    assert "gpt-4o-mini" in expensive.json()["error"]
    greedy = ai.operator("PUT", "/ai", json={"enabled": True, "daily_token_budget": 100_000_000})
    assert greedy.status_code == 400 and "daily_token_budget" in greedy.json()["error"], greedy.text
    assert ai.operator("GET", "/ai").json()["model"] is None  # the refused ones changed nothing
    assert ai.operator("PUT", "/ai", json={"enabled": True, "model": "gpt-4o"}).json()["model"] == "gpt-4o"

"""The conversation loop end to end: operator replies, lanes, follow-ups, NPS, opt-out, failures.

Customers write through the UAZAPI simulator (webhooks through the sandbox QStash to the inbound
function); what Zapline sends is read back from the simulator's record of sends. QStash delays are
driven with the sandbox clock, so an hour of follow-up timing takes no real time.
"""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conversation_loop import Loop
from tests.sandbox.qstash_helpers import client as qstash_client
from tests.support import AppProcess, wait_until


@pytest.fixture(scope="module")
def loop(app: AppProcess, sandbox: dict[str, str]) -> Loop:
    return Loop(app, sandbox)


def test_operator_reply_is_sent_once_echoed_and_read(loop: Loop) -> None:
    number = loop.new_number()
    loop.customer_says(number, "Oi, vocês entregam em Campinas?")
    conversation = loop.conversation_of(number)

    key = {"Idempotency-Key": "reply-1"}
    first = loop.reply(conversation["id"], "Entregamos sim! 🚚", headers=key)
    second = loop.reply(conversation["id"], "Entregamos sim! 🚚", headers=key)  # a double submit
    assert first["id"] == second["id"] and first["status"] == "pending"

    def read() -> dict[str, object] | None:
        ours = [m for m in loop.messages(conversation["id"]) if m["direction"] == "out"]
        return ours[0] if len(ours) == 1 and ours[0]["status"] == "read" else None

    message = wait_until(read, timeout=30, what="our reply to be echoed, delivered and read")
    assert message["wa_id"] and message["sent_by_api"] is True
    sends = loop.sent(number)
    assert [s["text"] for s in sends] == ["Entregamos sim! 🚚"]
    assert sends[0]["track_id"] == first["id"]
    # and the send job itself succeeded (a failure after UAZAPI sent would be hidden by the echo)
    letters = qstash_client(loop.sandbox).dlq.list(filter={"url": f"{loop.app.url}/api/jobs/send"}).messages
    assert [m for m in letters if first["id"] in (m.body or "")] == []


def test_a_bulk_burst_does_not_delay_a_realtime_reply(loop: Loop, app: AppProcess, sandbox: dict[str, str]) -> None:
    from tests.support import run_in_app_env

    number, bulk_number = loop.new_number(), loop.new_number()
    loop.customer_says(number, "preciso de ajuda")
    loop.customer_says(bulk_number, "me manda as promoções")
    conversation = loop.conversation_of(number)
    bulk_conversation = loop.conversation_of(bulk_number)
    run_in_app_env(app, "tests.conversation_loop_jobs:queue_bulk", loop.tenant.org_id, bulk_conversation["id"], 200)

    asked = time.time() * 1000
    loop.reply(conversation["id"], "Claro, como posso ajudar?")
    reply = wait_until(lambda: loop.sent(number), timeout=30, what="the realtime reply to be sent")[0]
    bulk_before = [s for s in loop.sent(bulk_number) if s["time"] <= reply["time"]]
    latency_ms = reply["time"] - asked
    print(f"realtime reply sent {latency_ms:.0f} ms after the request, behind {len(bulk_before)} of 200 bulk sends")
    assert len(bulk_before) < 200  # the bulk lane was still draining: the reply did not wait for it


def test_followups_fire_at_their_virtual_times_and_stop_on_a_reply(loop: Loop) -> None:
    steps = [{"after_seconds": 3600, "text": "Oi {name}, conseguiu ver?"},
             {"after_seconds": 86400, "text": "Posso ajudar em algo mais?"}]  # fmt: skip
    assert loop.operator("PUT", "/followups", json={"steps": steps}).status_code == 200

    number = loop.new_number()
    loop.customer_says(number, "quanto custa?")
    conversation = loop.conversation_of(number)
    loop.reply(conversation["id"], "Custa R$ 99.")
    wait_until(lambda: loop.sent(number), what="the reply")

    loop.advance(3500)
    assert [s["text"] for s in loop.sent(number)] == ["Custa R$ 99."]  # 58 min: nothing yet
    loop.advance(120)
    texts = wait_until(lambda: [s["text"] for s in loop.sent(number)][1:], what="follow-up 1")
    assert texts == ["Oi Cliente, conseguiu ver?"]

    loop.customer_says(number, "vi sim, vou pensar")  # the lead answers: step 2 must not go
    wait_until(lambda: len(loop.messages(conversation["id"])) == 4, what="the lead's answer stored")
    loop.advance(90000)
    assert [s["text"] for s in loop.sent(number)] == ["Custa R$ 99.", "Oi Cliente, conseguiu ver?"]


def test_nps_survey_vote_and_score(loop: Loop) -> None:
    number = loop.new_number()
    loop.customer_says(number, "obrigado, resolvido!")
    conversation = loop.conversation_of(number)
    closed = loop.operator("POST", f"/conversations/{conversation['id']}/close")
    assert closed.status_code == 200 and closed.json()["conversation"]["status"] == "closed"
    assert loop.operator("POST", f"/conversations/{conversation['id']}/close").status_code == 200  # twice: one survey

    loop.advance(61)
    survey = wait_until(lambda: loop.sent(number), what="the NPS survey")
    assert len(survey) == 1 and survey[0]["type"] == "menu"
    assert survey[0]["choices"] == [str(n) for n in range(11)]
    loop.conversation_of(number, status="awaiting_nps")

    loop.customer_says(number, kind="poll_vote", vote="9", reply_to=survey[0]["message_id"])
    answered = wait_until(
        lambda: (c := loop.tenant.api(f"/conversations/{conversation['id']}").json())["nps_score"] is not None and c,
        what="the NPS score",
    )
    assert (answered["nps_score"], answered["status"], answered["nps_state"]) == (9, "closed", "answered")
    daily = loop.operator("GET", "/stats/daily").json()
    assert daily["counters"]["nps_responses"] >= 1 and daily["counters"]["nps_promoters"] >= 1
    loop.advance(120)
    assert len(loop.sent(number)) == 1  # retries and repeats never send a second survey


def test_an_unanswered_survey_expires(loop: Loop) -> None:
    number = loop.new_number()
    loop.customer_says(number, "ok")
    conversation = loop.conversation_of(number)
    loop.operator("POST", f"/conversations/{conversation['id']}/close")
    loop.advance(61)
    wait_until(lambda: loop.sent(number), what="the survey")
    loop.advance(86400 + 10)
    expired = wait_until(
        lambda: (c := loop.tenant.api(f"/conversations/{conversation['id']}").json())["nps_state"] == "expired" and c,
        what="the survey to expire",
    )
    assert expired["status"] == "closed" and expired["nps_score"] is None
    loop.customer_says(number, "oi de novo")  # a new message after close opens a new conversation
    assert loop.conversation_of(number, status="open")["id"] != conversation["id"]


def test_opt_out_by_keyword_stops_everything(loop: Loop) -> None:
    number = loop.new_number()
    loop.customer_says(number, "quero saber o preço")
    conversation = loop.conversation_of(number)
    loop.reply(conversation["id"], "É R$ 50.")  # arms a follow-up
    wait_until(lambda: loop.sent(number), what="the reply")
    loop.customer_says(number, "Parar")
    lead = wait_until(
        lambda: (lead := loop.tenant.api("/leads", phone=f"+{number}").json())["opted_out"] and lead,
        what="the keyword to opt the lead out",
    )
    refused = loop.operator("POST", f"/conversations/{conversation['id']}/messages", json={"text": "e aí?"})
    assert refused.status_code == 409
    loop.operator("POST", f"/conversations/{conversation['id']}/close")
    loop.advance(90000)  # past every follow-up and the NPS delay
    assert [s["text"] for s in loop.sent(number)] == ["É R$ 50."]
    assert lead["opted_out"] is True


def test_opt_out_by_the_operator(loop: Loop) -> None:
    number = loop.new_number()
    loop.customer_says(number, "oi")
    lead_id = loop.conversation_of(number)["lead_id"]
    response = loop.operator("POST", f"/leads/{lead_id}/opt-out")
    assert response.status_code == 200 and response.json()["opted_out"] is True


def test_uazapi_429_is_retried_after_retry_after(loop: Loop) -> None:
    number = loop.new_number()
    loop.customer_says(number, "oi")
    conversation = loop.conversation_of(number)
    fault = {"instance": loop.tenant.token, "status": 429, "count": 1, "retry_after": 30, "endpoint": "/send/text"}
    httpx.post(f"{loop.sandbox['UAZAPI_URL']}/_sandbox/faults", json=fault).raise_for_status()
    stats = f"{loop.sandbox['UAZAPI_URL']}/_sandbox/stats"
    calls = httpx.get(stats, params={"instance": loop.tenant.token}).json()["api_requests"]
    loop.reply(conversation["id"], "depois do 429")
    wait_until(
        lambda: httpx.get(stats, params={"instance": loop.tenant.token}).json()["api_requests"] > calls,
        what="the first attempt to meet the 429",
    )
    # UAZAPI said it did not send: the claim is released for the retry
    wait_until(
        lambda: [m["status"] for m in loop.messages(conversation["id"]) if m["direction"] == "out"] == ["pending"],
        what="the claim to be released",
    )
    assert loop.sent(number) == []
    loop.advance(31)
    sends = wait_until(lambda: loop.sent(number), what="the retry after Retry-After")
    assert [s["text"] for s in sends] == ["depois do 429"]


def test_an_invalid_number_becomes_a_dead_letter_with_its_reason(loop: Loop, sandbox: dict[str, str]) -> None:
    number = "5500000000001"  # the simulator says it is not on WhatsApp
    loop.customer_says(number, "oi")
    conversation = loop.conversation_of(number)
    reply = loop.reply(conversation["id"], "olá")
    failed = wait_until(
        lambda: [m for m in loop.messages(conversation["id"]) if m["id"] == reply["id"] and m["status"] == "failed"],
        what="the send to fail",
    )[0]
    assert "WhatsApp" in failed["error"]
    qstash = qstash_client(sandbox)
    letters = wait_until(
        lambda: [
            m
            for m in qstash.dlq.list().messages
            if m.url.endswith("/api/jobs/send") and "WhatsApp" in (m.response_body or "")
        ],
        what="the dead letter",
    )
    assert letters[0].response_status == 489


def test_two_deliveries_of_one_send_job_at_once_send_once(loop: Loop, app: AppProcess) -> None:
    import json
    import secrets
    from concurrent.futures import ThreadPoolExecutor

    from tests.support import deliver, run_in_app_env

    number = loop.new_number()
    loop.customer_says(number, "oi")
    conversation = loop.conversation_of(number)
    message_id = f"msg_{secrets.token_hex(8)}"
    run_in_app_env(app, "tests.conversation_loop_jobs:create_pending", loop.tenant.org_id, conversation["id"],
                   message_id, "uma vez só")  # fmt: skip
    body = json.dumps({"org_id": loop.tenant.org_id, "message_id": message_id}).encode()
    key = app.env["QSTASH_CURRENT_SIGNING_KEY"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda _: deliver(app.url, "/api/jobs/send", body, key=key), range(2)))
    assert sorted(a.status_code for a in answers) in ([200, 200], [200, 503])  # 503: "being sent", retried
    wait_until(lambda: loop.sent(number), what="the send")
    assert [s["text"] for s in loop.sent(number)] == ["uma vez só"]


def test_no_survey_when_the_lead_wrote_again_after_the_close(loop: Loop) -> None:
    number = loop.new_number()
    loop.customer_says(number, "tchau")
    conversation = loop.conversation_of(number)
    loop.operator("POST", f"/conversations/{conversation['id']}/close")
    loop.customer_says(number, "esqueci de perguntar uma coisa")  # within the survey's delay
    loop.conversation_of(number, status="open")
    loop.advance(61)
    closed = wait_until(
        lambda: (c := loop.tenant.api(f"/conversations/{conversation['id']}").json())["nps_state"] == "skipped" and c,
        what="the survey to be skipped",
    )
    assert closed["status"] == "closed" and loop.sent(number) == []


def test_an_automated_send_to_a_lead_who_opted_out_is_dropped_once_and_recorded(loop: Loop, app: AppProcess) -> None:
    import secrets

    from tests.support import run_in_app_env

    number = loop.new_number()
    loop.customer_says(number, "oi")
    conversation = loop.conversation_of(number)
    message_id = f"msg_{secrets.token_hex(8)}"
    run_in_app_env(app, "tests.conversation_loop_jobs:create_pending", loop.tenant.org_id, conversation["id"],
                   message_id, "promoção")  # fmt: skip
    assert loop.operator("POST", f"/leads/{conversation['lead_id']}/opt-out").status_code == 200
    run_in_app_env(app, "tests.conversation_loop_jobs:enqueue_send", loop.tenant.org_id, message_id)
    letter = wait_until(
        lambda: [d for d in loop.tenant.api("/dead-letters").json()["items"] if d["job"] == "send"],
        what="the send's dead letter",
    )
    assert letter[0]["reason"].startswith("opted_out") and message_id in letter[0]["reason"]
    assert (letter[0]["http_status"], letter[0]["retried"]) == (489, 0)  # refused once, never retried
    [message] = [m for m in loop.messages(conversation["id"]) if m["id"] == message_id]
    assert (message["status"], message["error"]) == ("failed", "opted_out")
    assert loop.sent(number) == []

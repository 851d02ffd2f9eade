"""Campaigns end to end: the operator API, the fan-out through QStash's batches on the bulk lane, the
UAZAPI simulator's sends, receipts and replies attributed, live progress, and re-delivered jobs.

Everything speaks the wire: campaigns are created through the API, QStash (the sandbox) delivers the
jobs to the functions, the simulator records what it was asked to send and answers with echoes and
receipts, and customers reply through it.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import httpx
import pytest

from tests.campaigns.helpers import campaign, created, opted_out, settled
from tests.conversation_loop import Loop
from tests.live import LiveInbox, Publication
from tests.sandbox.qstash_helpers import raw
from tests.support import AppProcess, deliver, wait_until


@pytest.fixture(scope="module")
def loop(app: AppProcess, sandbox: dict[str, str]) -> Loop:
    return Loop(app, sandbox)


def _sent_to(loop: Loop, numbers: list[str]) -> list[dict[str, Any]]:
    return [s for s in loop.sent() if s["number"] in numbers]


def _jobs(loop: Loop, campaign_id: str, kind: str) -> list[dict[str, Any]]:
    """The campaign's jobs of ``kind`` QStash accepted (its event log), oldest first, with their bodies."""
    events = raw(loop.sandbox, "GET", "/v2/events", params={"label": f"job-{kind}", "state": "CREATED",
                                                            "count": 1000}).json()["events"]  # fmt: skip
    for event in events:
        event["body"] = base64.b64decode(event.get("body") or "").decode()
    return sorted((e for e in events if campaign_id in e["body"]), key=lambda e: e["time"])


def test_three_recipients_one_opted_out_two_sends_once_with_names(loop: Loop) -> None:
    ana, bruno, carla = loop.new_number(), loop.new_number(), loop.new_number()
    opted_out(loop, carla)
    recipients = [{"phone": f"+{ana}", "name": "Ana Souza"}, {"phone": bruno, "name": "Bruno"},
                  {"phone": f"+{carla}", "name": "Carla"}]  # fmt: skip
    made = created(loop, "Olá {{first_name}}, temos novidades para você!", recipients)
    assert made["status"] in ("scheduled", "running", "completed") and made["total"] == 3

    done = settled(loop, made["id"], sent=2, delivered=2, read=2)  # the simulator's receipts, too
    counters = done["counters"]
    assert (counters["sent"], counters["skipped"], counters["failed"]) == (2, 1, 0)
    assert counters["skipped_by_reason"] == {"opted_out": 1}
    texts = sorted(s["text"] for s in _sent_to(loop, [ana, bruno, carla]))
    assert texts == ["Olá Ana, temos novidades para você!", "Olá Bruno, temos novidades para você!"]

    # each recipient's message is an outbound record of the campaign, in its (new) conversation
    conversation = loop.conversation_of(ana)
    ours = [m for m in loop.messages(conversation["id"]) if m["direction"] == "out"]
    assert [(m["author"], m["campaign_id"], m["text"]) for m in ours] == [
        ("campaign", made["id"], "Olá Ana, temos novidades para você!")
    ]

    # QStash delivers every job of the campaign again: nothing is sent twice, no counter moves
    fanouts, sends = _jobs(loop, made["id"], "campaign-fanout"), _jobs(loop, made["id"], "campaign-send")
    assert len(fanouts) == 1 and len(sends) == 2
    key = loop.sandbox["QSTASH_CURRENT_SIGNING_KEY"]
    for job in fanouts + sends:
        answer = deliver(loop.app.url, job["url"].removeprefix(loop.app.url), job["body"].encode(), key=key, retried=1)
        assert answer.status_code == 200, answer.text
        assert answer.json()["outcome"] in ("stopped", "done"), answer.text
    assert campaign(loop, made["id"])["counters"] == counters
    assert len(_sent_to(loop, [ana, bruno, carla])) == 2


def test_receipts_and_the_first_reply_are_counted_once_per_recipient(loop: Loop) -> None:
    dora, eva = loop.new_number(), loop.new_number()
    made = created(loop, "{{name|Cliente}}, a loja abriu!", [{"phone": dora}, {"phone": eva, "name": "Eva"}])
    # the simulator echoes every send, then reports it delivered and read
    done = settled(loop, made["id"], sent=2, delivered=2, read=2)
    assert sorted(s["text"] for s in _sent_to(loop, [dora, eva])) == ["Cliente, a loja abriu!", "Eva, a loja abriu!"]
    assert done["counters"]["replied"] == 0

    loop.customer_says(dora, "Que horas fecha?")
    replied = settled(loop, made["id"], replied=1)
    loop.customer_says(dora, "E amanhã?")  # a second reply of the same lead: still one recipient
    wait_until(lambda: len([m for m in loop.messages(loop.conversation_of(dora)["id"]) if m["direction"] == "in"]) == 2,
               what="the second reply stored")  # fmt: skip
    assert campaign(loop, made["id"])["counters"] == replied["counters"]
    assert replied["counters"]["replied"] == 1 and replied["counters"]["delivered"] == 2


def test_skips_name_their_reason(loop: Loop) -> None:
    fabio = loop.new_number()
    recipients = [{"phone": fabio, "name": "Fábio"}, {"phone": f"+55 {fabio[2:]}"}, {"phone": "12345"},
                  {"phone": "+5500000000001", "name": "Ninguém"}]  # fmt: skip
    made = created(loop, "Oi {{name}}", recipients)
    done = settled(loop, made["id"], sent=1)
    assert done["counters"]["skipped_by_reason"] == {"duplicate": 1, "invalid_phone": 1, "not_on_whatsapp": 1}
    assert (done["counters"]["skipped"], done["counters"]["queued"]) == (3, 0)
    assert [s["text"] for s in _sent_to(loop, [fabio, "5500000000001"])] == ["Oi Fábio"]


def test_a_missing_field_falls_back_and_nothing_is_evaluated(loop: Loop) -> None:
    gil, hugo = loop.new_number(), loop.new_number()
    recipients = [{"phone": gil, "name": "{{phone}}", "fields": {"cidade": "Recife", "cupom": "GIL10"}},
                  {"phone": hugo, "fields": {"cidade": "  "}}]  # fmt: skip
    made = created(loop, "Olá {{name}}, ofertas em {{cidade|sua cidade}}. Cupom: {{fields.cupom|BEMVINDO}}!",
                   recipients)  # fmt: skip
    settled(loop, made["id"], sent=2)
    by_number = {s["number"]: s["text"] for s in _sent_to(loop, [gil, hugo])}
    assert by_number == {gil: "Olá {{phone}}, ofertas em Recife. Cupom: GIL10!",
                         hugo: "Olá, ofertas em sua cidade. Cupom: BEMVINDO!"}  # fmt: skip


def _lead_id(loop: Loop, number: str) -> str:
    def find() -> str | None:
        found: str | None = loop.tenant.api("/leads", phone=f"+{number}").json().get("id")
        return found

    return wait_until(find, what=f"the lead +{number}")


def test_a_filter_reaches_the_tagged_leads_who_did_not_opt_out(loop: Loop) -> None:
    vip, other, gone = loop.new_number(), loop.new_number(), loop.new_number()
    for number in (vip, other, gone):
        loop.customer_says(number, "oi")
    leads = {n: _lead_id(loop, n) for n in (vip, other, gone)}
    tag = f"vip-{vip[-4:]}"
    for number in (vip, gone):
        answer = loop.operator("PATCH", f"/leads/{leads[number]}", json={"tags": [tag], "name": f"Lead {number[-4:]}"})
        assert answer.status_code == 200, answer.text
    assert loop.operator("POST", f"/leads/{leads[gone]}/opt-out").status_code == 200
    made = created(
        loop, "{{first_name}}: só para clientes VIP", filter={"tags_any": [tag.upper()], "has_replied": True}
    )
    assert made["audience"] == "filter" and made["total"] is None  # resolved when it starts
    done = settled(loop, made["id"], sent=1)
    assert done["total"] == 2 and done["counters"]["skipped_by_reason"] == {"opted_out": 1}
    assert [s["text"] for s in _sent_to(loop, [vip, other, gone])] == ["Lead: só para clientes VIP"]


def test_progress_is_published_live_and_listed(loop: Loop) -> None:
    ivo = loop.new_number()

    async def scenario() -> Publication:
        async with LiveInbox(loop.app.url, loop.tenant.api_key) as inbox:
            made = await asyncio.to_thread(created, loop, "Oi {{name|}}!", [{"phone": ivo}])

            def completed(channel: str, data: Publication) -> bool:
                shown = data.get("campaign") or {}
                return data.get("type") == "campaign.progress" and shown.get("id") == made["id"] and \
                    shown.get("status") == "completed"  # fmt: skip

            _, data = await inbox.expect(completed, wait=30)
            return data

    data = asyncio.run(scenario())
    shown = data["campaign"]
    assert shown["counters"]["sent"] == 1 and shown["total"] == 1
    listed = loop.operator("GET", "/campaigns", params={"limit": 200}).json()["items"]
    assert shown["id"] in [c["id"] for c in listed]
    assert [s["text"] for s in _sent_to(loop, [ivo])] == ["Oi!"]


def test_a_completed_campaign_cannot_be_paused_or_cancelled(loop: Loop) -> None:
    made = created(loop, "Oi", [{"phone": loop.new_number()}])
    settled(loop, made["id"], sent=1)
    for action in ("pause", "cancel"):
        answer = loop.operator("POST", f"/campaigns/{made['id']}/{action}")
        assert answer.status_code == 409 and answer.json()["error_type"] == "conflict", answer.text
    assert loop.operator("GET", "/campaigns/camp_000000000000").status_code == 404
    assert loop.operator("GET", "/campaigns/not-an-id").status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"template": "Oi {{nome completo}}"}, 400, "{{nome completo}}"),
        ({"template": "Oi {{__class__}}"}, 400, "{{__class__}}"),
        ({"template": "Oi {{name.__class__}}"}, 400, "{{name.__class__}}"),
        ({"template": "Oi {% if x %}"}, 400, "'{%'"),
        ({"template": "Oi {{name}"}, 400, "'{{'"),
        ({"template": "   "}, 400, "template"),
        ({"window": {"from": "25:00", "to": "20:00"}}, 400, "window.from"),
        ({"window": {"from": "09:00", "to": "09:00"}}, 400, "from and to must differ"),
        ({"start_at": "amanhã"}, 400, "start_at"),
        ({"start_at": "2999-01-01T09:00"}, 400, "start_at"),
        ({"recipients": [{"phone": "5511999990001"}] * 10_001}, 413, "recipients"),
        ({"recipients": []}, 400, "recipients"),
        ({"filter": {"tags_any": ["x"]}}, 400, "not both"),
        ({"recipients": None}, 400, "audience"),
        ({"filter": {"tags": ["x"]}, "recipients": None}, 400, "filter.tags"),
        ({"instance_id": "inst_0000000000"}, 404, "inst_0000000000"),
        ({"media": {"url": "ftp://example.com/a.jpg"}}, 400, "media.url"),
    ],
)
def test_bad_campaigns_are_refused_with_their_reason(loop: Loop, body: dict[str, Any], status: int, says: str) -> None:
    request = {"name": "x", "instance_id": loop.tenant.instance_id, "template": "Oi {{name}}",
               "recipients": [{"phone": "5511999990001"}], **body}  # fmt: skip
    request = {k: v for k, v in request.items() if v is not None}

    def ids() -> list[str]:
        return [c["id"] for c in loop.operator("GET", "/campaigns", params={"limit": 200}).json()["items"]]

    before = ids()
    answer = loop.operator("POST", "/campaigns", content=json.dumps(request))
    assert answer.status_code == status, answer.text
    assert says in answer.json()["error"], answer.text
    assert ids() == before  # nothing stored


def test_an_agent_key_may_not_run_campaigns(loop: Loop) -> None:
    issued = loop.operator("POST", "/keys", json={"role": "agent", "name": "agent"}).json()["api_key"]
    answer = httpx.get(f"{loop.app.url}/api/v1/campaigns", headers={"Authorization": f"Bearer {issued}"}, timeout=10)
    assert answer.status_code == 403 and answer.json()["required_role"] == "owner"

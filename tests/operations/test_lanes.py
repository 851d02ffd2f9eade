"""Send lanes paused and resumed through the operator API, against the session sandbox: a reply on a
paused lane is stored pending and never reaches UAZAPI however far QStash's clock moves; resumed, it
is sent exactly once — whether QStash knew the lane's flow-control key when it was paused or not."""

from __future__ import annotations

import json
from typing import Any

from tests.conversation_loop import Loop
from tests.support import AppProcess, wait_until


def lane(loop: Loop, name: str) -> dict[str, Any]:
    response = loop.operator("GET", "/lanes")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = next(row for row in response.json()["lanes"] if row["lane"] == name)
    return found


def act(loop: Loop, path: str) -> dict[str, Any]:
    response = loop.operator("POST", path)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def status_of(loop: Loop, conversation_id: str, message_id: str) -> str:
    status: str = next(m for m in loop.messages(conversation_id) if m["id"] == message_id)["status"]
    return status


def held_then_sent_once(loop: Loop, number: str, conversation_id: str, text: str) -> None:
    """A reply on the paused realtime lane waits (past any retry), then, resumed, is sent once."""
    message = loop.reply(conversation_id, text)
    wait_until(lambda: lane(loop, "realtime")["instances"][0]["qstash_paused"], timeout=20, what="QStash's pause")
    loop.advance(600)  # past every retry QStash would make of a 503
    wait_until(lambda: lane(loop, "realtime")["backlog"] == 1, timeout=20, what="the reply in QStash's waitlist")
    assert [s for s in loop.sent(number) if s.get("text") == text] == []
    assert status_of(loop, conversation_id, message["id"]) == "pending"
    resumed = act(loop, "/lanes/realtime/resume")
    assert resumed["lanes"][0]["changed"] is True and resumed["lanes"][0]["instances"][0]["qstash"] == "resumed"
    wait_until(lambda: [s for s in loop.sent(number) if s.get("text") == text], timeout=20, what="the held reply")
    wait_until(lambda: status_of(loop, conversation_id, message["id"]) != "pending", timeout=20, what="sent")
    loop.advance(600)
    assert len([s for s in loop.sent(number) if s.get("text") == text]) == 1
    assert lane(loop, "realtime")["state"] == "running"


def test_a_lane_known_to_qstash_holds_a_reply_until_resumed(logged_app: AppProcess, sandbox: dict[str, str]) -> None:
    loop = Loop(logged_app, sandbox)
    number = loop.new_number()
    loop.customer_says(number, "oi")
    conversation = loop.conversation_of(number)
    loop.reply(conversation["id"], "primeira")  # QStash now knows send:realtime:<instance>
    wait_until(lambda: loop.sent(number), timeout=20, what="the first reply")

    paused = act(loop, "/lanes/realtime/pause")
    row = paused["lanes"][0]
    assert row["lane"] == "realtime" and row["paused"] is True and row["changed"] is True
    assert row["instances"] == [{"instance_id": loop.tenant.instance_id, "name": "main", "changed": True,
                                 "qstash": "paused"}]  # fmt: skip
    again = act(loop, "/lanes/realtime/pause")  # idempotent: the first pauser and time are kept
    assert again["lanes"][0]["changed"] is False
    state = lane(loop, "realtime")
    assert state["state"] == "paused" and state["instances"][0]["qstash_paused"] is True
    assert state["instances"][0]["paused_by"].startswith(f"zk_{loop.tenant.org_id}_")
    assert lane(loop, "bulk")["state"] == "running"

    held_then_sent_once(loop, number, conversation["id"], "segurada")

    logs = [json.loads(line) for line in logged_app.logs().splitlines() if line.startswith("{")]
    acts = [r for r in logs if r.get("event") in ("lane paused", "lane resumed") and r.get("org") == loop.tenant.org_id]
    assert [(r["event"], r["changed"]) for r in acts] == [("lane paused", True), ("lane paused", False),
                                                          ("lane resumed", True)]  # fmt: skip
    assert all(r["key_prefix"].startswith(f"zk_{loop.tenant.org_id}_") for r in acts)
    assert loop.tenant.api_key not in logged_app.logs()


def test_a_lane_paused_before_qstash_knew_it_is_held_by_the_send_job(
    logged_app: AppProcess, sandbox: dict[str, str]
) -> None:
    loop = Loop(logged_app, sandbox)
    paused = act(loop, "/lanes/pause")  # every lane; no message used any of them yet
    assert [r["lane"] for r in paused["lanes"]] == ["realtime", "automation", "bulk"]
    assert {r["instances"][0]["qstash"] for r in paused["lanes"]} == {"no messages yet"}
    number = loop.new_number()
    loop.customer_says(number, "oi")
    conversation = loop.conversation_of(number)
    # the first delivery reaches the job, which leaves it pending and pauses the key in QStash
    held_then_sent_once(loop, number, conversation["id"], "antes da chave")
    assert lane(loop, "bulk")["state"] == "paused"
    act(loop, "/lanes/resume")
    assert {lane(loop, name)["state"] for name in ("realtime", "automation", "bulk")} == {"running"}


def test_unknown_lanes_and_agent_keys_are_refused(logged_app: AppProcess, sandbox: dict[str, str]) -> None:
    loop = Loop(logged_app, sandbox)
    unknown = loop.operator("POST", "/lanes/express/pause")
    assert unknown.status_code == 404 and "realtime, automation, bulk" in unknown.json()["error"]
    agent = loop.operator("POST", "/keys", json={"role": "agent"}).json()["api_key"]
    refused = loop.operator("POST", "/lanes/pause", headers={"Authorization": f"Bearer {agent}"})
    assert refused.status_code == 403 and refused.json()["required_role"] == "owner"
    assert lane(loop, "realtime")["state"] == "running"

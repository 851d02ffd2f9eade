"""Roles over real HTTP: an agent key reads and replies, an owner key does everything, and an agent
on an owner call gets 403 ``forbidden`` naming the role it needs."""

from __future__ import annotations

import json

import pytest

from tests.conversation_loop import Loop
from tests.roles.keys import call, create_key

OWNER_ONLY = [
    ("POST", "/dead-letters/qstash-dlq-1/retry", None),
    ("POST", "/dead-letters/retry", {"job": "send"}),
    ("DELETE", "/dead-letters/qstash-dlq-1", None),
    ("POST", "/dead-letters/clean", {"older_than_days": 30}),
    ("PUT", "/followups", {"steps": [{"after_seconds": 3600, "text": "Oi {name}!"}]}),
    ("POST", "/leads/lead_000000000000/opt-out", None),
    ("GET", "/keys", None),
    ("POST", "/keys", {"role": "agent"}),
    ("POST", "/keys/key_0000000000/rotate", None),
    ("DELETE", "/keys/key_0000000000", None),
    ("GET", "/metrics", None),
    ("GET", "/health/queues", None),
]


@pytest.fixture(scope="module")
def agent(loop: Loop) -> str:
    key: str = create_key(loop.app.url, loop.tenant.api_key, "agent", "front desk")["api_key"]
    return key


@pytest.fixture(scope="module")
def conversation(loop: Loop) -> dict[str, object]:
    number = loop.new_number()
    loop.customer_says(number, "oi, preciso de ajuda")
    return loop.conversation_of(number)


@pytest.mark.parametrize(("method", "path", "body"), OWNER_ONLY, ids=[f"{m} {p}" for m, p, _ in OWNER_ONLY])
def test_an_agent_key_is_forbidden_owner_calls(
    loop: Loop, agent: str, method: str, path: str, body: dict[str, object] | None
) -> None:
    response = call(loop.app.url, agent, method, path, json=body)
    assert response.status_code == 403, response.text
    answer = response.json()
    assert answer["status"] == "error" and answer["error_type"] == "forbidden"
    assert answer["required_role"] == "owner" and "owner key" in answer["error"] and "agent key" in answer["error"]
    assert agent not in response.text


def test_an_agent_key_reads_replies_closes_and_follows_live(
    loop: Loop, agent: str, conversation: dict[str, object]
) -> None:
    conv = f"/conversations/{conversation['id']}"
    reads = ["/conversations", conv, f"{conv}/messages", f"/leads/{conversation['lead_id']}", "/followups",
             "/stats/daily", "/dead-letters"]  # fmt: skip
    for path in reads:
        response = call(loop.app.url, agent, "GET", path)
        assert response.status_code == 200, (path, response.text)
    reply = call(loop.app.url, agent, "POST", f"{conv}/messages", json={"text": "Olá! Como posso ajudar?"})
    assert reply.status_code == 200, reply.text
    assert call(loop.app.url, agent, "POST", "/realtime/token").status_code == 200
    subscription = call(
        loop.app.url, agent, "POST", "/realtime/subscription", json={"conversation_id": conversation["id"]}
    )
    assert subscription.status_code == 200, subscription.text
    closed = call(loop.app.url, agent, "POST", f"{conv}/close")
    assert closed.status_code == 200 and closed.json()["conversation"]["status"] in ("closed", "awaiting_nps")


def test_an_owner_key_does_everything(loop: Loop) -> None:
    owner = loop.tenant.api_key
    steps = {"steps": [{"after_seconds": 3600, "text": "Oi {name}!"}]}
    assert call(loop.app.url, owner, "PUT", "/followups", json=steps).json()["steps"][0]["after_seconds"] == 3600
    assert call(loop.app.url, owner, "PUT", "/followups", json={"steps": []}).status_code == 200
    cleaned = call(loop.app.url, owner, "POST", "/dead-letters/clean", json={"older_than_days": 3650})
    assert cleaned.status_code == 200 and cleaned.json()["deleted"] == 0
    assert call(loop.app.url, owner, "POST", "/dead-letters/retry", json={"job": "send"}).status_code == 200
    assert call(loop.app.url, owner, "POST", "/dead-letters/qstash-dlq-1/retry").status_code == 404  # not 403
    assert call(loop.app.url, owner, "GET", "/keys").status_code == 200
    assert call(loop.app.url, owner, "GET", "/metrics").status_code == 200
    assert call(loop.app.url, owner, "GET", "/health/queues").status_code == 200
    assert call(loop.app.url, owner, "GET", "/conversations").status_code == 200


def test_a_key_of_no_role_or_another_organisation_is_refused(loop: Loop, agent: str) -> None:
    forged = agent[: agent.rindex("_") + 1] + "x" * 32  # the agent key's ids, a secret of our own
    assert call(loop.app.url, forged, "GET", "/conversations").status_code == 401
    other_org = agent.replace(loop.tenant.org_id, "org_0000000000")
    assert call(loop.app.url, other_org, "GET", "/conversations").status_code == 401


def test_forbidden_calls_are_logged_with_the_key_prefix_never_the_key(loop: Loop, agent: str) -> None:
    call(loop.app.url, agent, "GET", "/metrics")
    logs = loop.app.logs()
    assert agent not in logs and loop.tenant.api_key not in logs
    refused = [r for r in map(json.loads, logs.splitlines()) if r.get("error_type") == "forbidden"]
    assert refused and all(r["key_prefix"].endswith("…") and agent.startswith(r["key_prefix"][:-1]) for r in refused)

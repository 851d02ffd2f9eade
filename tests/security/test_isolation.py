"""Two organisations on one deployment: A's API key on B's conversations, leads, messages and
cursors reads nothing and writes nothing; A's live token cannot subscribe to B's channels."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from centrifuge import Client
from starlette.routing import Route

from tests.sandbox.centrifugo_helpers import Recorder, disconnect
from tests.security.helpers import Stack, assert_error, org_pattern
from tests.support import Tenant, deliver
from zapline.admin.api import routes as operator_routes
from zapline.sandbox.uazapi.payloads import Uazapi, body

SHARED_PHONE = "5511977770100"  # a customer who writes to both organisations


@dataclass
class Org:
    tenant: Tenant
    conversations: list[str] = field(default_factory=list)
    leads: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    conversation_cursor: str = ""
    message_cursor: str = ""
    dead_letter: str = ""
    key_id: str = ""
    campaign: str = ""


def call(org: Org, method: str, path: str, **kwargs: Any) -> httpx.Response:
    t = org.tenant
    headers = {"Authorization": f"Bearer {t.api_key}", **kwargs.pop("headers", {})}
    return httpx.request(method, f"{t.env['APP_URL']}/api/v1{path}", headers=headers, timeout=30, **kwargs)


def seed(stack: Stack, tenant: Tenant, contacts: list[str]) -> Org:
    """Each contact writes three messages (signed deliveries, stored before the answer)."""
    key = stack.sandbox["QSTASH_CURRENT_SIGNING_KEY"]
    uazapi = Uazapi(token=tenant.token)
    for contact in contacts:
        for n in range(3):
            raw = body(uazapi.text(f"{tenant.org_id} says {n}", contact=contact))
            stored = deliver(stack.app.url, tenant.inbound_path, raw, key=key)
            assert stored.status_code == 200 and stored.json()["outcome"] == "stored", stored.text
    org = Org(tenant)
    listing = call(org, "GET", "/conversations").json()
    org.conversations = [c["id"] for c in listing["items"]]
    org.leads = [c["lead_id"] for c in listing["items"]]
    for conv in org.conversations:
        org.messages += [m["id"] for m in call(org, "GET", f"/conversations/{conv}/messages").json()["items"]]
    if len(contacts) > 1:
        org.conversation_cursor = call(org, "GET", "/conversations", params={"limit": 1}).json()["next_cursor"]
    page = call(org, "GET", f"/conversations/{org.conversations[0]}/messages", params={"limit": 1}).json()
    org.message_cursor = page["next_cursor"]
    assert org.message_cursor and (len(contacts) == 1 or org.conversation_cursor)
    return org


@pytest.fixture(scope="module")
def orgs(stack: Stack) -> tuple[Org, Org]:
    a = seed(stack, stack.tenant("A"), ["5511977770001", SHARED_PHONE])
    b = seed(stack, stack.tenant("B"), ["5511977770201", "5511977770202", SHARED_PHONE])
    # B's own settings and a dead letter, so that A has something of B's to (not) see
    steps = {"steps": [{"after_seconds": 7200, "text": "B's follow-up"}]}
    assert call(b, "PUT", "/followups", json=steps).status_code == 200
    callback = {"status": 489, "sourceMessageId": "msg_b_dead", "dlqId": "dlq_b_dead", "sourceBody": "",
                "url": f"{stack.app.url}{b.tenant.inbound_path}"}  # fmt: skip
    key = stack.sandbox["QSTASH_CURRENT_SIGNING_KEY"]
    recorded = deliver(stack.app.url, "/api/failures/qstash", json.dumps(callback).encode(), key=key)
    assert recorded.status_code == 200 and recorded.json()["outcome"] == "recorded", recorded.text
    b.dead_letter = "dlq_b_dead"
    b.key_id = call(b, "GET", "/keys").json()["keys"][0]["id"]
    later = (datetime.now(ZoneInfo("America/Sao_Paulo")) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    campaign = {"name": "B's", "instance_id": b.tenant.instance_id, "template": "B's offer", "start_at": later,
                "recipients": [{"phone": "+5511977770201"}]}  # fmt: skip
    b.campaign = call(b, "POST", "/campaigns", json=campaign).json()["id"]  # scheduled: it runs after the tests
    return a, b


# Every operator route that takes an id, called with A's key and B's id (the route's template, so
# that a route added to admin/api.py without a row here fails test_every_operator_route_is_covered).
CROSS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("GET", "/api/v1/conversations/{conversation_id}", "/conversations/{conv}", {}),
    ("GET", "/api/v1/conversations/{conversation_id}/messages", "/conversations/{conv}/messages", {}),
    ("GET", "/api/v1/conversations/{conversation_id}/messages", "/conversations/{conv}/messages?cursor={mcur}", {}),
    ("POST", "/api/v1/conversations/{conversation_id}/messages", "/conversations/{conv}/messages",
     {"json": {"text": "from A"}}),
    ("POST", "/api/v1/conversations/{conversation_id}/messages", "/conversations/{conv}/messages",
     {"json": {"media_url": "https://cdn.example.com/a.jpg"}, "headers": {"Idempotency-Key": "k1"}}),
    ("POST", "/api/v1/conversations/{conversation_id}/close", "/conversations/{conv}/close", {}),
    ("GET", "/api/v1/leads/{lead_id}", "/leads/{lead}", {}),
    ("POST", "/api/v1/leads/{lead_id}/opt-out", "/leads/{lead}/opt-out", {}),
    ("PATCH", "/api/v1/leads/{lead_id}", "/leads/{lead}", {"json": {"name": "from A", "tags": ["a"]}}),
    ("GET", "/api/v1/leads", "/leads?phone=%2B5511977770201", {}),
    ("POST", "/api/v1/realtime/subscription", "/realtime/subscription", {"json": {"conversation_id": "{conv}"}}),
    ("GET", "/api/v1/conversations/{conversation_id}", "/conversations/{msg}", {}),  # a message id as an id
    ("GET", "/api/v1/leads/{lead_id}", "/leads/{conv}", {}),
    ("POST", "/api/v1/dead-letters/{dlq_id}/retry", "/dead-letters/{dlq}/retry", {}),
    ("DELETE", "/api/v1/dead-letters/{dlq_id}", "/dead-letters/{dlq}", {}),
    ("POST", "/api/v1/conversations/{conversation_id}/ai/pause", "/conversations/{conv}/ai/pause", {}),
    ("POST", "/api/v1/conversations/{conversation_id}/ai/resume", "/conversations/{conv}/ai/resume", {}),
    ("POST", "/api/v1/keys/{key_id}/rotate", "/keys/{key}/rotate", {}),
    ("DELETE", "/api/v1/keys/{key_id}", "/keys/{key}", {}),
    ("GET", "/api/v1/campaigns/{campaign_id}", "/campaigns/{camp}", {}),
    ("POST", "/api/v1/campaigns/{campaign_id}/pause", "/campaigns/{camp}/pause", {}),
    ("POST", "/api/v1/campaigns/{campaign_id}/resume", "/campaigns/{camp}/resume", {}),
    ("POST", "/api/v1/campaigns/{campaign_id}/cancel", "/campaigns/{camp}/cancel", {}),
    ("POST", "/api/v1/campaigns", "/campaigns",  # B's instance named in A's campaign
     {"json": {"name": "A's", "instance_id": "{inst}", "template": "Oi", "recipients": [{"phone": "5511977770001"}]}}),
]  # fmt: skip
# Routes that take no id: A's key reads A's own (checked one by one below).
OWN = {
    ("GET", "/api/v1/conversations"),
    ("GET", "/api/v1/followups"),
    ("PUT", "/api/v1/followups"),
    ("GET", "/api/v1/stats/daily"),
    ("GET", "/api/v1/dead-letters"),
    ("POST", "/api/v1/dead-letters/retry"),  # B's ids answer not_found one by one (below)
    ("POST", "/api/v1/dead-letters/clean"),  # cleans A's own only (below)
    ("POST", "/api/v1/realtime/token"),
    ("GET", "/api/v1/keys"),  # A's keys only (tests/roles)
    ("POST", "/api/v1/keys"),  # a key of A's
    ("GET", "/api/v1/metrics"),  # labelled with A's org (tests/roles)
    # the organisation's own lanes and stats: no id of another organisation can be named
    ("GET", "/api/v1/lanes"),
    ("POST", "/api/v1/lanes/pause"),
    ("POST", "/api/v1/lanes/resume"),
    ("POST", "/api/v1/lanes/{lane}/pause"),
    ("POST", "/api/v1/lanes/{lane}/resume"),
    ("GET", "/api/v1/stats"),
    ("GET", "/api/v1/campaigns"),  # A's campaigns only (below)
    ("POST", "/api/v1/campaigns"),  # with A's own instance; B's is not found (CROSS)
    # the organisation's view of the schedules: its own pause flags, its own jobs
    ("GET", "/api/v1/schedules"),
    ("POST", "/api/v1/schedules/{name}/pause"),
    ("POST", "/api/v1/schedules/{name}/resume"),
    ("POST", "/api/v1/schedules/{name}/run"),
    ("GET", "/api/v1/automations"),  # the organisation's own settings and pause flags
    ("PUT", "/api/v1/automations"),
    # the organisation's own retention period and last run
    ("GET", "/api/v1/retention"),
    ("PUT", "/api/v1/retention"),
    # the organisation's AI: its settings, its knowledge (an entry id is a field of the organisation's
    # own hash; another organisation's id is not found: tests/ai/test_knowledge.py), its owner's messages
    ("GET", "/api/v1/ai"),
    ("PUT", "/api/v1/ai"),
    ("GET", "/api/v1/ai/knowledge"),
    ("POST", "/api/v1/ai/knowledge/{entry_id}/approve"),
    ("POST", "/api/v1/ai/knowledge/{entry_id}/reject"),
    ("GET", "/api/v1/owner/messages"),
}
# No organisation key at all: the public schema, and the deployment's schedules (the admin token).
PUBLIC = {("GET", "/api/v1/openapi.json")}
ADMIN = {
    ("GET", "/api/v1/admin/schedules"),
    ("POST", "/api/v1/admin/schedules/sync"),
    ("POST", "/api/v1/admin/schedules/{name}/pause"),
    ("POST", "/api/v1/admin/schedules/{name}/resume"),
    ("POST", "/api/v1/admin/schedules/{name}/run"),
}


def fill(value: Any, b: Org, index: int) -> Any:
    if isinstance(value, str):
        return value.format(conv=b.conversations[index], lead=b.leads[index], msg=b.messages[index],
                            mcur=b.message_cursor, dlq=b.dead_letter, key=b.key_id, camp=b.campaign,
                            inst=b.tenant.instance_id)  # fmt: skip
    if isinstance(value, dict):
        return {k: fill(v, b, index) for k, v in value.items()}
    return value


def test_every_operator_route_is_covered() -> None:
    declared = {(m, r.path) for r in operator_routes if isinstance(r, Route) for m in (r.methods or set()) - {"HEAD"}}
    covered = {(m, p) for m, p, _, _ in CROSS} | OWN | PUBLIC | ADMIN
    assert declared == covered


@pytest.mark.parametrize("index", [0, 2])  # one of B's own contacts, and the customer both share
@pytest.mark.parametrize(("method", "route", "path", "kwargs"), CROSS, ids=[f"{c[0]} {c[2]}" for c in CROSS])
def test_a_key_on_b_resources_is_404_and_writes_nothing(
    stack: Stack, orgs: tuple[Org, Org], method: str, route: str, path: str, kwargs: dict[str, Any], index: int
) -> None:
    a, b = orgs
    before = stack.digest()
    answer = call(a, method, fill(path, b, index), **fill(kwargs, b, index))
    assert_error(answer, 404, "not_found")
    assert stack.digest() == before, "a cross-tenant call changed Redis"
    for secret_id in (b.conversations[index], b.leads[index], b.tenant.org_id):
        assert secret_id not in answer.text or secret_id in fill(path, b, index) + json.dumps(fill(kwargs, b, index))


def test_b_cursors_on_a_listings_show_only_a(stack: Stack, orgs: tuple[Org, Org]) -> None:
    a, b = orgs
    before = stack.digest()
    listing = call(a, "GET", "/conversations", params={"cursor": b.conversation_cursor})
    assert listing.status_code in (200, 400), listing.text
    if listing.status_code == 200:
        assert {c["id"] for c in listing.json()["items"]} <= set(a.conversations)
    messages = call(a, "GET", f"/conversations/{a.conversations[0]}/messages", params={"cursor": b.message_cursor})
    assert messages.status_code in (200, 400), messages.text
    if messages.status_code == 200:
        assert {m["id"] for m in messages.json()["items"]} <= set(a.messages)
        assert b.tenant.org_id not in messages.text
    assert stack.digest() == before


def test_a_listings_and_reads_hold_only_a(orgs: tuple[Org, Org]) -> None:
    a, b = orgs
    conversations = call(a, "GET", "/conversations").json()
    assert sorted(c["id"] for c in conversations["items"]) == sorted(a.conversations)
    assert b.tenant.org_id not in json.dumps(conversations)
    shared = call(a, "GET", "/leads", params={"phone": f"+{SHARED_PHONE}"}).json()
    assert shared["id"] in a.leads and shared["id"] != b.leads[2]
    letters = call(a, "GET", "/dead-letters").json()["items"]
    assert all(d["dlq_id"] != b.dead_letter for d in letters)
    assert call(a, "GET", "/followups").json()["steps"] != [{"after_seconds": 7200, "text": "B's follow-up"}]
    today = datetime.now(ZoneInfo("America/Sao_Paulo")).date()  # the seeding may have been before midnight
    span = {"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()}
    totals = call(a, "GET", "/stats", params=span).json()["totals"]
    assert totals.get("inbound") == 3 * len(a.conversations), totals  # B's nine messages are not A's
    assert b.campaign and b.campaign not in json.dumps(call(a, "GET", "/campaigns").json())


def test_a_writes_to_its_own_settings_leave_b_unchanged(stack: Stack, orgs: tuple[Org, Org]) -> None:
    a, b = orgs
    before = stack.digest(org_pattern(b.tenant.org_id))
    steps = {"steps": [{"after_seconds": 60, "text": "A's follow-up"}]}
    assert call(a, "PUT", "/followups", json=steps).json()["steps"] == steps["steps"]
    assert call(b, "GET", "/followups").json()["steps"] == [{"after_seconds": 7200, "text": "B's follow-up"}]
    assert stack.digest(org_pattern(b.tenant.org_id)) == before


def test_a_realtime_token_is_for_a_inbox_only(orgs: tuple[Org, Org]) -> None:
    a, b = orgs
    grant = call(a, "POST", "/realtime/token").json()
    assert grant["channels"] == [f"inbox:{a.tenant.org_id}"]
    own = call(a, "POST", "/realtime/subscription", json={"conversation_id": a.conversations[0]}).json()
    forbidden = [f"inbox:{b.tenant.org_id}", *(f"conversation:{b.tenant.org_id}:{c}" for c in b.conversations)]

    async def scenario() -> None:
        events = Recorder()
        client = Client(grant["url"], events=events, token=grant["token"], proxy=None)
        try:
            await client.connect()
            await client.ready(timeout=10)
            server_side = await events.expect("subscribed")
            assert server_side.channel == f"inbox:{a.tenant.org_id}"
            for channel in forbidden:
                for token in ("", own["token"]):  # no token, and A's own subscription token
                    refused_events = Recorder()
                    sub = client.new_subscription(channel, events=refused_events, token=token)
                    await sub.subscribe()
                    refused = await refused_events.expect("unsubscribed")
                    assert refused.code in (103, 105, 109), (channel, refused.code)  # permission denied
                    assert "subscribed" not in refused_events.seen
                    client.remove_subscription(sub)
            allowed_events = Recorder()
            allowed = client.new_subscription(own["channel"], events=allowed_events, token=own["token"])
            await allowed.subscribe()
            await allowed_events.expect("subscribed")  # the control: A's own conversation is fine
        finally:
            await disconnect(client)

    asyncio.run(scenario())


def test_bulk_retry_and_clean_never_reach_another_organisations_dead_letters(
    stack: Stack, orgs: tuple[Org, Org]
) -> None:
    a, b = orgs
    before = stack.digest()
    retried = call(a, "POST", "/dead-letters/retry", json={"dlq_ids": [b.dead_letter]})
    assert retried.status_code == 200, retried.text
    assert [(r["outcome"], r["error_type"]) for r in retried.json()["results"]] == [("error", "not_found")]
    assert stack.digest() == before
    cleaned = call(a, "POST", "/dead-letters/clean", json={"older_than_days": 0})
    assert cleaned.status_code == 200, cleaned.text
    assert b.dead_letter not in json.dumps(cleaned.json())
    assert any(d["dlq_id"] == b.dead_letter for d in call(b, "GET", "/dead-letters").json()["items"])


def test_an_organisation_key_never_reaches_the_deployments_schedules(orgs: tuple[Org, Org]) -> None:
    a, _ = orgs
    for method, path in sorted(ADMIN):
        answer = call(a, method, path.removeprefix("/api/v1").replace("{name}", "sweeper"))
        assert answer.status_code == 403, (path, answer.text)

"""PATCH /api/v1/leads/{lead_id} over HTTP: an agent key edits a lead the webhook created."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support import Tenant, wait_until
from zapline.sandbox.uazapi.payloads import Uazapi, body


def patch(tenant: Tenant, lead_id: str, payload: Any, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key or tenant.api_key}"}
    url = f"{tenant.env['APP_URL']}/api/v1/leads/{lead_id}"
    return httpx.patch(url, json=payload, headers=headers, timeout=30)


def test_an_agent_edits_a_lead_and_the_edit_is_kept(tenant: Tenant) -> None:
    raw = body(Uazapi(token=tenant.token).text("oi", contact="5511977773001", name="Ana WhatsApp"))
    accepted = httpx.post(tenant.webhook_url, content=raw, headers={"Content-Type": "application/json"}, timeout=30)
    assert accepted.status_code == 200, accepted.text
    lead = wait_until(lambda: tenant.api("/leads", phone="+5511977773001").json().get("id"), what="the lead")
    created = httpx.post(f"{tenant.env['APP_URL']}/api/v1/keys", json={"role": "agent", "name": "desk"},
                         headers={"Authorization": f"Bearer {tenant.api_key}"}, timeout=30)  # fmt: skip
    agent = created.json()["api_key"]

    answer = patch(tenant, lead, {"name": "Ana Souza", "birthday": "1990-05-14", "fields": {"plan": "gold"}}, agent)
    assert answer.status_code == 200, answer.text
    edited = answer.json()
    assert (edited["name"], edited["birthday"], edited["fields"]) == ("Ana Souza", "1990-05-14", {"plan": "gold"})
    assert sorted(edited["edited"]) == ["birthday", "fields.plan", "name"]
    assert tenant.api(f"/leads/{lead}").json() == edited

    bad = patch(tenant, lead, {"birthday": "1990-02-30"})
    assert bad.status_code == 400 and "birthday" in bad.json()["error"]
    assert patch(tenant, lead, {"opted_out": False}).status_code == 400  # not a field an operator sets
    assert patch(tenant, lead, {"name": "x" * 101}).status_code == 413
    assert patch(tenant, "lead_000000000000", {"name": "x"}).json()["error_type"] == "not_found"
    assert tenant.api(f"/leads/{lead}").json() == edited  # the refused ones changed nothing


def test_a_new_whatsapp_name_does_not_replace_the_operators(tenant: Tenant) -> None:
    uazapi = Uazapi(token=tenant.token)
    post = {"headers": {"Content-Type": "application/json"}, "timeout": 30}
    assert httpx.post(tenant.webhook_url, content=body(uazapi.text("oi", contact="5511977773002", name="Bia")),
                      **post).status_code == 200  # type: ignore[arg-type]  # fmt: skip
    lead = wait_until(lambda: tenant.api("/leads", phone="+5511977773002").json().get("id"), what="the lead")
    assert patch(tenant, lead, {"name": "Beatriz Lima"}).status_code == 200
    renamed = body(uazapi.text("de novo", contact="5511977773002", name="Bia 🌸"))
    assert httpx.post(tenant.webhook_url, content=renamed, **post).status_code == 200  # type: ignore[arg-type]

    def conversation_title() -> str | None:
        items = tenant.api("/conversations").json()["items"]
        title: str | None = next((c["title"] for c in items if c["lead_id"] == lead and c["message_count"] == 2), None)
        return title

    assert wait_until(conversation_title, what="the second message stored") == "Bia 🌸"  # the chat shows WhatsApp's
    assert tenant.api(f"/leads/{lead}").json()["name"] == "Beatriz Lima"  # the lead keeps the operator's

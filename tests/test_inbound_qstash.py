"""UAZAPI → sandbox QStash → inbound function → Redis → a live subscriber, as deployed.

Webhooks are POSTed to the instance's ``webhook_url`` exactly as UAZAPI would (QStash token in the
query), or to the ``ingress_url`` relay; nothing here signs anything itself.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.live import LiveInbox
from tests.sandbox.qstash_helpers import client as qstash_client
from tests.support import AppProcess, Tenant, wait_until
from zapline.sandbox.redis_server import free_port
from zapline.sandbox.uazapi.payloads import Uazapi, body, wa_id
from zapline.store.registry import redact_path

_contacts = itertools.count(5511955550001)


def as_uazapi(url: str, payload: dict[str, Any] | bytes) -> httpx.Response:
    raw = payload if isinstance(payload, bytes) else body(payload)
    return httpx.post(url, content=raw, headers={"Content-Type": "application/json"}, timeout=30)


def stored_texts(tenant: Tenant, phone: str) -> list[str]:
    lead = tenant.api("/leads", phone=phone)
    if lead.status_code != 200:
        return []
    convs = [
        c["id"] for c in tenant.api("/conversations", limit="200").json()["items"] if c["lead_id"] == lead.json()["id"]
    ]
    return [m["text"] for c in convs for m in tenant.api(f"/conversations/{c}/messages").json()["items"]]


def test_a_webhook_through_qstash_is_stored_and_shown_live(app: AppProcess, tenant: Tenant) -> None:
    contact, mid = str(next(_contacts)), wa_id()
    payload = Uazapi(token=tenant.token).text("pela fila 📬", contact=contact, message_id=mid)

    async def scenario() -> dict[str, Any]:
        async with LiveInbox(app.url, tenant.api_key) as inbox:
            accepted = await asyncio.to_thread(as_uazapi, tenant.webhook_url, payload)
            assert accepted.status_code in (200, 201) and accepted.json()["messageId"]
            _, data = await inbox.expect(lambda ch, d: d.get("message", {}).get("wa_id") == mid)
            return data

    data = asyncio.run(scenario())
    assert data["type"] == "message.created" and data["message"]["text"] == "pela fila 📬"
    assert stored_texts(tenant, f"+{contact}") == ["pela fila 📬"]


def test_the_same_webhook_five_times_through_qstash_is_stored_once(tenant: Tenant) -> None:
    contact = str(next(_contacts))
    payload = Uazapi(token=tenant.token).text("cinco vezes", contact=contact)
    for _ in range(5):
        assert as_uazapi(tenant.webhook_url, payload).status_code in (200, 201)
    url = f"{tenant.env['APP_URL']}{tenant.inbound_path}"

    def delivered() -> int:
        events = httpx.get(
            f"{tenant.env['QSTASH_URL']}/v2/events",
            params={"state": "DELIVERED", "url": url, "count": 1000},
            headers={"Authorization": f"Bearer {tenant.env['QSTASH_TOKEN']}"},
        ).json()["events"]
        return len({e["messageId"] for e in events})

    wait_until(lambda: delivered() >= 5, what="the five deliveries")
    assert stored_texts(tenant, f"+{contact}") == ["cinco vezes"]


@pytest.mark.parametrize(
    ("payload", "error_type"),
    [
        (b'{"EventType": "messages", "token": "x", "owner": "5511999990000"}', "invalid_payload"),
        (b"<xml>not json</xml>", "invalid_payload"),
        ("oversized", "payload_too_large"),
    ],
)
def test_malformed_and_oversized_payloads_go_to_the_dlq_with_a_reason(
    tenant: Tenant, sandbox: dict[str, str], payload: bytes | str, error_type: str
) -> None:
    raw = body(Uazapi(token=tenant.token).text("x" * 600_000)) if payload == "oversized" else payload
    assert isinstance(raw, bytes)
    accepted = as_uazapi(tenant.direct_url, raw)  # straight to QStash: the relay would refuse these itself
    assert accepted.status_code in (200, 201)
    message_id = accepted.json()["messageId"]
    qstash = qstash_client(sandbox)
    letter = wait_until(
        lambda: next(iter(qstash.dlq.list(filter={"message_id": message_id}).messages), None),
        what="the dead letter",
    )
    assert letter.response_status == 489  # refused at once: no retries were spent on it
    reason = json.loads(letter.response_body or "{}")
    assert reason["error_type"] == error_type and reason["error"]
    # QStash's failure callback reached the failures function: the organisation sees it too.
    recorded = wait_until(
        lambda: [d for d in tenant.api("/dead-letters").json()["items"] if d["qstash_message_id"] == message_id],
        what="the dead letter in the operator API",
    )
    assert recorded[0]["reason"].startswith(error_type)
    assert recorded[0]["path"] == redact_path(tenant.inbound_path)  # the instance key's secret is not kept


@pytest.fixture(scope="module")
def app_without_qstash(sandbox: dict[str, str]) -> Iterator[AppProcess]:
    """The functions configured with a QStash that refuses connections."""
    process = AppProcess({**sandbox, "QSTASH_URL": f"http://127.0.0.1:{free_port()}"}, free_port())
    process.start()
    yield process
    process.stop()


def test_the_ingress_relay(app: AppProcess, app_without_qstash: AppProcess, tenant: Tenant) -> None:
    uazapi = Uazapi(token=tenant.token)
    contact = str(next(_contacts))
    relayed = as_uazapi(tenant.ingress_url, uazapi.text("via relay", contact=contact))
    assert relayed.status_code == 200 and relayed.json()["messageId"]
    wait_until(lambda: stored_texts(tenant, f"+{contact}") == ["via relay"], what="the relayed message")

    org, inst, _ = tenant.instance_key.split(".")
    unknown = tenant.ingress_url.replace(tenant.instance_key, f"{org}.{inst}.{'B' * 32}")
    assert as_uazapi(unknown, uazapi.text("x")).status_code == 404
    assert as_uazapi(tenant.ingress_url, Uazapi(token="wrong").text("x")).status_code == 401
    assert as_uazapi(tenant.ingress_url, b"not json").status_code == 400

    # QStash unreachable: never a 2xx, so UAZAPI keeps the webhook and retries it.
    contact = str(next(_contacts))
    down = tenant.ingress_url.replace(app.url, app_without_qstash.url)
    response = as_uazapi(down, uazapi.text("perdida?", contact=contact))
    assert response.status_code == 503 and response.json()["error_type"] == "queue_unavailable"
    assert stored_texts(tenant, f"+{contact}") == []

"""The simulator wired to Zapline as in production: UAZAPI → sandbox QStash → inbound function.

The tenant's instance token is registered in the simulator and its webhook points at the tenant's
``webhook_url`` (the QStash publish URL), so customer messages, echoes and receipts travel the
whole way and come out of Zapline's read API. ``zapline simulate`` runs as a user runs it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.sandbox.uazapi_helpers import Instance, number
from tests.support import Tenant, wait_until, zapline_cli
from zapline.sandbox.uazapi.people import make_customers


@pytest.fixture(scope="module")
def uaz(tenant: Tenant, sandbox: dict[str, str]) -> Iterator[Instance]:
    with Instance(sandbox, token=tenant.token, name="main") as instance:
        [hook] = instance.webhook(tenant.webhook_url)
        assert hook["url"] == tenant.webhook_url
        yield instance


def _lead(tenant: Tenant, phone: str) -> Any:
    """The lead with this phone, or None while Zapline has not stored it."""
    response = tenant.api("/leads", phone=phone)
    return response.json() if response.status_code == 200 else None


def _messages(tenant: Tenant, lead_id: str) -> list[dict[str, Any]]:
    conversations = tenant.api("/conversations", limit="200").json()["items"]
    out: list[dict[str, Any]] = []
    for conversation in (c for c in conversations if c["lead_id"] == lead_id):
        out += tenant.api(f"/conversations/{conversation['id']}/messages", limit="200").json()["items"]
    return out


def test_a_customer_message_reaches_zapline_through_qstash(uaz: Instance, tenant: Tenant) -> None:
    customer = number()
    result = uaz.customer(customer, "text", name="Carla Dias", text="Oi! Quero um orçamento").json()
    assert result["status"] == 200 and result["webhooks"] == 1  # accepted by the sandbox QStash

    lead = wait_until(lambda: _lead(tenant, f"+{customer}"), timeout=15, what="the lead in Zapline")
    assert lead["name"] == "Carla Dias"
    [message] = wait_until(lambda: _messages(tenant, lead["id"]), timeout=15, what="the message in Zapline")
    assert (message["wa_id"], message["direction"], message["text"]) == (
        result["messageid"], "in", "Oi! Quero um orçamento",
    )  # fmt: skip


def test_a_send_comes_back_as_an_outbound_message_read_by_the_customer(uaz: Instance, tenant: Tenant) -> None:
    customer = number()
    uaz.customer(customer, "text", text="Vocês entregam hoje?")
    lead = wait_until(lambda: _lead(tenant, f"+{customer}"), timeout=15, what="the lead in Zapline")
    sent = uaz.send_text(customer, "Entregamos sim!", track_source="zapline", track_id="e2e-1").json()

    def ours() -> Any:
        found = [m for m in _messages(tenant, lead["id"]) if m["wa_id"] == sent["messageid"]]
        return found[0] if found and found[0]["status"] == "read" else None

    message = wait_until(ours, timeout=15, what="the echo, delivered and read in Zapline")
    assert (message["direction"], message["sent_by_api"], message["text"]) == ("out", True, "Entregamos sim!")


def test_zapline_simulate_writes_and_answers_what_was_sent(
    uaz: Instance, tenant: Tenant, sandbox: dict[str, str]
) -> None:
    seed = random.randrange(1_000_000)
    first, second, _ = make_customers(random.Random(seed), 3)  # the customers the run will use
    poll = uaz.call("POST", "/send/menu", {"number": first.phone, "type": "poll", "text": "Qual nota nos daria?",
                                           "choices": [str(i) for i in range(11)]})  # fmt: skip
    assert poll.status_code == 200, poll.text
    uaz.send_text(second.phone, "De 0 a 10, quanto você nos recomendaria? Responda com um número.")

    summary: Any = zapline_cli(
        tenant.env, "simulate", "--customers", "3", "--messages", "10", "--org", tenant.org_id,
        "--instance", "main", "--seed", str(seed), "--rate", "0",
    )  # fmt: skip
    assert (summary["messages"], summary["accepted"], summary["failures"]) == (10, 10, 0)
    assert (summary["votes"], summary["survey_answers"]) == (1, 1)
    customers: list[dict[str, Any]] = summary["customers"]
    assert len({c["phone"] for c in customers}) == 3 and all(c["messages"] >= 1 for c in customers)
    assert sum(c["messages"] for c in customers) == 10

    sent_by_customers = sum(c["messages"] for c in customers)
    assert uaz.stats()["customer_messages"] >= sent_by_customers
    for customer in customers:
        phone = customer["phone"]
        lead = wait_until(lambda: _lead(tenant, phone), timeout=15, what=f"lead {phone}")  # noqa: B023
        assert lead["name"] == customer["name"]
    voter = _lead(tenant, f"+{first.phone}")
    assert voter is not None

    def vote() -> Any:
        votes = [m for m in _messages(tenant, voter["id"]) if m["kind"] == "poll_vote"]
        return votes[0] if votes else None

    stored = wait_until(vote, timeout=15, what="the NPS vote in Zapline")
    assert stored["target"] == poll.json()["messageid"] and stored["vote"] in [str(i) for i in range(11)]


def test_simulate_explains_a_missing_instance(tenant: Tenant) -> None:
    with pytest.raises(AssertionError, match="no instance 'nope'"):
        zapline_cli(tenant.env, "simulate", "--customers", "1", "--messages", "1", "--org", tenant.org_id,
                    "--instance", "nope", "--rate", "0")  # fmt: skip
    assert httpx.get(f"{tenant.env['UAZAPI_URL']}/_sandbox/stats").status_code == 200

"""Shared by the campaign tests: an organisation wired to the UAZAPI simulator, and its campaigns."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conversation_loop import Loop
from tests.support import wait_until


def create(loop: Loop, template: str, recipients: list[dict[str, Any]] | None = None, **extra: Any) -> httpx.Response:
    body: dict[str, Any] = {"name": "Promo", "instance_id": loop.tenant.instance_id, "template": template, **extra}
    if recipients is not None:
        body["recipients"] = recipients
    return loop.operator("POST", "/campaigns", json=body)


def created(loop: Loop, template: str, recipients: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    answer = create(loop, template, recipients, **extra)
    assert answer.status_code == 200, answer.text
    campaign: dict[str, Any] = answer.json()
    return campaign


def campaign(loop: Loop, campaign_id: str) -> dict[str, Any]:
    answer = loop.operator("GET", f"/campaigns/{campaign_id}")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def settled(
    loop: Loop, campaign_id: str, *, status: str = "completed", timeout: float = 30, **counters: int
) -> dict[str, Any]:
    """The campaign once it has ``status`` and at least these counter values."""

    def check() -> dict[str, Any] | None:
        found = campaign(loop, campaign_id)
        ok = found["status"] == status and all(found["counters"][k] >= v for k, v in counters.items())
        return found if ok else None

    return wait_until(check, timeout=timeout, what=f"campaign {campaign_id} {status} with {counters}")


def opted_out(loop: Loop, number: str) -> None:
    """A lead who wrote once and then opted out (through the operator API)."""
    loop.customer_says(number, "oi")
    lead = wait_until(lambda: loop.tenant.api("/leads", phone=f"+{number}").json().get("id"), what="the lead")
    answer = loop.operator("POST", f"/leads/{lead}/opt-out")
    assert answer.status_code == 200, answer.text

"""What the notifications cost the inbound path: nothing a message, once the keyword list is cached. On a
sandbox of its own, so no other test's background work reaches the Redis REST bridge meanwhile."""

from __future__ import annotations

from typing import Any

import httpx

from tests.automations.helpers import Shop, new_number
from tests.support import deliver
from zapline.sandbox.uazapi.payloads import Uazapi, body


def test_a_message_that_matches_nothing_costs_the_inbound_path_no_redis_command(stack: dict[str, str]) -> None:
    """One REST command (the ingest script) a steady message: the keyword list is cached in the warm function."""
    shop = Shop(stack)
    uazapi, contact = Uazapi(token=shop.token), new_number()

    def webhook(text: str) -> dict[str, Any]:
        response = deliver(stack["APP_URL"], shop.inbound_path, body(uazapi.text(text, contact=contact, name="Gil")),
                           key=stack["QSTASH_CURRENT_SIGNING_KEY"])  # fmt: skip
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def rest() -> dict[str, int]:
        stats: dict[str, int] = httpx.get(f"{stack['UPSTASH_REDIS_REST_URL']}/_sandbox/stats", timeout=10).json()
        return stats

    webhook("Oi")
    webhook("tudo bem?")  # the keywords are read here, and cached
    before = rest()
    for i in range(10):
        assert webhook(f"mensagem {i}")["outcome"] == "stored"
    after = rest()
    assert (after["requests"] - before["requests"], after["commands"] - before["commands"]) == (10, 10)

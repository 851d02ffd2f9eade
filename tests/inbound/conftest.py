"""Helpers for the inbound tests of this package: deliveries signed as QStash signs them, reads
through the operator API and Centrifugo's history."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cent import Client as Cent
from cent import HistoryRequest

from tests.support import AppProcess, Tenant, deliver
from zapline.sandbox.uazapi.payloads import Uazapi, body

_contacts = itertools.count(5511966660001)


class Inbound:
    """One tenant's inbound webhook and operator API, as the tests of this package use them."""

    def __init__(self, app: AppProcess, tenant: Tenant, sandbox: dict[str, str]) -> None:
        self.app, self.tenant, self.sandbox = app, tenant, sandbox
        self.uazapi = Uazapi(token=tenant.token)

    def send(self, payload: dict[str, Any] | bytes) -> httpx.Response:
        raw = payload if isinstance(payload, bytes) else body(payload)
        response: httpx.Response = deliver(
            self.app.url, self.tenant.inbound_path, raw, key=self.app.env["QSTASH_CURRENT_SIGNING_KEY"]
        )
        return response

    def stored(self, payload: dict[str, Any] | bytes) -> dict[str, Any]:
        response = self.send(payload)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def get(self, path: str, **params: str) -> Any:
        response = self.tenant.api(path, **params)
        assert response.status_code == 200, response.text
        return response.json()

    def conversation(self, chat_jid: str) -> dict[str, Any]:
        [conv] = [c for c in self.get("/conversations", limit="200")["items"] if c["chat_jid"] == chat_jid]
        return conv  # type: ignore[no-any-return]

    def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        return self.get(f"/conversations/{conversation_id}/messages", limit="200")["items"]  # type: ignore[no-any-return]

    def counters(self, day: str) -> dict[str, int]:
        return self.get("/stats/daily", day=day)["counters"]  # type: ignore[no-any-return]

    def history(self, channel: str) -> list[dict[str, Any]]:
        """What Centrifugo published on ``channel`` (oldest first)."""
        with Cent(self.sandbox["CENTRIFUGO_API_URL"], self.sandbox["CENTRIFUGO_API_KEY"]) as cent:
            result = cent.history(HistoryRequest(channel=channel, limit=-1))
        return [p.data for p in result.publications]


@pytest.fixture
def contact() -> str:
    """A phone number no other test of this package uses."""
    return str(next(_contacts))


@pytest.fixture
def inbound(app: AppProcess, tenant: Tenant, sandbox: dict[str, str]) -> Inbound:
    return Inbound(app, tenant, sandbox)


@pytest.fixture
def fresh(app: AppProcess, sandbox: dict[str, str]) -> Iterator[Inbound]:
    """A tenant of its own, for counters and inbox history no other test touches."""
    yield Inbound(app, Tenant({**sandbox, "APP_URL": app.url}), sandbox)

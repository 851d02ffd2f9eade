"""Helpers for conversation-loop tests: a tenant wired to the UAZAPI simulator, customers, the clock."""

from __future__ import annotations

import itertools
import secrets
from typing import Any

import httpx

from tests.support import AppProcess, Tenant, wait_until, zapline_cli

_numbers = itertools.count(5511966660001)


class Loop:
    """One organisation whose instance lives in the sandbox UAZAPI and is connected to Zapline."""

    def __init__(self, app: AppProcess, sandbox: dict[str, str]) -> None:
        self.app = app
        self.sandbox = sandbox
        token = f"sim-{secrets.token_hex(8)}"
        httpx.post(f"{sandbox['UAZAPI_URL']}/_sandbox/instances", json={"token": token, "owner": "5511999990000"})
        self.tenant = Tenant({**sandbox, "APP_URL": app.url}, token=token)
        zapline_cli(self.tenant.env, "instances", "connect", "main", "--org", self.tenant.org_id)

    # --- the customer side -----------------------------------------------------------------------

    def new_number(self) -> str:
        return str(next(_numbers))

    def customer_says(self, number: str, text: str = "", *, kind: str = "text", **extra: Any) -> str:
        response = httpx.post(
            f"{self.sandbox['UAZAPI_URL']}/_sandbox/customers/message",
            json={
                "instance": self.tenant.token,
                "from": number,
                "name": "Cliente Teste",
                "kind": kind,
                "text": text,
                **extra,
            },  # fmt: skip
            timeout=30,
        )
        response.raise_for_status()
        messageid: str = response.json()["messageid"]
        return messageid

    def conversation_of(self, number: str, *, status: str | None = None) -> dict[str, Any]:
        """The newest conversation with ``number`` (optionally: once it has ``status``)."""

        def find() -> dict[str, Any] | None:
            lead = self.tenant.api("/leads", phone=f"+{number}")
            if lead.status_code != 200:
                return None
            convs = [c for c in self.tenant.api("/conversations", limit="200").json()["items"]
                     if c["lead_id"] == lead.json()["id"]]  # fmt: skip
            newest = max(convs, key=lambda c: c["opened_at"], default=None)
            return newest if newest and (status is None or newest["status"] == status) else None

        return wait_until(find, timeout=20, what=f"a conversation with +{number} (status {status})")

    def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.tenant.api(f"/conversations/{conversation_id}/messages", limit="200").json()[
            "items"
        ]
        return items

    # --- the operator side -----------------------------------------------------------------------

    def operator(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tenant.api_key}", **kw.pop("headers", {})}
        return httpx.request(method, f"{self.app.url}/api/v1{path}", headers=headers, timeout=30, **kw)

    def reply(self, conversation_id: str, text: str, **kw: Any) -> dict[str, Any]:
        response = self.operator("POST", f"/conversations/{conversation_id}/messages", json={"text": text}, **kw)
        assert response.status_code == 200, response.text
        message: dict[str, Any] = response.json()["message"]
        return message

    # --- what UAZAPI was asked to send, and QStash's clock -----------------------------------------

    def sent(self, number: str | None = None) -> list[dict[str, Any]]:
        params = {"instance": self.tenant.token}
        rows: list[dict[str, Any]] = httpx.get(f"{self.sandbox['UAZAPI_URL']}/_sandbox/sent", params=params).json()
        return [r for r in rows if number is None or r["number"].split("@")[0] == number]

    def advance(self, seconds: float) -> None:
        response = httpx.post(f"{self.sandbox['QSTASH_URL']}/_sandbox/clock/advance", json={"seconds": seconds},
                              timeout=60)  # fmt: skip
        response.raise_for_status()

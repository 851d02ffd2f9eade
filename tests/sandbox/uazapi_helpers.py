"""Shared by the sandbox UAZAPI tests: one fresh simulator instance per test, over real HTTP.

Every test registers its own instance (``POST /_sandbox/instances`` with a unique token), so its
sends, faults, webhooks and counters never meet another test's, in parallel or in sequence.
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import httpx

from tests.support import wait_until

_numbers = itertools.count(1)


def number() -> str:
    """A Brazilian mobile no other test in this run writes to or from."""
    return f"55119{uuid.uuid4().int % 10**8:08d}"


class Instance:
    """One simulator instance and a client that authenticates as it."""

    def __init__(self, settings: dict[str, str], *, token: str | None = None, name: str | None = None) -> None:
        self.url = settings["UAZAPI_URL"]
        self.token = token or f"uaz-test-{uuid.uuid4().hex}"
        self.name = name or f"test-{next(_numbers)}-{uuid.uuid4().hex[:6]}"
        self.http = httpx.Client(base_url=self.url, timeout=15)
        created = self.http.post("/_sandbox/instances", json={"token": self.token, "name": self.name})
        assert created.status_code in (200, 201), created.text

    def call(self, method: str, path: str, body: Any = None, *, token: str | None = None) -> httpx.Response:
        headers = {"token": self.token if token is None else token}
        return self.http.request(method, path, json=body, headers=headers)

    def send_text(self, to: str, text: str, **extra: Any) -> httpx.Response:
        return self.call("POST", "/send/text", {"number": to, "text": text, **extra})

    def webhook(self, url: str, **extra: Any) -> list[dict[str, Any]]:
        body = {"enabled": True, "url": url, "events": ["messages", "messages_update"], "excludeMessages": [],
                "addUrlEvents": False, "addUrlTypesMessages": False, **extra}  # fmt: skip
        response = self.call("POST", "/webhook", body)
        assert response.status_code == 200, response.text
        hooks: list[dict[str, Any]] = response.json()
        return hooks

    def customer(self, sender: str, kind: str = "text", **fields: Any) -> httpx.Response:
        body = {"instance": self.token, "from": sender, "name": "Ana Souza", "kind": kind, **fields}
        return self.http.post("/_sandbox/customers/message", json=body)

    def sent(self, **params: str) -> list[dict[str, Any]]:
        response = self.http.get("/_sandbox/sent", params={"instance": self.token, **params})
        assert response.status_code == 200, response.text
        records: list[dict[str, Any]] = response.json()
        return records

    def stats(self) -> dict[str, int]:
        stats: dict[str, int] = self.http.get("/_sandbox/stats", params={"instance": self.token}).json()
        return stats

    def settled(self, timeout: float = 10.0) -> dict[str, int]:
        """Wait until every echo and receipt of this instance's sends has been posted (or given up)."""

        def quiet() -> dict[str, int] | None:
            stats = self.stats()
            return stats if stats["pending"] == 0 else None

        settled = wait_until(quiet, timeout=timeout, what="this instance's echoes and receipts to be posted")
        assert settled is not None
        return settled

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Instance:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

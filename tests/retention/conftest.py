"""Retention tests: the store's operations against a flushed redis-server of this package's own
sandbox (as tests/store does), and the job end to end through the session sandbox with an app whose
batch is small enough that a handful of messages needs several rounds."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.store.conftest import db, run, store_sandbox
from tests.support import AppProcess, Tenant, qstash_signature, wait_until
from zapline.sandbox.uazapi.payloads import Uazapi, body

__all__ = ["db", "run", "store_sandbox"]
DAY_MS = 86_400_000
BATCH = 25  # ZAPLINE_RETENTION_BATCH of the app below


# --- end to end ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def retention_app(sandbox: dict[str, str]) -> Iterator[AppProcess]:
    """Every function over HTTP on the session sandbox, retention rounds of ``BATCH`` messages, and
    the alias scan as soon as one alias is orphaned."""
    from zapline.sandbox.redis_server import free_port

    env = {**sandbox, "ZAPLINE_RETENTION_BATCH": str(BATCH), "ZAPLINE_RETENTION_ALIAS_SWEEP_AFTER": "1"}
    process = AppProcess(env, free_port())
    try:
        process.start()
        yield process
    finally:
        process.stop()


class Org:
    """One organisation on ``retention_app``: webhooks signed as QStash signs them (as
    ``tests.support.deliver`` does, over one kept-alive client: a new client per request costs more
    than the inbound function), and its owner API."""

    def __init__(self, app: AppProcess, sandbox: dict[str, str]) -> None:
        self.app, self.sandbox = app, sandbox
        self.tenant = Tenant({**sandbox, "APP_URL": app.url})
        self.org_id = self.tenant.org_id
        self.uazapi = Uazapi(token=self.tenant.token)
        self.http = httpx.Client(timeout=30)

    def close(self) -> None:
        self.http.close()

    def webhook(self, payload: dict[str, Any]) -> dict[str, Any]:
        url, raw = self.app.url + self.tenant.inbound_path, body(payload)
        headers = {
            "Content-Type": "application/json",
            "Upstash-Signature": qstash_signature(url, raw, self.app.env["QSTASH_CURRENT_SIGNING_KEY"]),
            "Upstash-Message-Id": f"msg_{secrets.token_hex(10)}",
            "Upstash-Retried": "0",
        }
        response = self.http.post(url, content=raw, headers=headers)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def says(self, contact: str, text: str, at: int, **kw: Any) -> str:
        """A customer's text, WhatsApp-timed ``at`` (ms); its WhatsApp id."""
        payload = self.uazapi.text(text, contact=contact, name=f"Cliente {contact[-4:]}", timestamp=at, **kw)
        self.webhook(payload)
        wa_id: str = payload["message"]["messageid"]
        return wa_id

    def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tenant.api_key}", **kw.pop("headers", {})}
        return self.http.request(method, f"{self.app.url}/api/v1{path}", headers=headers, **kw)

    def get(self, path: str, **params: str) -> Any:
        response = self.api("GET", path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def conversations(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.get("/conversations", limit="200")["items"]
        return items

    def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.get(f"/conversations/{conversation_id}/messages", limit="200")["items"]
        return items

    def finished_run(self, local_time: str, timeout: float = 20) -> dict[str, Any]:
        """The retention job's run of ``local_time`` once its last round is done (``GET /retention``)."""

        def done() -> dict[str, Any] | None:
            last = self.get("/retention")["last_run"]
            return last if last and last["local_time"] == local_time and last["finished"] else None

        found: dict[str, Any] = wait_until(done, timeout=timeout, interval=0.05, what=f"retention run {local_time}")
        return found


def delivered(sandbox: dict[str, str], message_id: str, timeout: float = 20) -> dict[str, Any]:
    """What the app answered QStash for ``message_id`` (the sandbox QStash's log of the delivery)."""
    import json

    def answer() -> dict[str, Any] | None:
        response = httpx.get(f"{sandbox['QSTASH_URL']}/v2/logs", params={"messageId": message_id, "state": "DELIVERED"},
                             headers={"Authorization": f"Bearer {sandbox['QSTASH_TOKEN']}"}, timeout=10)  # fmt: skip
        response.raise_for_status()
        logs = response.json()["logs"]
        return json.loads(logs[0]["responseBody"]) if logs else None

    found: dict[str, Any] = wait_until(answer, timeout=timeout, interval=0.05, what=f"delivery of {message_id}")
    return found


def now_ms() -> int:
    return int(time.time() * 1000)

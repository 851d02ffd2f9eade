"""An organisation in a given timezone whose instance lives in the UAZAPI simulator, and the ways these
tests drive its automations: a job delivered as QStash delivers it, or the hourly tick on QStash's clock."""

from __future__ import annotations

import base64
import itertools
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx

from tests.support import deliver, wait_until, zapline_cli

T = TypeVar("T")
OWNER = "5511999990000"
_numbers = itertools.count(5511955550001)


def new_number() -> str:
    return str(next(_numbers))


class Shop:
    """An organisation (``timezone``) with one instance in the simulator, connected to Zapline."""

    def __init__(self, env: dict[str, str], *, timezone: str = "America/Sao_Paulo", name: str = "Loja") -> None:
        self.env = env
        self.token = f"sim-{secrets.token_hex(8)}"
        httpx.post(f"{env['UAZAPI_URL']}/_sandbox/instances", json={"token": self.token, "owner": OWNER}, timeout=30)
        org = zapline_cli(env, "orgs", "add", name, "--timezone", timezone)
        self.org_id: str = org["org_id"]
        self.api_key: str = org["api_key"]
        self.timezone = timezone
        instance = zapline_cli(env, "instances", "add", "--org", self.org_id, "--name", "main", "--token", self.token,
                               "--base-url", env["UAZAPI_URL"], "--owner", OWNER)  # fmt: skip
        self.instance_id: str = instance["instance_id"]
        self.inbound_path = f"/api/inbound/uazapi/{instance['instance_key']}"
        zapline_cli(env, "instances", "connect", "main", "--org", self.org_id)

    # --- the operator API ---------------------------------------------------------------------------

    def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.api_key}", **kw.pop("headers", {})}
        return httpx.request(method, f"{self.env['APP_URL']}/api/v1{path}", headers=headers, timeout=30, **kw)

    def configure(self, **sections: dict[str, Any]) -> dict[str, Any]:
        response = self.api("PUT", "/automations", json=sections)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def lead(self, number: str) -> dict[str, Any]:
        found = wait_until(lambda: (r := self.api("GET", "/leads", params={"phone": f"+{number}"})).status_code == 200
                           and r, timeout=20, what=f"the lead +{number}")  # fmt: skip
        lead: dict[str, Any] = found.json()
        return lead

    def edit_lead(self, number: str, **fields: Any) -> dict[str, Any]:
        response = self.api("PATCH", f"/leads/{self.lead(number)['id']}", json=fields)
        assert response.status_code == 200, response.text
        lead: dict[str, Any] = response.json()
        return lead

    def owner_messages(self, cause: str | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.api("GET", "/owner/messages", params={"limit": "200"}).json()["items"]
        return [m for m in reversed(items) if cause is None or m["cause"] == cause]

    # --- the customers' side, and what the simulator was asked to send -------------------------------

    def customer_says(self, number: str, text: str, *, name: str = "Cliente Teste") -> None:
        said = {"instance": self.token, "from": number, "name": name, "kind": "text", "text": text}
        response = httpx.post(f"{self.env['UAZAPI_URL']}/_sandbox/customers/message", json=said, timeout=30)
        response.raise_for_status()
        self.lead(number)  # stored

    def sent(self, number: str | None = None) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = httpx.get(f"{self.env['UAZAPI_URL']}/_sandbox/sent",
                                               params={"instance": self.token}, timeout=30).json()  # fmt: skip
        return [r for r in rows if number is None or r["number"].split("@")[0] == number]

    def to_owner(self, containing: str) -> list[str]:
        return [r["text"] for r in self.sent(OWNER) if containing in (r.get("text") or "")]

    def wait_sent(self, number: str, containing: str, count: int = 1) -> list[str]:
        def found() -> list[str] | None:
            texts = [r["text"] for r in self.sent(number) if containing in (r.get("text") or "")]
            return texts if len(texts) >= count else None

        return wait_until(found, timeout=30, what=f"{count} message(s) to {number} containing {containing!r}")

    # --- the automation job, delivered as QStash delivers it --------------------------------------------

    def fire(self, schedule: str, local_time: str, *, retried: int = 0) -> dict[str, Any]:
        """POST the ``automation`` job of ``schedule`` at ``local_time`` to the jobs function, signed."""
        body = json.dumps({"org_id": self.org_id, "schedule": schedule, "local_time": local_time}).encode()
        response = deliver(self.env["APP_URL"], "/api/jobs/automation", body,
                           key=self.env["QSTASH_CURRENT_SIGNING_KEY"], retried=retried)  # fmt: skip
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer


@contextmanager
def configured_like_the_app(env: dict[str, str]) -> Iterator[None]:
    """This process's settings pointed at ``env`` (to call the app's code, e.g. the tick, directly)."""
    import os

    from zapline.config import get_settings

    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()


def qstash_logs(env: dict[str, str], **filters: str) -> list[dict[str, Any]]:
    """Every QStash log event matching ``filters`` (all pages), oldest first, bodies decoded."""
    events: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {**filters, **({"cursor": cursor} if cursor else {})}
        response = httpx.get(f"{env['QSTASH_URL']}/v2/logs", params=params, timeout=30,
                             headers={"Authorization": f"Bearer {env['QSTASH_TOKEN']}"})  # fmt: skip
        response.raise_for_status()
        page = response.json()
        events += page["logs"]
        cursor = page.get("cursor")
        if not cursor:
            break
    for event in events:
        try:
            event["job"] = json.loads(base64.b64decode(event.get("body", "")))
        except ValueError:
            event["job"] = {}
    return list(reversed(events))

"""A tenant wired to the UAZAPI simulator, its leads and contacts, and the contact sync driven as the
tick would drive it: the ``contact-sync-start`` job delivered signed, its batches through QStash."""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx
import redis as redis_py

from tests.conversation_loop import Loop
from tests.support import deliver, wait_until
from zapline.store.keys import OrgKeys

_numbers = itertools.count(5511944400001, 1000)


class Sync:
    def __init__(self, loop: Loop) -> None:
        self.loop = loop
        self.sandbox = loop.sandbox
        self.tenant = loop.tenant
        self.uazapi = loop.sandbox["UAZAPI_URL"]
        self.redis = redis_py.Redis.from_url(loop.sandbox["REDIS_URL"], decode_responses=True)

    def numbers(self, n: int) -> list[str]:
        """``n`` fresh numbers, in the order UAZAPI sorts their chats (by JID)."""
        start = next(_numbers)
        return [str(start + i) for i in range(n)]

    def leads_write(self, numbers: list[str], name: str = "Cliente") -> dict[str, str]:
        """Each number writes once; answers number → lead id once every lead is stored."""
        for number in numbers:
            self.loop.customer_says(number, "oi", name=f"{name} {number[-3:]}")
        leads: dict[str, str] = {}

        def stored() -> bool:
            for number in numbers:
                if number not in leads:
                    found = self.tenant.api("/leads", phone=f"+{number}")
                    if found.status_code != 200:
                        return False
                    leads[number] = found.json()["id"]
            return True

        wait_until(stored, timeout=60, what="every lead stored")
        return leads

    def set_contacts(self, contacts: list[dict[str, Any]]) -> dict[str, Any]:
        answer = httpx.post(f"{self.uazapi}/_sandbox/contacts", json={"instance": self.tenant.token,
                            "contacts": contacts}, timeout=30)  # fmt: skip
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def find_calls(self) -> list[tuple[int, int]]:
        listing = httpx.get(f"{self.uazapi}/_sandbox/contacts", params={"instance": self.tenant.token}, timeout=30)
        return [(c["offset"], c["status"]) for c in listing.json()["find_calls"]]

    def fault(self, **fault: Any) -> None:
        body = {"instance": self.tenant.token, "endpoint": "/chat/find", **fault}
        httpx.post(f"{self.uazapi}/_sandbox/faults", json=body, timeout=30).raise_for_status()

    def state(self) -> dict[str, str]:
        found = self.redis.hgetall(OrgKeys(self.tenant.org_id).contact_sync(self.tenant.instance_id))
        return {str(k): str(v) for k, v in found.items()}

    def start(self, local_time: str) -> dict[str, Any]:
        """The schedule's firing for this organisation, as the tick publishes it (signed, to the jobs route)."""
        payload = {"org_id": self.tenant.org_id, "schedule": "contact-sync", "local_time": local_time}
        answer = deliver(self.loop.app.url, "/api/jobs/contact-sync-start", json.dumps(payload).encode(),
                         key=self.sandbox["QSTASH_CURRENT_SIGNING_KEY"])  # fmt: skip
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def finished(self, run: str, *, timeout: float = 60) -> dict[str, str]:
        def done() -> dict[str, str] | None:
            state = self.state()
            return state if state.get("run") == run and state.get("status") == "done" else None

        return wait_until(done, timeout=timeout, what=f"contact sync run {run} done")

    def lead(self, lead_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.tenant.api(f"/leads/{lead_id}").json()
        return found

    def deliveries(self) -> int:
        """Batch jobs QStash delivered for this instance (its flow-control key is the instance's)."""
        events = httpx.get(f"{self.sandbox['QSTASH_URL']}/v2/events", timeout=30,
                           params={"flowControlKey": f"contact-sync:{self.tenant.instance_id}", "state": "DELIVERED"},
                           headers={"Authorization": f"Bearer {self.sandbox['QSTASH_TOKEN']}"})  # fmt: skip
        return len(events.json()["events"])

"""The stand-in's state: its options, the script, the request log and where both are kept."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from zapline.sandbox.openai.config import Options
from zapline.sandbox.openai.script import Facts, Rule, Script
from zapline.sandbox.openai.store import Store

__all__ = ["Service"]


class Service:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.script = Script()
        self.log: deque[dict[str, Any]] = deque(maxlen=options.max_requests)
        self.seq = 0
        self.store = Store(options.redis_url, max_requests=options.max_requests)

    async def start(self) -> None:
        """Take back the script and the request log of a previous run (nothing without Redis)."""
        saved = await self.store.load()
        self.seq = max(saved.seq, *(int(r["seq"]) for r in saved.requests), 0)
        self.log.extend(saved.requests)
        self.script.restore(saved.script)

    def take(self, facts: Facts) -> Rule | None:
        return self.script.take(facts)

    async def record(self, entry: dict[str, Any], *, script_changed: bool = False) -> dict[str, Any]:
        """Log a request (numbered from 1, newest last); persisted before the request is answered."""
        self.seq += 1
        record = {"seq": self.seq, "time": int(time.time() * 1000), **entry}
        self.log.append(record)
        await self.store.request(record, self.script.to_json() if script_changed else None)
        return record

    def requests(
        self, *, since: int = 0, limit: int | None = None, model: str | None = None, endpoint: str | None = None
    ) -> list[dict[str, Any]]:
        found = [
            r for r in self.log
            if r["seq"] > since and model in (None, r.get("model")) and endpoint in (None, r.get("endpoint"))
        ]  # fmt: skip
        return found[-limit:] if limit else found if limit is None else []

    async def add_rules(self, body: Any) -> list[Rule]:
        rules = self.script.add(body)
        await self.store.script(self.script.to_json())
        return rules

    async def remove_rule(self, rule_id: str) -> bool:
        found = self.script.remove(rule_id)
        await self.store.script(self.script.to_json())
        return found

    async def reset_script(self) -> None:
        self.script.clear()
        await self.store.script([])

    async def clear_requests(self) -> None:
        self.log.clear()
        await self.store.clear_requests()

    async def aclose(self) -> None:
        await self.store.close()

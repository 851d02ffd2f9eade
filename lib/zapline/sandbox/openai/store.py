"""The stand-in's memory in the sandbox's Redis, so a restarted sandbox keeps its script and request log.

It lives in a database of its own (the supervisor gives it database 3; the Upstash REST bridge only
ever touches database 0, QStash has 1 and the UAZAPI simulator 2), so the application cannot reach it.
Without ``redis_url`` everything lives in memory only.

| key             | type   | holds                                                                  |
|-----------------|--------|------------------------------------------------------------------------|
| openai:requests | list   | ``GET /_sandbox/openai/requests`` records, oldest first, the last max  |
| openai:seq      | string | the last request's sequence number (``since=`` cursors stay valid)     |
| openai:script   | string | the live rules as JSON, rewritten whenever one is added, used or gone  |

Writes are serialised (one at a time, in the order they were asked for) and awaited before the
request they belong to is answered.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from zapline.sandbox.resp import Arg, ConnectionLost, Pool, RespError

__all__ = ["Saved", "Store", "StoreError"]

REQUESTS = "openai:requests"
SEQ = "openai:seq"
SCRIPT = "openai:script"


class StoreError(RuntimeError):
    """Redis refused or lost a write."""


@dataclass
class Saved:
    seq: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    script: list[dict[str, Any]] = field(default_factory=list)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class Store:
    """Writes and reads the stand-in's memory; every method does nothing when there is no Redis."""

    def __init__(self, redis_url: str, *, max_requests: int) -> None:
        self.pool = Pool(redis_url) if redis_url else None
        self.max_requests = max_requests
        self._lock = asyncio.Lock()

    async def load(self) -> Saved:
        if self.pool is None:
            return Saved()
        seq, requests, script = await self.pool.pipeline([("GET", SEQ), ("LRANGE", REQUESTS, 0, -1), ("GET", SCRIPT)])
        records = [json.loads(r) for r in requests if isinstance(r, bytes)] if isinstance(requests, list) else []
        rules = json.loads(script) if isinstance(script, bytes) else []
        return Saved(int(seq) if isinstance(seq, bytes) else 0, sorted(records, key=lambda r: int(r["seq"])), rules)

    async def request(self, record: dict[str, Any], script: list[dict[str, Any]] | None) -> None:
        """A request received (and the rules as they are now, if it used one)."""
        commands: list[tuple[Arg, ...]] = [
            ("RPUSH", REQUESTS, _dumps(record)),
            ("LTRIM", REQUESTS, -self.max_requests, -1),
            ("SET", SEQ, int(record["seq"])),
        ]
        if script is not None:
            commands.append(("SET", SCRIPT, _dumps(script)))
        await self._write(commands)

    async def script(self, script: list[dict[str, Any]]) -> None:
        await self._write([("SET", SCRIPT, _dumps(script))])

    async def clear_requests(self) -> None:
        await self._write([("DEL", REQUESTS)])

    async def _write(self, commands: list[tuple[Arg, ...]]) -> None:
        if self.pool is None:
            return
        async with self._lock:
            try:
                replies = await self.pool.pipeline([("MULTI",), *commands, ("EXEC",)])
            except (ConnectionLost, OSError) as exc:
                raise StoreError(f"the sandbox OpenAI cannot reach its redis: {exc}") from exc
        outcome = replies[-1]
        failed = [r for r in [*replies, *(outcome if isinstance(outcome, list) else [])] if isinstance(r, RespError)]
        if failed or not isinstance(outcome, list):
            reason = failed[0].message if failed else "transaction aborted"
            raise StoreError(f"redis refused a write of the sandbox OpenAI: {reason}")

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()

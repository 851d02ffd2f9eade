"""Persistence in the sandbox's own Redis database: key names, the write pipeline, the loader.

Every key lives under ``qstash:`` in a database of its own (the supervisor gives QStash database 1;
the Upstash REST bridge only ever touches database 0), so application data never mixes with it.

| key                | type   | holds                                                              |
|--------------------|--------|--------------------------------------------------------------------|
| qstash:messages    | hash   | id -> message awaiting delivery (delayed, waiting, retrying, active) |
| qstash:schedules   | hash   | id -> schedule                                                     |
| qstash:queues      | hash   | name -> queue                                                      |
| qstash:topics      | hash   | name -> URL group                                                  |
| qstash:dlq         | hash   | dlqId -> dead letter (message + last response)                     |
| qstash:flow        | hash   | key -> flow-control configuration, pins and pause                  |
| qstash:dedup       | hash   | dedup key -> "<messageId> <expiry ms>" (10-minute window)           |
| qstash:clock       | string | the sandbox clock's offset in ms                                   |
| qstash:keys        | hash   | current / next signing keys, once rotated                          |

Nothing expires by Redis TTL: windows and retention follow the sandbox clock, not Redis's.
Writes go through :class:`Writer`, one connection that pipelines whatever has accumulated while
the previous round trip was in flight; each caller's commands run as one MULTI/EXEC.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from typing import Any

from zapline.sandbox.resp import Arg, Connection, ConnectionLost, Pool, RespError

__all__ = ["CLOCK", "DEDUP", "DLQ", "FLOW", "KEYS", "MESSAGES", "QUEUES", "SCHEDULES", "TOPICS", "Writer", "load"]

log = logging.getLogger("zapline.sandbox.qstash")

MESSAGES = "qstash:messages"
SCHEDULES = "qstash:schedules"
QUEUES = "qstash:queues"
TOPICS = "qstash:topics"
DLQ = "qstash:dlq"
FLOW = "qstash:flow"
DEDUP = "qstash:dedup"
CLOCK = "qstash:clock"
KEYS = "qstash:keys"
HASHES = (MESSAGES, SCHEDULES, QUEUES, TOPICS, DLQ, FLOW, DEDUP, KEYS)

Command = Sequence[Arg]


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"))


class StoreError(RuntimeError):
    """Redis refused or lost a write."""


class Writer:
    """Ordered, auto-pipelined writes on one connection; ``write`` waits, ``submit`` does not."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._conn: Connection | None = None
        self._pending: list[tuple[Sequence[Command], asyncio.Future[None] | None]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="qstash-writer")

    def submit(self, *commands: Command) -> None:
        if commands:
            self._pending.append((commands, None))
            self._wake.set()

    async def write(self, *commands: Command) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((commands, future))
        self._wake.set()
        await future

    async def drain(self) -> None:
        """Wait until everything submitted so far is in Redis."""
        await self.write(("PING",))

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.drain(), 5)
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn:
            await self._conn.close()

    async def _run(self) -> None:
        while True:
            if not self._pending:
                self._wake.clear()
                await self._wake.wait()
                continue
            batch, self._pending = self._pending, []
            commands: list[Command] = []
            for group, _ in batch:
                commands.extend([("MULTI",), *group, ("EXEC",)] if len(group) > 1 else group)
            try:
                replies = await self._send(commands)
            except (ConnectionLost, OSError) as exc:
                for _, future in batch:
                    if future and not future.done():
                        future.set_exception(StoreError(f"redis write failed: {exc}"))
                if not any(f for _, f in batch):
                    log.error("qstash: lost %d background writes: %s", len(batch), exc)
                continue
            self._settle(batch, replies)

    async def _send(self, commands: list[Command]) -> list[Any]:
        for attempt in range(5):
            try:
                if self._conn is None or self._conn.broken:
                    self._conn = await Connection.open(self._pool.host, self._pool.port, self._pool.db)
                return await self._conn.pipeline(commands)
            except (ConnectionLost, OSError):
                if attempt == 4:
                    raise
                await asyncio.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    @staticmethod
    def _settle(batch: list[tuple[Sequence[Command], asyncio.Future[None] | None]], replies: list[Any]) -> None:
        index = 0
        for group, future in batch:
            size = len(group) + 2 if len(group) > 1 else len(group)
            chunk = replies[index : index + size]
            index += size
            outcome = chunk[-1] if len(group) > 1 else chunk[0]
            errors = [r for r in (outcome if isinstance(outcome, list) else [outcome]) if isinstance(r, RespError)]
            if isinstance(outcome, RespError) or errors:
                message = (outcome if isinstance(outcome, RespError) else errors[0]).message
                if future and not future.done():
                    future.set_exception(StoreError(f"redis refused a write: {message}"))
                elif future is None:
                    log.error("qstash: redis refused a background write: %s", message)
            elif future and not future.done():
                future.set_result(None)


async def load(pool: Pool) -> dict[str, dict[str, str]]:
    """Every hash above as {field: value}, plus ``{"clock": {"offset": …}}``."""
    replies = await pool.pipeline([("HGETALL", key) for key in HASHES] + [("GET", CLOCK)])
    out: dict[str, dict[str, str]] = {}
    for key, reply in zip(HASHES, replies[:-1], strict=True):
        if isinstance(reply, RespError):
            raise StoreError(f"cannot read {key}: {reply.message}")
        items = [i for i in reply if isinstance(i, bytes)] if isinstance(reply, list) else []
        out[key] = {items[i].decode(): items[i + 1].decode() for i in range(0, len(items) - 1, 2)}
    clock = replies[-1]
    out[CLOCK] = {"offset": clock.decode()} if isinstance(clock, bytes) else {}
    return out

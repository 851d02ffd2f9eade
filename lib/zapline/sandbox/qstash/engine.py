"""The sandbox QStash's state and time: loading from Redis, accepting messages, firing what is
due (messages, flow-control periods, cron), and the sandbox clock's ``advance``.

All state lives in memory, with Redis as the write-ahead record (see ``store``): a publish is
answered only after its message is in Redis, and a restart rebuilds everything from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from zapline.sandbox.qstash import store
from zapline.sandbox.qstash.attempts import Attempt
from zapline.sandbox.qstash.config import Options
from zapline.sandbox.qstash.destination import Target
from zapline.sandbox.qstash.dispatch import Dispatcher
from zapline.sandbox.qstash.errors import ApiError
from zapline.sandbox.qstash.factory import build_message, dedup_key
from zapline.sandbox.qstash.model import Message
from zapline.sandbox.qstash.queues import Queue
from zapline.sandbox.qstash.restore import restore
from zapline.sandbox.qstash.schedules import Schedule
from zapline.sandbox.qstash.spec import Spec
from zapline.sandbox.qstash.store import DEDUP, MESSAGES, QUEUES, SCHEDULES, Command, StoreError, dumps
from zapline.sandbox.qstash.topics import Topic

__all__ = ["Accepted", "Engine"]

log = logging.getLogger("zapline.sandbox.qstash")


@dataclass(frozen=True)
class Accepted:
    message_id: str
    url: str
    deduplicated: bool

    def api(self, *, with_url: bool) -> dict[str, object]:
        out: dict[str, object] = {"messageId": self.message_id, "deduplicated": self.deduplicated}
        if with_url:
            out["url"] = self.url
        return out


class Engine(Dispatcher):
    def __init__(self, options: Options) -> None:
        super().__init__(options)
        self.topics: dict[str, Topic] = {}
        self.dedup: dict[str, tuple[str, int]] = {}  # key -> (message id, expiry in virtual ms)
        self._cron: list[tuple[int, str]] = []
        self._loop: asyncio.Task[None] | None = None
        self._advance_lock = asyncio.Lock()
        self._dedup_pruned_at = 0

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        data = await store.load(self.pool)
        self.writer.start()
        await self.deliverer.start()
        restore(self, data)
        self._loop = asyncio.create_task(self._run(), name="qstash-scheduler")

    async def stop(self) -> None:
        if self._loop:
            self._loop.cancel()
        attempts = list(self.inflight.values())
        for task in attempts:  # interrupted attempts stay in Redis and are made again after a restart
            task.cancel()
        await asyncio.gather(*attempts, *(t for t in [self._loop] if t), return_exceptions=True)
        await self.writer.close()
        await self.deliverer.close()
        await self.pool.close()

    # -- accepting -------------------------------------------------------------------------------

    def prepare(
        self, target: Target, spec: Spec, body: bytes, *, queue: str | None, caller_ip: str | None
    ) -> list[tuple[Message, str | None]]:
        """The messages a publish creates (one, or one per endpoint of a URL group), with dedup keys."""
        now = self.clock.now()

        def build(url: str, topic: str | None = None, endpoint: str | None = None) -> Message:
            return build_message(
                spec, url=url, body=body, now=now, seq=self.next_seq, topic=topic, endpoint=endpoint,
                queue=queue, caller_ip=caller_ip,
            )  # fmt: skip

        if target.url is not None:
            return [(build(target.url), dedup_key(spec, url=target.url, body=body, group=None))]
        assert target.group is not None
        topic = self.topics.get(target.group)
        if topic is None:
            raise ApiError(
                404,
                f"url group {target.group!r} not found; a destination is a url (http:// or https://) or a url group",
            )
        return [
            (build(e.url, topic.name, e.name), dedup_key(spec, url=e.url, body=body, group=topic.name))
            for e in topic.endpoints
        ]

    def new_queue(self, name: str, pending: dict[str, Queue]) -> None:
        """Plan the implicit creation of queue ``name``; it exists once ``accept`` stored it."""
        if name not in self.queues and name not in pending:
            now = self.clock.now()
            pending[name] = Queue(name, now, now)

    async def accept(
        self,
        batch: Sequence[tuple[Message, str | None]],
        new_queues: dict[str, Queue] | None = None,
        *,
        extra: Sequence[Command] = (),
    ) -> list[Accepted]:
        """Deduplicate, persist (answering only once it is in Redis), then take charge."""
        now = self.clock.now()
        self._prune_dedup(now)
        results: list[Accepted] = []
        fresh: list[Message] = []
        reserved: list[str] = []
        expiry = now + self.options.dedup_window_ms
        for msg, key in batch:
            if key is not None:
                hit = self.dedup.get(key)
                if hit is not None and hit[1] > now:
                    results.append(Accepted(hit[0], msg.url, True))
                    continue
                self.dedup[key] = (msg.id, expiry)
                reserved.append(key)
            fresh.append(msg)
            results.append(Accepted(msg.id, msg.url, False))
        queues = [q for q in (new_queues or {}).values() if q.name not in self.queues]
        commands: list[Command] = [*extra, *(("HSET", QUEUES, q.name, dumps(q.to_record())) for q in queues)]
        if fresh:
            commands.append(("HSET", MESSAGES, *[part for m in fresh for part in (m.id, dumps(m.to_record()))]))
        if reserved:
            commands.append(("HSET", DEDUP, *[part for k in reserved for part in (k, f"{self.dedup[k][0]} {expiry}")]))
        try:
            if commands:
                await self.writer.write(*commands)
        except StoreError as exc:
            for key in reserved:
                self.dedup.pop(key, None)
            raise ApiError(503, f"the sandbox could not store the message: {exc}") from None
        for queue in queues:
            self.queues.setdefault(queue.name, queue)
        for msg in fresh:
            self.register(msg)
        return results

    def _prune_dedup(self, now: int) -> None:
        if now - self._dedup_pruned_at < 60_000:
            return
        self._dedup_pruned_at = now
        expired = [k for k, (_, expiry) in self.dedup.items() if expiry <= now]
        for key in expired:
            del self.dedup[key]
        if expired:
            self.writer.submit(("HDEL", DEDUP, *expired))

    # -- schedules -------------------------------------------------------------------------------

    def plan(self, schedule: Schedule, after: int) -> None:
        heapq.heappush(self._cron, (schedule.plan(after), schedule.id))
        self._wake.set()

    def fire_schedule(self, schedule: Schedule, at: int) -> None:
        self.plan(schedule, at)
        if schedule.paused:
            return
        schedule.last_time = at
        target = Target(
            None if schedule.group else schedule.destination, schedule.destination if schedule.group else None, []
        )
        commands: list[Command] = []
        try:
            batch = self.prepare(
                target, schedule.spec, schedule.body, queue=schedule.spec.queue, caller_ip=schedule.caller_ip
            )
        except ApiError as exc:
            schedule.error, schedule.last_states = exc.message, {}
            self.writer.submit(("HSET", SCHEDULES, schedule.id, dumps(schedule.to_record())))
            return
        if schedule.spec.queue and schedule.spec.queue not in self.queues:
            queue = self.queues[schedule.spec.queue] = Queue(schedule.spec.queue, at, at)
            commands.append(("HSET", QUEUES, queue.name, dumps(queue.to_record())))
        messages = [m for m, _ in batch]
        for msg in messages:
            msg.schedule_id = schedule.id
            msg.created_at = at
        schedule.error = None
        schedule.last_states = {m.id: "IN_PROGRESS" for m in messages}
        commands.append(("HSET", SCHEDULES, schedule.id, dumps(schedule.to_record())))
        if messages:
            commands.append(("HSET", MESSAGES, *[part for m in messages for part in (m.id, dumps(m.to_record()))]))
        self.writer.submit(*commands)
        for msg in messages:
            self.register(msg)

    # -- time ------------------------------------------------------------------------------------

    def next_due(self) -> int | None:
        heads = [t for t in (super().next_due(), self._cron[0][0] if self._cron else None) if t is not None]
        return min(heads) if heads else None

    def fire_due(self) -> None:
        now = self.clock.now()
        self.fire_due_messages(now)
        while self._cron and self._cron[0][0] <= now:
            at, schedule_id = heapq.heappop(self._cron)
            schedule = self.schedules.get(schedule_id)
            if schedule is not None and schedule.next_time == at:
                self.fire_schedule(schedule, at)

    async def _run(self) -> None:
        while True:
            try:
                self._wake.clear()
                self.fire_due()
                upcoming = self.next_due()
                timeout = None if upcoming is None else max(0.001, (upcoming - self.clock.now()) / 1000)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("qstash: the scheduler loop failed; continuing")
                await asyncio.sleep(0.1)

    async def advance(self, seconds: float) -> tuple[int, list[Attempt]]:
        """Move the clock ``seconds`` forward, stepping through every due instant on the way and
        letting the attempts each step starts finish (bounded); returns (now, the attempts it started)."""
        async with self._advance_lock:
            target = self.clock.now() + int(seconds * 1000)
            # attempts already running settle first; those appended from here on are what fired
            watched: list[tuple[Message | None, asyncio.Task[Attempt]]] = [(None, t) for t in self.inflight.values()]
            already = len(watched)
            self._watchers.append(watched)
            deadline = time.monotonic() + self.options.advance_wait_s
            try:
                while True:
                    self.fire_due()
                    await _finish_watched(watched, deadline)
                    upcoming = self.next_due()
                    if upcoming is None or upcoming > target or time.monotonic() > deadline:
                        break
                    self.clock.jump_to(upcoming)
                self.clock.jump_to(target)
                self.fire_due()
                await _finish_watched(watched, deadline)
            finally:
                self._watchers.remove(watched)
                self._wake.set()
            await self.writer.write(("SET", store.CLOCK, str(self.clock.offset_ms)))
            return self.clock.now(), [_outcome(msg, task) for msg, task in watched[already:] if msg is not None]


def _outcome(msg: Message, task: asyncio.Task[Attempt]) -> Attempt:
    if task.done() and not task.cancelled() and task.exception() is None:
        return task.result()
    return Attempt.of(msg, "pending" if not task.done() else "error")


async def _finish_watched(watched: list[tuple[Message | None, asyncio.Task[Attempt]]], deadline: float) -> None:
    """Wait for the watched attempts, including those their outcomes start, until ``deadline``."""
    while True:
        pending = [t for _, t in watched if not t.done()]
        remaining = deadline - time.monotonic()
        if not pending or remaining <= 0:
            return
        await asyncio.wait(pending, timeout=remaining)

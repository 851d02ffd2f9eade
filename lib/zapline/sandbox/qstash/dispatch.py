"""From "due" to "done": the gates a message passes, its attempts, and what each outcome does.

A due message passes three gates in order: its queue's FIFO and parallelism slot, its flow-control
key (parallelism and rate, per attempt), and the sandbox-wide delivery parallelism. Then one
attempt runs; its outcome is DELIVERED, RETRY (after a backoff, through the gates again) or
FAILED (to the DLQ), with callbacks published as new messages. Redis writes for outcomes are
submitted without waiting: a message stays in ``qstash:messages`` until its outcome is written, so
an attempt cut short by a shutdown is simply made again after the restart (at least once).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections import OrderedDict, deque
from dataclasses import replace

from zapline.sandbox.qstash.attempts import Attempt
from zapline.sandbox.qstash.clock import Clock, real_ms
from zapline.sandbox.qstash.config import Options
from zapline.sandbox.qstash.delivery import Deliverer
from zapline.sandbox.qstash.events import EventLog
from zapline.sandbox.qstash.factory import build_callback, is_non_retryable, retry_delay_ms
from zapline.sandbox.qstash.flow import FlowKey
from zapline.sandbox.qstash.ids import dlq_id
from zapline.sandbox.qstash.model import DlqEntry, FlowSpec, Message, Response
from zapline.sandbox.qstash.queues import Queue
from zapline.sandbox.qstash.schedules import Schedule
from zapline.sandbox.qstash.signing import Signer
from zapline.sandbox.qstash.store import DLQ, FLOW, MESSAGES, SCHEDULES, Command, Writer, dumps
from zapline.sandbox.resp import Pool

__all__ = ["Dispatcher"]

log = logging.getLogger("zapline.sandbox.qstash")


class Dispatcher:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.clock = Clock()
        self.signer = Signer(options.current_signing_key, options.next_signing_key)
        self.pool = Pool(options.redis_url)
        self.writer = Writer(self.pool)
        self.deliverer = Deliverer(
            self.signer,
            max_timeout=options.max_timeout,
            max_response_body=options.max_response_body,
            connections=options.global_parallelism,
            region=options.region,
        )
        self.events = EventLog(options.max_events)
        self.messages: dict[str, Message] = {}  # not finished yet
        self.finished: OrderedDict[str, Message] = OrderedDict()
        self.queues: dict[str, Queue] = {}
        self.flows: dict[str, FlowKey] = {}
        self.schedules: dict[str, Schedule] = {}
        self.dlq: dict[str, DlqEntry] = {}
        self.inflight: dict[str, asyncio.Task[Attempt]] = {}
        self.attempts_started = 0
        self._seq = 0
        self._due: list[tuple[int, int, Message]] = []
        self._flow_timers: list[tuple[int, str]] = []
        self._flow_held: set[str] = set()
        self._global_active = 0
        self._global_wait: deque[Message] = deque()
        self._watchers: list[list[tuple[Message | None, asyncio.Task[Attempt]]]] = []  # see Engine.advance
        self._wake = asyncio.Event()

    # -- bookkeeping ---------------------------------------------------------------------------

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def continue_sequence(self, last: int) -> None:
        self._seq = max(self._seq, last)

    def live(self, msg: Message) -> bool:
        return self.messages.get(msg.id) is msg

    @staticmethod
    def hset(msg: Message) -> Command:
        return ("HSET", MESSAGES, msg.id, dumps(msg.to_record()))

    def flow_key(self, spec: FlowSpec) -> FlowKey:
        fk = self.flows.get(spec.key)
        if fk is None:
            fk = self.flows[spec.key] = FlowKey(spec.key)
            fk.configure(spec)
        elif not fk.configure(spec):
            return fk
        self.writer.submit(("HSET", FLOW, fk.key, dumps(fk.to_record())))
        return fk

    def register(self, msg: Message) -> None:
        """Take charge of a persisted message: log it and arm it for its due time."""
        self.messages[msg.id] = msg
        if msg.queue and (queue := self.queues.get(msg.queue)):
            queue.pending += 1
        if msg.flow:
            self.flow_key(msg.flow)
        now = self.clock.now()
        self.events.add(now, "CREATED", msg, next_delivery=msg.due if msg.due > now else None)
        self.arm(msg)

    def arm(self, msg: Message) -> None:
        if msg.due <= self.clock.now():
            self._route(msg)
            return
        heapq.heappush(self._due, (msg.due, msg.seq, msg))
        if self._due[0][2] is msg:
            self._wake.set()

    def next_due(self) -> int | None:
        heads = [heap[0][0] for heap in (self._due, self._flow_timers) if heap]
        return min(heads) if heads else None

    def fire_due_messages(self, now: int) -> None:
        while self._due and self._due[0][0] <= now:
            due, _, msg = heapq.heappop(self._due)
            if self.live(msg) and msg.due == due and msg.id not in self.inflight:
                self._route(msg)
        while self._flow_timers and self._flow_timers[0][0] <= now:
            at, key = heapq.heappop(self._flow_timers)
            fk = self.flows.get(key)
            if fk is not None and fk.timer_at == at:
                fk.timer_at = None
                self.pump_flow(fk)

    # -- the gates -------------------------------------------------------------------------------

    def _route(self, msg: Message) -> None:
        if msg.queue and msg.slot_queue is None:
            queue = self.queues.get(msg.queue)
            if queue is None:  # the queue was deleted under it
                self.events.add(self.clock.now(), "CANCELED", msg, error=f"queue {msg.queue} was deleted")
                self.finish(msg, "CANCELED", [("HDEL", MESSAGES, msg.id)])
                return
            queue.fifo.append(msg)
            self.pump_queue(queue)
            return
        self._admit_flow(msg)

    def pump_queue(self, queue: Queue) -> None:
        while not queue.paused and queue.active < queue.parallelism and queue.fifo:
            msg = queue.fifo.popleft()
            if not self.live(msg):
                continue
            msg.slot_queue = queue.name
            queue.active += 1
            self.writer.submit(self.hset(msg))  # the slot survives a restart
            self._admit_flow(msg)

    def _admit_flow(self, msg: Message) -> None:
        if msg.flow is None:
            self._admit_global(msg)
            return
        fk = self.flows.get(msg.flow.key) or self.flow_key(msg.flow)
        fk.waitlist.append(msg)
        self.pump_flow(fk)

    def pump_flow(self, fk: FlowKey) -> None:
        now = self.clock.now()
        while fk.waitlist:
            msg = fk.waitlist[0]
            if not self.live(msg) or msg.id in self.inflight:
                fk.waitlist.popleft()
                continue
            if not fk.try_start(now):
                break
            fk.waitlist.popleft()
            self._flow_held.add(msg.id)
            self._admit_global(msg)
        if fk.waitlist and not fk.paused and fk.rate_blocked(now) and fk.timer_at != fk.window_end:
            fk.timer_at = fk.window_end
            heapq.heappush(self._flow_timers, (fk.window_end, fk.key))
            self._wake.set()

    def _release_flow(self, msg: Message) -> None:
        if msg.id in self._flow_held and msg.flow:
            self._flow_held.discard(msg.id)
            fk = self.flows.get(msg.flow.key)
            if fk is not None:
                fk.inflight = max(0, fk.inflight - 1)
                self.pump_flow(fk)

    def _admit_global(self, msg: Message) -> None:
        if self._global_active >= self.options.global_parallelism:
            self._global_wait.append(msg)
            return
        self._start(msg)

    def _pump_global(self) -> None:
        while self._global_wait and self._global_active < self.options.global_parallelism:
            msg = self._global_wait.popleft()
            if self.live(msg) and msg.id not in self.inflight:
                self._start(msg)
            else:
                self._release_flow(msg)

    # -- attempts --------------------------------------------------------------------------------

    def _start(self, msg: Message) -> None:
        self._global_active += 1
        self.attempts_started += 1
        msg.state = "ACTIVE"
        self.events.add(self.clock.now(), "ACTIVE", msg)
        task = asyncio.create_task(self._attempt(msg), name=f"qstash-attempt-{msg.id}")
        self.inflight[msg.id] = task
        for watcher in self._watchers:
            watcher.append((msg, task))

    async def _attempt(self, msg: Message) -> Attempt:
        response = await self.deliverer.send(msg)  # cancelled at shutdown: nothing is recorded
        self.inflight.pop(msg.id, None)
        self._global_active -= 1
        try:
            self._release_flow(msg)
            return self._settle(msg, response)
        except Exception:
            log.exception("qstash: settling message %s failed", msg.id)
            return Attempt.of(msg, "error", response)
        finally:
            self._pump_global()

    def _settle(self, msg: Message, response: Response) -> Attempt:
        now = self.clock.now()
        attempt = Attempt.of(msg, "delivered", response)
        if response.ok:
            self.events.add(now, "DELIVERED", msg, response=response)
            callback = self._callback(msg, response, now)
            self.finish(msg, "DELIVERED", [("HDEL", MESSAGES, msg.id)], callback)
            return attempt
        error = response.error or f"the destination answered {response.status}"
        attempt = replace(attempt, error=error)
        self.events.add(now, "ERROR", msg, error=error, response=response)
        if msg.cancel_requested:
            self.events.add(now, "CANCELED", msg)
            self.finish(msg, "CANCELED", [("HDEL", MESSAGES, msg.id)])
            return replace(attempt, outcome="canceled")
        if msg.retried < msg.max_retries and not is_non_retryable(response):
            callback = self._callback(msg, response, now)
            msg.due = now + retry_delay_ms(msg, response, real_ms())
            msg.retried += 1
            msg.state = "RETRY"
            self.events.add(now, "RETRY", msg, error=error, next_delivery=msg.due, response=response)
            self.writer.submit(self.hset(msg), *([self.hset(callback)] if callback else []))
            if callback:
                self.register(callback)
            self.arm(msg)
            return replace(attempt, outcome="retry", next_delivery=msg.due)
        self.events.add(now, "FAILED", msg, error=error, response=response)
        entry = DlqEntry(self._new_dlq_id(now), msg, response, now)
        self.dlq[entry.dlq_id] = entry
        callback = self._callback(msg, response, now)
        failure = None
        if msg.failure_callback:
            failure = build_callback(msg, msg.failure_callback, response, now=now, seq=self.next_seq,
                                     kind="failure_callback", dlq_id=entry.dlq_id)  # fmt: skip
        commands: list[Command] = [("HDEL", MESSAGES, msg.id), ("HSET", DLQ, entry.dlq_id, dumps(entry.to_record()))]
        also = callback if failure else None  # both callbacks: the failure callback inherits the slot
        if also:
            commands.append(self.hset(also))
        self.finish(msg, "FAILED", commands, failure or callback)
        if also:
            self.register(also)
        return replace(attempt, outcome="dlq", dlq_id=entry.dlq_id)

    def _callback(self, msg: Message, response: Response, now: int) -> Message | None:
        if msg.callback is None:
            return None
        return build_callback(msg, msg.callback, response, now=now, seq=self.next_seq, kind="callback")

    def _new_dlq_id(self, now: int) -> str:
        new = dlq_id(now)
        while new in self.dlq:
            new = dlq_id(now)
        return new

    def finish(self, msg: Message, state: str, commands: list[Command], successor: Message | None = None) -> None:
        """``msg`` is done: forget it, free what it held, hand its queue slot to ``successor``."""
        self.messages.pop(msg.id, None)
        msg.state = state
        self.finished[msg.id] = msg
        while len(self.finished) > self.options.finished_retention:
            self.finished.popitem(last=False)
        self._release_flow(msg)
        queue = self.queues.get(msg.queue) if msg.queue else None
        if queue is not None:
            queue.pending = max(0, queue.pending - 1)
        schedule = self.schedules.get(msg.schedule_id) if msg.schedule_id else None
        if schedule is not None and msg.id in schedule.last_states:
            schedule.last_states[msg.id] = "SUCCESS" if state == "DELIVERED" else "FAIL"
            commands.append(("HSET", SCHEDULES, schedule.id, dumps(schedule.to_record())))
        holder = self.queues.get(msg.slot_queue) if msg.slot_queue else None
        if successor is not None:
            successor.slot_queue = msg.slot_queue if holder else None
            commands.append(self.hset(successor))
        self.writer.submit(*commands)
        if successor is not None:
            self.register(successor)
        elif holder is not None:
            holder.active = max(0, holder.active - 1)
            self.pump_queue(holder)

    def cancel(self, msg: Message) -> None:
        now = self.clock.now()
        self.events.add(now, "CANCEL_REQUESTED", msg)
        if msg.id in self.inflight:  # too late for this attempt; no retry after it
            msg.cancel_requested = True
            self.writer.submit(self.hset(msg))
            return
        self.events.add(now, "CANCELED", msg)
        self.finish(msg, "CANCELED", [("HDEL", MESSAGES, msg.id)])

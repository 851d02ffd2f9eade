"""Rebuilding the engine's memory from Redis at start-up (see ``store`` for the keys).

Messages come back in acceptance order: those that hold a queue slot take it again, the others are
armed for their due time, which for an attempt cut short by the shutdown is already past, so it
is made again at once (at least once). Schedules plan their next firing from the restored clock.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from zapline.sandbox.qstash import store
from zapline.sandbox.qstash.flow import FlowKey
from zapline.sandbox.qstash.model import DlqEntry, Message
from zapline.sandbox.qstash.queues import Queue
from zapline.sandbox.qstash.schedules import Schedule
from zapline.sandbox.qstash.topics import Topic

if TYPE_CHECKING:
    from zapline.sandbox.qstash.engine import Engine

__all__ = ["restore"]

log = logging.getLogger("zapline.sandbox.qstash")


def dlq_order(dlq_id: str) -> tuple[int, int]:
    ms, _, n = dlq_id.partition("-")
    return (int(ms), int(n)) if ms.isdigit() and n.isdigit() else (0, 0)


def restore(engine: Engine, data: dict[str, dict[str, str]]) -> None:
    def records(key: str) -> list[dict[str, Any]]:
        return [json.loads(v) for v in data[key].values()]

    if "offset" in data[store.CLOCK]:
        engine.clock.offset_ms = int(data[store.CLOCK]["offset"])
    keys = data[store.KEYS]
    if keys.get("current") and keys.get("next"):  # rotated keys win over the configured ones
        engine.signer.current, engine.signer.next = keys["current"], keys["next"]
    now = engine.clock.now()
    engine.queues = {q.name: q for q in map(Queue.from_record, records(store.QUEUES))}
    engine.topics = {t.name: t for t in map(Topic.from_record, records(store.TOPICS))}
    engine.flows = {f.key: f for f in map(FlowKey.from_record, records(store.FLOW))}
    entries = sorted(map(DlqEntry.from_record, records(store.DLQ)), key=lambda e: dlq_order(e.dlq_id))
    engine.dlq = {e.dlq_id: e for e in entries}
    for key, value in data[store.DEDUP].items():
        message_id, _, expiry = value.partition(" ")
        if int(expiry or 0) > now:
            engine.dedup[key] = (message_id, int(expiry))
    for schedule in map(Schedule.from_record, records(store.SCHEDULES)):
        engine.schedules[schedule.id] = schedule
        engine.plan(schedule, now)
    messages = sorted(map(Message.from_record, records(store.MESSAGES)), key=lambda m: m.seq)
    engine.continue_sequence(max((m.seq for m in messages), default=0))
    for msg in messages:
        engine.messages[msg.id] = msg
        if msg.queue and (queue := engine.queues.get(msg.queue)):
            queue.pending += 1
        if msg.slot_queue:
            if (holder := engine.queues.get(msg.slot_queue)) is not None:
                holder.active += 1
            else:
                msg.slot_queue = None
    for msg in messages:
        if msg.cancel_requested:
            engine.events.add(now, "CANCELED", msg)
            engine.finish(msg, "CANCELED", [("HDEL", store.MESSAGES, msg.id)])
        else:
            engine.arm(msg)
    log.info("qstash: restored %d pending messages and %d schedules", len(engine.messages), len(engine.schedules))

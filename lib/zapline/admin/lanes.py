"""Pausing and resuming an organisation's send lanes, and showing their state and backlog.

A send lane of one instance is the QStash flow-control key ``send:<lane>:<instance>``. QStash pauses
a flow-control key itself (``POST /v2/flowControl/{key}/pause``): its messages, and every new one,
wait in QStash's waitlist until it is resumed — no delivery, no retry, no extra message while paused,
nothing dropped. That is the pause. It cannot pause a key it has not seen yet (no message used it),
so each instance's hash also carries a flag, ``paused:<lane>``, which the send job's claim reads with
the instance's credentials (no extra command): a message that reaches the job through a key QStash
did not pause leaves it pending, pauses the key and answers 503, and its retry waits in the waitlist.

Pausing sets the flags first, then pauses the keys; resuming clears the flags first, then resumes the
keys, so a send job that pauses a key in between sees the cleared flag and resumes it. Both are
idempotent (a second pause keeps the first pauser and time) and logged with the acting key's prefix.
A lane pause covers the organisation's instances at that moment: pause again after adding one.
"""

from __future__ import annotations

import asyncio
from typing import Any

from zapline import qstash
from zapline.admin.operations import Actor
from zapline.clients import redis_client
from zapline.errors import NotFound
from zapline.logs import get_logger
from zapline.store.clock import now_ms
from zapline.store.keys import OrgKeys, lane_paused_field
from zapline.store.scripts import run_redis

__all__ = ["check_lane", "listing", "pause", "resume"]

log = get_logger("zapline.admin.lanes")


def check_lane(lane: str | None) -> tuple[str, ...]:
    """The lanes an operation names: one, or (``None``) all of them."""
    if lane is None:
        return qstash.LANES
    if lane not in qstash.LANES:
        raise NotFound(f"no lane {lane[:64]}: lanes are {', '.join(qstash.LANES)}")
    return (lane,)


async def _instances(org_id: str) -> dict[str, str]:
    """The organisation's instances, id → name."""
    named: dict[str, str] = await run_redis(redis_client().hgetall(OrgKeys(org_id).instances))
    return {instance_id: name for name, instance_id in sorted(named.items())}


async def _qstash_all(action: Any, keys: list[str]) -> dict[str, bool]:
    results = await asyncio.gather(*(action(key) for key in keys))
    return dict(zip(keys, results, strict=True))


async def _apply(actor: Actor, lanes: tuple[str, ...], *, paused: bool) -> dict[str, Any]:
    org = OrgKeys(actor.org_id)
    instances = await _instances(actor.org_id)
    pairs = [(lane, instance_id) for lane in lanes for instance_id in instances]
    changed: list[Any] = []
    if pairs:
        pipe = redis_client().pipeline()
        mark = f"{actor.key_prefix}|{now_ms()}"
        for lane, instance_id in pairs:
            if paused:
                pipe.hsetnx(org.instance(instance_id), lane_paused_field(lane), mark)
            else:
                pipe.hdel(org.instance(instance_id), lane_paused_field(lane))
        changed = await run_redis(pipe.exec())
    keys = [qstash.lane_flow_control(lane, instance_id).key for lane, instance_id in pairs]
    known = await _qstash_all(qstash.pause_flow_control if paused else qstash.resume_flow_control, keys)
    verb = "paused" if paused else "resumed"
    out = []
    for lane in lanes:
        rows = [
            {"instance_id": instance_id, "name": instances[instance_id], "changed": bool(change),
             "qstash": verb if known[key] else "no messages yet"}
            for (row_lane, instance_id), change, key in zip(pairs, changed, keys, strict=True) if row_lane == lane
        ]  # fmt: skip
        out.append({"lane": lane, "paused": paused, "changed": any(r["changed"] for r in rows), "instances": rows})
        log.info(f"lane {verb}", org=actor.org_id, key_prefix=actor.key_prefix, lane=lane,
                 changed=out[-1]["changed"], instances=len(rows))  # fmt: skip
    return {"lanes": out}


async def pause(actor: Actor, lane: str | None = None) -> dict[str, Any]:
    """Hold ``lane`` (or every lane) of each of the organisation's instances: nothing is sent on it."""
    return await _apply(actor, check_lane(lane), paused=True)


async def resume(actor: Actor, lane: str | None = None) -> dict[str, Any]:
    """Send again on ``lane`` (or every lane); what waited is sent, once."""
    return await _apply(actor, check_lane(lane), paused=False)


async def listing(org_id: str) -> dict[str, Any]:
    """Each lane: paused or not, who paused it and when, and its backlog (QStash's waitlists)."""
    org = OrgKeys(org_id)
    instances = await _instances(org_id)
    flags: list[list[str | None]] = []
    if instances:
        pipe = redis_client().pipeline()
        for instance_id in instances:
            pipe.hmget(org.instance(instance_id), *(lane_paused_field(lane) for lane in qstash.LANES))
        flags = await run_redis(pipe.exec())
    in_qstash = {str(k.get("flowControlKey")): k for k in await qstash.flow_control_keys("send:")}
    lanes = []
    for index, lane in enumerate(qstash.LANES):
        rows: list[dict[str, Any]] = []
        for instance_id, instance_flags in zip(instances, flags, strict=True):
            flag = instance_flags[index]
            by, _, at = (flag or "").partition("|")
            key = in_qstash.get(qstash.lane_flow_control(lane, instance_id).key, {})
            rows.append({
                "instance_id": instance_id, "name": instances[instance_id], "paused": flag is not None,
                "paused_by": by or None, "paused_at": int(at) if at.isdigit() else None,
                "qstash_paused": bool(key.get("isPaused")), "waiting": int(key.get("waitListSize") or 0),
            })  # fmt: skip
        paused = bool(rows) and all(r["paused"] for r in rows)
        state = "paused" if paused else "partly paused" if any(r["paused"] for r in rows) else "running"
        lanes.append({"lane": lane, "state": state, "paused": paused, "backlog": sum(r["waiting"] for r in rows),
                      "instances": rows})  # fmt: skip
    return {"lanes": lanes}

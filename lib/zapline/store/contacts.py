"""The contact sync's state (``lua/contacts.lua``): each instance's run and cursor, and per contact the
digest of what the sync last applied, so that an unchanged contact costs no write.

A run is identified by its firing (``run``); its cursor (the offset of the next batch) is saved after
every batch. A run that stopped (a batch dead-lettered) is resumed at that cursor by the next one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from zapline.clients import redis_client
from zapline.errors import StoreRejected
from zapline.store.clock import now_ms
from zapline.store.keys import FIELDS, OrgKeys
from zapline.store.scripts import Script, run_redis, script_json

__all__ = [
    "Claim",
    "Started",
    "advance",
    "claim_batch",
    "find_leads",
    "instance_ids",
    "read_digests",
    "save_digests",
    "start_runs",
]


async def _run(org_id: str, op: str, **args: Any) -> dict[str, Any]:
    payload = {"now": now_ms(), **args}
    raw = await Script.load("contacts").run([OrgKeys(org_id).org], [op, script_json(payload)])
    result: dict[str, Any] = json.loads(raw)
    if result.get("error"):
        raise StoreRejected(f"contact sync state: {result['error']}", org=org_id)
    return result


@dataclass(frozen=True)
class Started:
    instance_id: str
    offset: int  # where the run's first batch starts: 0, or the cursor a stopped run left
    how: Literal["fresh", "resumed", "again"]  # again: this run had started already


async def start_runs(org_id: str, instance_ids: list[str], run: str) -> list[Started]:
    """Start run ``run`` for each instance (idempotent per run)."""
    if not instance_ids:
        return []
    result = await _run(org_id, "start", instances=instance_ids, run=run)
    return [Started(str(i), int(offset), how) for i, offset, how in result.get("started") or []]


@dataclass(frozen=True)
class Claim:
    outcome: Literal["go", "done", "superseded"]
    successor: int | None = None  # done: the next batch's offset, to publish again (its publish may have failed)


async def claim_batch(org_id: str, instance_id: str, run: str, offset: int, batch: int) -> Claim:
    result = await _run(org_id, "claim", instance_id=instance_id, run=run, offset=offset, batch=batch)
    successor = result.get("successor")
    return Claim(result["outcome"], int(successor) if isinstance(successor, int | float) else None)


async def advance(
    org_id: str, instance_id: str, run: str, offset: int, *, next_offset: int | None, end_offset: int,
    counts: Mapping[str, int],
) -> bool:  # fmt: skip
    """Record the batch at ``offset`` done and save the cursor (``next_offset``; None: the run is done).
    False when the batch was recorded already or another run took over."""
    args: dict[str, Any] = {"instance_id": instance_id, "run": run, "offset": offset, "end_offset": end_offset,
                            "counts": {k: v for k, v in counts.items() if v} or {"seen": 0}}  # fmt: skip
    if next_offset is not None:
        args["next"] = next_offset
    result = await _run(org_id, "advance", **args)
    return bool(result["outcome"] == "advanced")


async def instance_ids(org_id: str) -> list[str]:
    """Every instance of the organisation."""
    ids: list[str] = await run_redis(redis_client().hvals(OrgKeys(org_id).instances))
    return sorted(ids)


async def find_leads(org_id: str, phones: list[str | None], lids: list[str | None]) -> list[str | None]:
    """The lead of each contact, by its E.164 phone, else by its LID (one HMGET)."""
    fields = [p or "-" for p in phones] + [FIELDS["lead_lid"].format(lid) if lid else "-" for lid in lids]
    if not fields:
        return []
    found: list[str | None] = await run_redis(redis_client().hmget(OrgKeys(org_id).lead_index, *fields))
    by_phone, by_lid = found[: len(phones)], found[len(phones) :]
    return [p or lid or None for p, lid in zip(by_phone, by_lid, strict=True)]


async def read_digests(org_id: str, instance_id: str, jids: list[str]) -> list[str | None]:
    if not jids:
        return []
    found: list[str | None] = await run_redis(redis_client().hmget(OrgKeys(org_id).contact_digests(instance_id), *jids))
    return found


async def save_digests(org_id: str, instance_id: str, digests: Mapping[str, str]) -> None:
    if digests:
        await run_redis(redis_client().hset(OrgKeys(org_id).contact_digests(instance_id), values=dict(digests)))

"""Retention in Redis: one typed function per operation of ``lua/retention.lua``, and the setting.

What grows with traffic and what takes it away:

- messages (``msg:<id>``) and their entries in ``conv:<id>:msgs``: :func:`trim`, once older than the
  organisation's retention period (``message_days``, default 180). It visits only the conversations
  of ``retention:convs`` whose oldest message is older than the cutoff; :func:`feed` adds the
  conversations active since its last run (read from the inbox by time), so a run costs what the
  traffic since the last one costs, not what the organisation holds.
- a deleted message's own WhatsApp-id alias (``wa:<instance>:<wa id>``, ours or older than 0.2)
  goes with it; the aliases its edits and reactions left are named nowhere but in their key, so
  :func:`sweep_aliases` SCANs for them (``MATCH`` on this organisation) once enough are orphaned.
- a closed conversation whose last message left (no survey or timer pending) goes too; its lead stays.
- dead letters: :func:`expired_dead_letters` (the list is capped, so reading it whole is bounded).
- a campaign's recipients (its list, per-recipient marks and held sends: what grows with its size):
  :func:`prune_campaigns`, once it ended (completed or cancelled) before the messages' cutoff; its
  hash stays, counters and all, marked ``pruned_at``.
- ``early:*``, ``dead-seen:*`` and every other marker carry a TTL: Redis deletes them itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from zapline.clients import redis_client
from zapline.store import deadletters
from zapline.store.clock import now_ms
from zapline.store.keys import FIELDS, OrgKeys
from zapline.store.scripts import Script, run_redis, script_json

__all__ = [
    "DEAD_LETTER_DAYS",
    "DEFAULT_MESSAGE_DAYS",
    "MAX_MESSAGE_DAYS",
    "MIN_MESSAGE_DAYS",
    "AliasSweep",
    "Fed",
    "Trimmed",
    "expired_dead_letters",
    "feed",
    "finish",
    "last_run",
    "message_days",
    "prune_campaigns",
    "set_message_days",
    "sweep_aliases",
    "trim",
]

DAY_MS = 86_400_000
DEFAULT_MESSAGE_DAYS = 180
MIN_MESSAGE_DAYS, MAX_MESSAGE_DAYS = 7, 3650
DEAD_LETTER_DAYS = 7
# A message WhatsApp delivers late still joins the index when its conversation was active this
# long before the last feed; a later message in the same conversation indexes it anyway.
FEED_LOOKBACK_MS = DAY_MS
SCAN_COUNT = 1000  # keys SCAN visits per call (it visits the whole keyspace, matching or not)


async def _run(org_id: str, op: str, **args: Any) -> dict[str, Any]:
    raw = await Script.load("retention").run([OrgKeys(org_id).org], [op, script_json(args)])
    result: dict[str, Any] = json.loads(raw)
    return result


# --- the setting -------------------------------------------------------------------------------


async def message_days(org_id: str) -> int:
    """How many days the organisation keeps messages (``DEFAULT_MESSAGE_DAYS`` unless it set its own)."""
    raw = await run_redis(redis_client().hget(OrgKeys(org_id).org, FIELDS["retention_days"]))
    try:
        days = int(raw)
    except (TypeError, ValueError):
        return DEFAULT_MESSAGE_DAYS
    return min(max(days, MIN_MESSAGE_DAYS), MAX_MESSAGE_DAYS)


async def set_message_days(org_id: str, days: int) -> int:
    if not MIN_MESSAGE_DAYS <= days <= MAX_MESSAGE_DAYS:
        raise ValueError(f"message_days must be {MIN_MESSAGE_DAYS}..{MAX_MESSAGE_DAYS}")
    await run_redis(redis_client().hset(OrgKeys(org_id).org, FIELDS["retention_days"], str(days)))
    return days


# --- the operations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fed:
    indexed: int  # conversations read from the inbox
    more: bool  # the inbox holds more since the last feed: the next round goes on


@dataclass(frozen=True)
class Trimmed:
    messages: int
    aliases: int  # the deleted messages' own WhatsApp-id aliases
    conversations: int  # closed conversations left with nothing, deleted
    more: bool  # the batch ran out before the old messages did


@dataclass(frozen=True)
class AliasSweep:
    aliases: int  # orphaned aliases deleted
    scanned: int  # SCAN calls made
    more: bool  # the pass is not complete: the next round goes on


async def feed(org_id: str, *, firing: str, as_of: int, limit: int) -> Fed:
    """Index up to ``limit`` conversations active since the last feed (by their oldest message); once
    the ``firing``'s feed is complete, its later rounds index nothing."""
    result = await _run(org_id, "feed", firing=firing, as_of=as_of, limit=limit, lookback_ms=FEED_LOOKBACK_MS)
    return Fed(int(result["indexed"]), bool(result["more"]))


async def trim(org_id: str, *, cutoff: int, limit: int, closed_before: int) -> Trimmed:
    """Delete up to ``limit`` messages WhatsApp-timed before ``cutoff`` (ms), with what names them, and
    the conversations they leave empty that were closed before ``closed_before`` (ms)."""
    result = await _run(org_id, "trim", cutoff=cutoff, limit=limit, closed_before=closed_before)
    return Trimmed(int(result["messages"]), int(result["aliases"]), int(result["conversations"]),
                   bool(result["more"]))  # fmt: skip


async def sweep_aliases(org_id: str, *, firing: str, threshold: int, scans: int, count: int = SCAN_COUNT) -> AliasSweep:
    """Continue (or, once ``threshold`` aliases are owed, begin: once per ``firing`` at most) a SCAN
    of this organisation's ``wa:*`` aliases, at most ``scans`` SCAN calls of ``count`` keys,
    deleting those whose message is gone."""
    keys = OrgKeys(org_id)
    redis = redis_client()
    state = await run_redis(redis.hmget(keys.retention_state, "alias_cursor", "alias_debt", "alias_for"))
    cursor, debt, began_for = state
    if cursor is None and (int(debt or 0) < threshold or began_for == firing):
        return AliasSweep(0, 0, False)
    position, found, calls = int(cursor or 0), [], 0
    pattern = keys.wa_message("*", "*")
    while calls < scans:
        position, batch = await run_redis(redis.scan(position, match=pattern, count=count))
        position = int(position)
        found.extend(batch)
        calls += 1
        if position == 0:
            break
    result = await _run(org_id, "aliases", keys=found, cursor=str(position), firing=firing)
    return AliasSweep(int(result["aliases"]), calls, position != 0)


async def prune_campaigns(org_id: str, *, cutoff: int, limit: int) -> tuple[int, bool]:
    """Delete the recipients of up to ``limit`` campaigns that ended before ``cutoff`` (ms); how many,
    and whether more are due."""
    result = await _run(org_id, "campaigns", cutoff=cutoff, limit=limit, now=now_ms())
    return int(result["campaigns"]), bool(result["more"])


async def expired_dead_letters(org_id: str, *, cutoff: int, limit: int) -> list[deadletters.DeadLetter]:
    """Up to ``limit`` dead letters recorded before ``cutoff`` (ms), oldest first."""
    old = [letter for letter in await deadletters.all_dead_letters(org_id) if letter.at < cutoff]
    return old[::-1][:limit]


async def finish(
    org_id: str, *, local_time: str, round: int, counts: dict[str, int], more: bool, cutoff: int, days: int
) -> dict[str, Any]:
    """Add one round's counts to its firing's totals (once per round) in ``last_run``."""
    return await _run(org_id, "finish", local_time=local_time, round=round, counts=counts, more=more,
                      cutoff=cutoff, message_days=days, now=now_ms())  # fmt: skip


async def last_run(org_id: str) -> dict[str, Any] | None:
    """The latest firing of the retention job: its local time, rounds, totals, and whether it finished."""
    raw = await run_redis(redis_client().hget(OrgKeys(org_id).retention_state, "last_run"))
    if not raw:
        return None
    run: dict[str, Any] = json.loads(raw)
    if not isinstance(run.get("totals"), dict):  # cjson writes an empty table as {} or []
        run["totals"] = {}
    return run

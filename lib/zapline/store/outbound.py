"""Outbound messages in Redis: the Python side of ``lua/outbound.lua`` and ``lua/automation.lua``."""

from __future__ import annotations

import json
from typing import Any

from zapline.errors import Conflict, NotFound
from zapline.store.clock import now_ms, org_day
from zapline.store.keys import DAILY_COUNTER_TTL, OrgKeys
from zapline.store.scripts import Script, script_json

__all__ = ["automation", "outbound"]


async def _script(name: str, org_id: str, op: str, **args: Any) -> dict[str, Any]:
    payload = {"now": now_ms(), "day": await org_day(org_id), "day_ttl": DAILY_COUNTER_TTL, **args}
    raw = await Script.load(name).run([OrgKeys(org_id).org], [op, script_json(payload)])
    result: dict[str, Any] = json.loads(raw)
    error = result.get("error")
    if error == "opted_out":
        raise Conflict("the lead opted out of messages", org=org_id)
    if error:
        what = {"no_conversation": "conversation", "no_message": "message", "no_lead": "lead"}.get(error, error)
        record_id = args.get(f"{what}_id")
        raise NotFound(f"no {what} {record_id}" if isinstance(record_id, str) else f"no such {what}", org=org_id)
    return result


async def outbound(org_id: str, op: str, **args: Any) -> dict[str, Any]:
    """create | claim | release | failed (see lua/outbound.lua); ``sent`` is ``store.ingest.record_sent``."""
    return await _script("outbound", org_id, op, **args)


async def automation(org_id: str, op: str, **args: Any) -> dict[str, Any]:
    """close | followup_arm | followup_fire | nps_claim | nps_sent | nps_expire | opt_out."""
    return await _script("automation", org_id, op, **args)

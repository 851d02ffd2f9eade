"""Outbound messages and the conversation loop in Redis: one typed Python function per operation of
``lua/outbound.lua`` and ``lua/automation.lua``.

Each function runs one script (one round trip) and answers a typed result: the scripts keep the
storage invariants (a send is claimed once, receipts only move forward, a stale timer is stale),
the callers decide what follows from the result. A missing record raises ``RecordMissing`` and an
opted-out lead ``LeadOptedOut``: both permanent, so a job is not retried for them and the operator
API answers 404 / 409.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from zapline.errors import LeadOptedOut, RecordMissing
from zapline.store.clock import now_ms, org_day_hour
from zapline.store.keys import DAILY_COUNTER_TTL, OrgKeys
from zapline.store.scripts import Script, script_json

__all__ = [
    "Armed",
    "Busy",
    "Claimed",
    "Closed",
    "Created",
    "Done",
    "Fire",
    "OptedOut",
    "Paused",
    "Stale",
    "Stopped",
    "SurveyClaim",
    "arm_followup",
    "claim_nps",
    "claim_send",
    "close",
    "create_outbound",
    "expire_nps",
    "fail_send",
    "fire_followup",
    "mark_nps_sent",
    "opt_out",
    "release_send",
]

Record = dict[str, Any]
_MISSING = {"no_conversation": "conversation", "no_message": "message", "no_lead": "lead"}


async def _run(script: str, org_id: str, op: str, **args: Any) -> Record:
    day, hour = await org_day_hour(org_id)
    payload = {"now": now_ms(), "day": day, "hour": hour, "day_ttl": DAILY_COUNTER_TTL, **args}
    raw = await Script.load(script).run([OrgKeys(org_id).org], [op, script_json(payload)])
    result: Record = json.loads(raw)
    error = result.get("error")
    if error == "opted_out":
        raise LeadOptedOut(org=org_id)
    if error in _MISSING:
        what = _MISSING[error]
        raise RecordMissing(what, args.get(f"{what}_id"), org=org_id)
    if error:
        raise RecordMissing(str(error), org=org_id)
    return result


# --- outbound messages ------------------------------------------------------------------------


@dataclass(frozen=True)
class Created:
    """A pending outbound message (``existing``: the same id was queued before)."""

    message: Record
    existing: bool = False
    followup_epoch: int | None = None  # restart_followups: the new chain's epoch
    cancel: str | None = None  # the previous chain's armed QStash message


@dataclass(frozen=True)
class Claimed:
    """This attempt holds the message: send it (after asking UAZAPI, if ``was_sending``)."""

    message: Record
    was_sending: bool
    token: str
    base_url: str


@dataclass(frozen=True)
class Busy:
    """Another attempt holds the message's lease."""

    message: Record
    retry_after_ms: int


@dataclass(frozen=True)
class Done:
    """Already sent, delivered, read — or failed for good."""

    message: Record


@dataclass(frozen=True)
class Paused:
    """The message's send lane is paused for its instance (``by``: "<key prefix>|<ms>"): not sent, still pending."""

    message: Record
    by: str


@dataclass(frozen=True)
class Stopped:
    """Not to be sent: the lead opted out (``failed``), or a follow-up was overtaken (``cancelled``)."""

    message: Record
    outcome: str


async def create_outbound(
    org_id: str, conversation_id: str, message: Record, *, preview: str, restart_followups: bool
) -> Created:
    result = await _run("outbound", org_id, "create", conversation_id=conversation_id, message=message,
                        preview=preview, restart_followups=restart_followups)  # fmt: skip
    epoch = result.get("followup_epoch")
    return Created(result["message"], result["outcome"] == "existing",
                   int(epoch) if epoch is not None else None, result.get("cancel") or None)  # fmt: skip


async def claim_send(org_id: str, message_id: str, *, lease_ms: int) -> Claimed | Busy | Done | Paused | Stopped:
    result = await _run("outbound", org_id, "claim", message_id=message_id, lease_ms=lease_ms)
    outcome, message = result["outcome"], result["message"]
    if outcome == "claimed":
        return Claimed(message, bool(result["was_sending"]), result.get("token") or "", result.get("base_url") or "")
    if outcome == "busy":
        return Busy(message, int(result["retry_after_ms"]))
    if outcome == "done":
        return Done(message)
    if outcome == "paused":
        return Paused(message, str(result.get("paused") or ""))
    return Stopped(message, outcome)


async def release_send(org_id: str, message_id: str) -> Record:
    """UAZAPI answered that it did not send: the next attempt need not wait for the lease."""
    message: Record = (await _run("outbound", org_id, "release", message_id=message_id))["message"]
    return message


async def fail_send(org_id: str, message_id: str, error: str) -> Record:
    message: Record = (await _run("outbound", org_id, "failed", message_id=message_id, error=error))["message"]
    return message


# --- the conversation loop ----------------------------------------------------------------------


@dataclass(frozen=True)
class Closed:
    conversation: Record
    already: bool  # it was not open
    cancel: str | None = None
    nps: bool = False  # a survey is to be scheduled


@dataclass(frozen=True)
class Armed:
    pass


@dataclass(frozen=True)
class Stale:
    """The timer's chain is over: the lead answered, we wrote again, the conversation closed."""

    conversation: Record | None = None


@dataclass(frozen=True)
class Fire:
    conversation: Record
    lead_name: str | None


@dataclass(frozen=True)
class SurveyClaim:
    send: bool
    state: str | None = None


@dataclass(frozen=True)
class OptedOut:
    cancel: list[str] = field(default_factory=list)


async def close(org_id: str, conversation_id: str, *, nps: bool) -> Closed:
    result = await _run("automation", org_id, "close", conversation_id=conversation_id, nps=nps)
    return Closed(result["conversation"], result["outcome"] != "closed", result.get("cancel") or None,
                  bool(result.get("nps")))  # fmt: skip


async def arm_followup(org_id: str, conversation_id: str, *, epoch: int, step: int, qstash_id: str) -> Armed | Stale:
    result = await _run("automation", org_id, "followup_arm", conversation_id=conversation_id, epoch=epoch, step=step,
                        qstash_id=qstash_id)  # fmt: skip
    return Armed() if result["outcome"] == "armed" else Stale()


async def fire_followup(org_id: str, conversation_id: str, *, epoch: int) -> Fire | Stale:
    result = await _run("automation", org_id, "followup_fire", conversation_id=conversation_id, epoch=epoch)
    if result["outcome"] == "fire":
        return Fire(result["conversation"], result.get("lead_name") or None)
    return Stale(result.get("conversation"))


async def claim_nps(org_id: str, conversation_id: str) -> SurveyClaim:
    result = await _run("automation", org_id, "nps_claim", conversation_id=conversation_id)
    return SurveyClaim(result["outcome"] == "send", result.get("state"))


async def mark_nps_sent(org_id: str, conversation_id: str, message_id: str) -> None:
    await _run("automation", org_id, "nps_sent", conversation_id=conversation_id, message_id=message_id)


async def expire_nps(org_id: str, conversation_id: str) -> bool:
    """True when an unanswered survey expired now (the conversation is closed again)."""
    result = await _run("automation", org_id, "nps_expire", conversation_id=conversation_id)
    return bool(result["outcome"] == "expired")


async def opt_out(org_id: str, lead_id: str, *, reason: str) -> OptedOut:
    result = await _run("automation", org_id, "opt_out", lead_id=lead_id, reason=reason)
    return OptedOut(list(result.get("cancel") or []))

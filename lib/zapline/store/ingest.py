"""Ingest UAZAPI events: the Python side of ``lua/ingest.lua`` (one round trip per event)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from zapline.errors import UnknownInstance
from zapline.store.clock import learn_timezone, now_ms, org_day, org_day_hour
from zapline.store.keys import DAILY_COUNTER_TTL, EARLY_EVENTS_TTL, OrgKeys
from zapline.store.registry import InstanceRef
from zapline.store.scripts import Script, script_json

if TYPE_CHECKING:  # the relay authenticates through this module and never parses a message
    from zapline.uazapi.normalize import WhatsAppMessage

__all__ = [
    "IngestResult",
    "ingest_connection",
    "ingest_message",
    "ingest_receipts",
    "ingest_self_chat",
    "ingest_unknown",
]


@dataclass(frozen=True)
class IngestResult:
    outcome: str  # stored | duplicate | echo | updated | parked | receipts | connection | ignored | self_chat
    original: str | None = None  # duplicate: what the first delivery published (created | updated)
    message: dict[str, Any] | None = None
    conversation: dict[str, Any] | None = None
    changed: list[dict[str, Any]] = field(default_factory=list)  # receipts: status moved forward
    current: list[dict[str, Any]] = field(default_factory=list)  # receipts: every message we have
    new_lead: bool = False
    new_conversation: bool = False
    status: str | None = None
    cancel: str | None = None  # a QStash follow-up message the lead's reply made stale
    nps_score: int | None = None
    opted_out: bool = False
    poll: dict[str, Any] | None = None  # a vote: the poll it answers, with its tally updated
    ai: dict[str, Any] | None = None  # its AI work: {"media", "reply", "delay"} (ingest.lua ai_work)


async def _run(ref: InstanceRef, token: str, op: str, day_ms: int, **args: Any) -> dict[str, Any]:
    now = now_ms()
    day, hour = await org_day_hour(ref.org_id, day_ms or now)
    payload = {
        "instance_id": ref.instance_id,
        "key_hash": ref.key_hash,
        "token": token,
        "now": now,
        "day": day,
        "hour": hour,
        "day_ttl": DAILY_COUNTER_TTL,
        "early_ttl": EARLY_EVENTS_TTL,
        **args,
    }
    raw = await Script.load("ingest").run([ref.keys.org], [op, script_json(payload)])
    result: dict[str, Any] = json.loads(raw)
    error = result.get("error")
    if error:
        reason = "body token does not match the instance" if error == "token_mismatch" else "no instance for this key"
        raise UnknownInstance(reason, org=ref.org_id, instance=ref.instance_id)
    learn_timezone(ref.org_id, result.pop("timezone", None))
    return result


def _drop_none(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if v is not None}  # Lua's cjson has no nil, only cjson.null


async def ingest_message(
    ref: InstanceRef, token: str, message: WhatsAppMessage, *, nps_score: int | None = None, opt_out: bool = False
) -> IngestResult:
    signals = {"nps_score": nps_score, "opt_out": opt_out or None}
    result = await _run(
        ref,
        token,
        "message",
        message.timestamp,
        message=_drop_none({**message.to_json(), **signals}),
        new_lead_id=f"lead_{secrets.token_hex(6)}",
        new_conv_id=f"conv_{secrets.token_hex(6)}",
    )
    return IngestResult(
        outcome=result["outcome"],
        original=result.get("original"),
        message=result.get("message"),
        conversation=result.get("conversation"),
        new_lead=bool(result.get("new_lead")),
        new_conversation=bool(result.get("new_conversation")),
        cancel=result.get("cancel") or None,
        nps_score=result.get("nps_score"),
        opted_out=bool(result.get("opted_out")),
        poll=result.get("poll"),
        ai=result.get("ai") or None,
    )


async def ingest_receipts(
    ref: InstanceRef, token: str, wa_ids: list[str], status: str, at_ms: int, *, chat: str = ""
) -> IngestResult:
    """``chat``: the receipt's chat JID, so one that waits for its message marks that chat."""
    result = await _run(ref, token, "receipts", at_ms, ids=wa_ids, status=status, timestamp=at_ms or now_ms(),
                        chat=chat)  # fmt: skip
    # cjson encodes an empty Lua table as {}, hence the ``or []``
    return IngestResult(
        outcome="receipts",
        changed=list(result.get("changed") or []),
        current=list(result.get("current") or []),
        status=status,
    )


async def ingest_connection(ref: InstanceRef, token: str, status: str, reason: str) -> IngestResult:
    result = await _run(ref, token, "connection", 0, status=status or "unknown", reason=reason)
    return IngestResult(outcome="connection", status=result.get("status"))


async def ingest_unknown(ref: InstanceRef, token: str, event_type: str) -> IngestResult:
    await _run(ref, token, "unknown", 0, event_type=event_type[:64])
    return IngestResult(outcome="ignored")


async def authenticate_instance(ref: InstanceRef, token: str | None) -> None:
    """The instance check alone (the relay's): the key, and the body's ``token`` unless None."""
    await _run(ref, token or "", "auth", 0, any_token=token is None)


async def ingest_self_chat(ref: InstanceRef, token: str) -> IngestResult:
    """The instance's own chat: the instance and token are checked, nothing is stored."""
    result = await _run(ref, token, "self_chat", 0)
    return IngestResult(outcome="self_chat", ai={"assistant": True} if result.get("ai") else None)


async def record_sent(org_id: str, message_id: str, wa_id: str | None, timestamp: int | None) -> dict[str, Any]:
    """UAZAPI accepted our send: the message gets WhatsApp's id and time (``sent`` in ingest.lua)."""
    payload = {"message_id": message_id, "wa_id": wa_id, "timestamp": timestamp, "now": now_ms(),
               "early_ttl": EARLY_EVENTS_TTL, "day": await org_day(org_id), "day_ttl": DAILY_COUNTER_TTL}  # fmt: skip
    raw = await Script.load("ingest").run([OrgKeys(org_id).org], ["sent", script_json(_drop_none(payload))])
    result: dict[str, Any] = json.loads(raw)
    return result

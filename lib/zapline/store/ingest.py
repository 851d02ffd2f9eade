"""Ingest UAZAPI events: the Python side of ``lua/ingest.lua`` (one round trip per event).

Daily counters belong to the organisation's local day, which needs its timezone; the script
returns the timezone with every answer, so a warm function knows it and never asks separately.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from zapline.clients import redis_client
from zapline.errors import UnknownInstance
from zapline.store.keys import DAILY_COUNTER_TTL, PENDING_RECEIPT_TTL
from zapline.store.registry import InstanceRef, now_ms
from zapline.store.scripts import Script, run_redis
from zapline.uazapi.normalize import WhatsAppMessage

__all__ = ["IngestResult", "ingest_connection", "ingest_message", "ingest_receipts", "ingest_unknown"]

_timezones: dict[str, str] = {}  # org id → IANA timezone, learnt from the script's answers


@dataclass(frozen=True)
class IngestResult:
    outcome: str  # stored | duplicate | echo | updated | receipts | connection | ignored
    message: dict[str, Any] | None = None
    conversation: dict[str, Any] | None = None
    changed: list[dict[str, Any]] = field(default_factory=list)  # receipts: status moved forward
    current: list[dict[str, Any]] = field(default_factory=list)  # receipts: every message we have
    new_lead: bool = False
    new_conversation: bool = False
    status: str | None = None


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_day(timezone: str, epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, _zone(timezone)).date().isoformat()


async def _timezone(ref: InstanceRef) -> str:
    timezone = _timezones.get(ref.org_id)
    if timezone is None:  # cold function: one extra read, once per organisation
        stored = await run_redis(redis_client().hget(ref.keys.instance(ref.instance_id), "timezone"))
        timezone = _timezones[ref.org_id] = stored or "UTC"
    return timezone


async def _run(ref: InstanceRef, token: str, op: str, day_ms: int, **args: Any) -> dict[str, Any]:
    now = now_ms()
    payload = {
        "instance_id": ref.instance_id,
        "key_hash": ref.key_hash,
        "token": token,
        "now": now,
        "day": local_day(await _timezone(ref), day_ms or now),
        "day_ttl": DAILY_COUNTER_TTL,
        "rcpt_ttl": PENDING_RECEIPT_TTL,
        **args,
    }
    raw = await Script.load("ingest").run([ref.keys.org], [op, json.dumps(payload, separators=(",", ":"))])
    result: dict[str, Any] = json.loads(raw)
    error = result.get("error")
    if error:
        reason = "body token does not match the instance" if error == "token_mismatch" else "no instance for this key"
        raise UnknownInstance(reason, org=ref.org_id, instance=ref.instance_id)
    _timezones[ref.org_id] = result.pop("timezone", None) or _timezones.get(ref.org_id, "UTC")
    return result


def _drop_none(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if v is not None}  # Lua's cjson has no nil, only cjson.null


async def ingest_message(ref: InstanceRef, token: str, message: WhatsAppMessage) -> IngestResult:
    result = await _run(
        ref,
        token,
        "message",
        message.timestamp,
        message=_drop_none(message.to_json()),
        new_lead_id=f"lead_{secrets.token_hex(6)}",
        new_conv_id=f"conv_{secrets.token_hex(6)}",
        new_message_id=f"msg_{secrets.token_hex(8)}",
    )
    return IngestResult(
        outcome=result["outcome"],
        message=result.get("message"),
        conversation=result.get("conversation"),
        new_lead=bool(result.get("new_lead")),
        new_conversation=bool(result.get("new_conversation")),
    )


async def ingest_receipts(ref: InstanceRef, token: str, wa_ids: list[str], status: str, at_ms: int) -> IngestResult:
    result = await _run(ref, token, "receipts", at_ms, ids=wa_ids, status=status, timestamp=at_ms or now_ms())
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

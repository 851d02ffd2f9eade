"""Campaigns through the operator API (owner role): create, list, read, pause, resume, cancel.

Creating one stores it — its recipients first, then the campaign, as a ``draft`` — and publishes its
first fan-out page (due at ``start_at`` and the window's opening); once QStash has it the campaign is
``scheduled``. If QStash is down, it stays a ``draft`` (answered 200 as such) and ``resume`` hands it
over later. Pause, resume and cancel are idempotent; a completed campaign cannot be paused or
cancelled (409). A pause holds what QStash delivers meanwhile and publishes no further page; resume
publishes the page at the cursor and the held sends under a new epoch (stale jobs do nothing);
cancel skips whatever was queued, as it arrives, and counts the rest as skipped ``cancelled``.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request

from zapline.admin.requests import CreateCampaign
from zapline.campaigns import audience
from zapline.campaigns.queueing import due, queue_page, queue_sends
from zapline.campaigns.timing import parse_start
from zapline.campaigns.view import show, view
from zapline.clients import redis_client
from zapline.errors import BadRequest, Conflict, NotFound, QueueUnavailable
from zapline.jobs.kinds import CampaignSendJob
from zapline.logs import get_logger
from zapline.store import campaigns as store
from zapline.store.clock import now_ms, org_timezone, queue_now
from zapline.store.keys import OrgKeys
from zapline.store.scripts import run_redis
from zapline.uazapi.national import dial_code

__all__ = [
    "CAMPAIGN_ID",
    "cancel_campaign",
    "create",
    "get_campaign",
    "list_campaigns",
    "pause_campaign",
    "resume_campaign",
]

log = get_logger("zapline.admin.campaigns")

CAMPAIGN_ID = re.compile(r"^camp_[0-9a-f]{12}$")


def _campaign_id(request: Request) -> str:
    value: str = request.path_params["campaign_id"]
    if not CAMPAIGN_ID.match(value):
        raise NotFound(f"no campaign {value[:64]}")
    return value


def _record(body: CreateCampaign, campaign_id: str, timezone: str, start: float, total: int | None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": campaign_id,
        "name": body.name,
        "instance_id": body.instance_id,
        "template": body.template,
        "status": "draft",
        "audience": "recipients" if body.recipients is not None else "filter",
        "timezone": timezone,
        "start_at": int(start * 1000),
        "start_local": datetime.fromtimestamp(start, ZoneInfo(timezone)).replace(microsecond=0).isoformat(),
        "created_at": now_ms(),
        "cursor": 0,
        "epoch": 0,
        "resolved": 1 if total is not None else 0,
    }
    if total is not None:
        record["total"] = total
    if body.media is not None:
        record["media"] = json.dumps(body.media.model_dump(exclude_none=True), separators=(",", ":"))
    if body.filter is not None:
        record["filter"] = json.dumps(body.filter.model_dump(exclude_none=True), separators=(",", ":"))
    if body.window is not None:
        record["window_from"], record["window_to"] = body.window.start, body.window.end
    return record


async def create(org_id: str, body: CreateCampaign) -> dict[str, Any]:
    """Store the campaign and publish its first fan-out page; the campaign as ``GET`` shows it."""
    instance = await run_redis(redis_client().hget(OrgKeys(org_id).instance(body.instance_id), "id"))
    if not instance:
        raise NotFound(f"no instance {body.instance_id} in this organisation")
    timezone = await org_timezone(org_id)
    try:
        start = parse_start(body.start_at, timezone, await queue_now())
    except (OverflowError, OSError):
        raise BadRequest("start_at: out of range") from None
    campaign_id = f"camp_{secrets.token_hex(6)}"
    total = None
    if body.recipients is not None:
        entries = audience.list_entries(body.recipients, dial_code(timezone))
        await store.write_recipients(org_id, campaign_id, entries)
        total = len(entries)
    record = await store.create(org_id, _record(body, campaign_id, timezone, start, total))
    record = await _launch(org_id, record, epoch=0, held=[])
    log.info("campaign created", org=org_id, campaign=campaign_id, audience=record.get("audience"), total=total,
             status=record.get("status"))  # fmt: skip
    return view(record)


async def _launch(
    org_id: str, record: dict[str, Any], *, epoch: int, held: list[str], page: bool = True
) -> dict[str, Any]:
    """Publish the page at the cursor (due at the start, in the window) and the held sends; then tell
    the store. QStash down: the campaign stays a draft (or due a relaunch) for the next resume."""
    campaign_id = record["id"]
    now = await queue_now()
    at = due(record, max(int(record.get("start_at") or 0) / 1000, now))
    try:
        if page:
            await queue_page(org_id, campaign_id, start=int(record.get("cursor") or 0), epoch=epoch, at=at, now=now)
        sends = []
        for member in held:
            index, _, jid = member.partition("|")
            sends.append(CampaignSendJob(org_id=org_id, campaign_id=campaign_id, instance_id=record["instance_id"],
                                         index=int(index), jid=jid, epoch=epoch))  # fmt: skip
        await queue_sends(record, sorted(sends, key=lambda s: s.index), now=now)
    except QueueUnavailable as exc:
        log.warning("campaign not handed to QStash yet; resume it", org=org_id, campaign=campaign_id,
                    error=exc.message)  # fmt: skip
        return record
    return await store.relaunched(org_id, campaign_id, epoch=epoch, held=held)


async def list_campaigns(request: Request, org_id: str) -> dict[str, Any]:
    """Newest first (``?limit=``, default 50, at most 200)."""
    raw = request.query_params.get("limit", "50")
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 200):
        raise BadRequest("limit must be a whole number between 1 and 200")
    return {"items": [view(record) for record in await store.listing(org_id, limit=int(raw))]}


async def get_campaign(request: Request, org_id: str) -> dict[str, Any]:
    """Its status and counters: queued, sent, delivered, read, replied, failed, skipped (by reason)."""
    return view(await store.get(org_id, _campaign_id(request)))


def _answer(change: store.Change, changed: bool) -> dict[str, Any]:
    if change.outcome == "conflict":
        raise Conflict(f"campaign {change.campaign.get('id')} is {change.campaign.get('status')}")
    return {"campaign": view(change.campaign), "changed": changed}


async def _change(request: Request, org_id: str, op: Callable[[str, str], Awaitable[store.Change]], done: str
                  ) -> dict[str, Any]:  # fmt: skip
    change = await op(org_id, _campaign_id(request))
    await show(org_id, change.shown)
    return _answer(change, change.outcome == done)


async def pause_campaign(request: Request, org_id: str) -> dict[str, Any]:
    """Hold it: no further page is published and sends QStash delivers meanwhile are held; idempotent."""
    return await _change(request, org_id, store.pause, "paused")


async def resume_campaign(request: Request, org_id: str) -> dict[str, Any]:
    """Send again from where it stopped (held sends first); a draft is handed to QStash; idempotent."""
    change = await store.resume(org_id, _campaign_id(request))
    await show(org_id, change.shown)
    if change.outcome == "conflict":
        return _answer(change, False)
    record = change.campaign
    if change.outcome in ("resumed", "relaunch") or change.held:
        record = await _launch(org_id, record, epoch=int(record.get("epoch") or 0), held=change.held,
                               page=change.outcome != "already")  # fmt: skip
        if record.get("status") == "draft" or record.get("relaunch"):
            raise QueueUnavailable("QStash did not take the campaign's jobs: resume it again")
    return {"campaign": view(record), "changed": change.outcome == "resumed"}


async def cancel_campaign(request: Request, org_id: str) -> dict[str, Any]:
    """Stop it for good: what was queued is skipped as it arrives, the rest is skipped ``cancelled``."""
    return await _change(request, org_id, store.cancel, "cancelled")

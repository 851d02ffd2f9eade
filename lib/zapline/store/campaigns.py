"""Campaigns in Redis: one typed function per operation of ``lua/campaigns.lua``, plus the plain reads.

The script keeps the invariants — a fan-out page is committed once, each recipient gets one outcome
and moves each counter once (marks), a paused campaign holds its sends, a cancelled one skips them —
and answers what happened; ``jobs/campaigns.py`` and ``campaigns/manage.py`` decide what to publish.
``shown`` in an answer is the campaign's hash when a live update is due (at most one a second per
campaign, and always for a change of status).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from zapline.clients import redis_client
from zapline.errors import RecordMissing
from zapline.store.clock import now_ms, org_day
from zapline.store.keys import OrgKeys
from zapline.store.scripts import Script, run_redis, script_json

__all__ = [
    "Change",
    "Committed",
    "Page",
    "PageEntry",
    "Prepared",
    "attribute",
    "begin_page",
    "cancel",
    "commit_page",
    "create",
    "fields",
    "finish_send",
    "get",
    "listing",
    "pause",
    "prepare_send",
    "relaunched",
    "resolve",
    "resume",
    "stage_recipients",
    "write_recipients",
]

Record = dict[str, Any]
PROGRESS_INTERVAL_MS = 1000  # at most one campaign.progress a second per campaign (and one per change of status)
STAGED_TTL = 24 * 3600  # recipients written before their campaign exists (or a filter's, being resolved)
_CHUNK = 1000  # recipients per RPUSH


async def _run(org_id: str, op: str, **args: Any) -> Record:
    payload = {"now": now_ms(), "throttle_ms": PROGRESS_INTERVAL_MS, **args}
    raw = await Script.load("campaigns").run([OrgKeys(org_id).org], [op, script_json(payload)])
    result: Record = json.loads(raw)
    error = result.get("error")
    if error == "no_campaign":
        raise RecordMissing("campaign", args.get("campaign_id"), org=org_id)
    if error:
        raise RecordMissing(f"campaign {args.get('campaign_id')}: {error}", org=org_id)
    return result


def _shown(value: Any) -> Record | None:
    return value if isinstance(value, dict) and value else None


async def _push(key: str, entries: list[str]) -> None:
    pipe = redis_client().pipeline()
    pipe.delete(key)
    for start in range(0, len(entries), _CHUNK):
        pipe.rpush(key, *entries[start : start + _CHUNK])
    pipe.expire(key, STAGED_TTL)
    await run_redis(pipe.exec())


async def write_recipients(org_id: str, campaign_id: str, entries: list[str]) -> None:
    """The recipients of a campaign about to be created (:func:`create` keeps them; else they expire)."""
    await _push(OrgKeys(org_id).campaign_recipients(campaign_id), entries)


async def stage_recipients(org_id: str, campaign_id: str, token: str, entries: list[str]) -> str:
    """A filter's recipients, staged under ``token`` for :func:`resolve`; the staged key."""
    key = OrgKeys(org_id).campaign_staged(campaign_id, token)
    if entries:
        await _push(key, entries)
    return key


async def create(org_id: str, record: dict[str, str | int]) -> Record:
    """Store the campaign (``record["id"]``) and list it; its recipients were written before."""
    result = await _run(org_id, "create", campaign=record)
    campaign: Record = result["campaign"]
    return campaign


async def get(org_id: str, campaign_id: str) -> Record:
    record: Record = await run_redis(redis_client().hgetall(OrgKeys(org_id).campaign(campaign_id)))
    if not record:
        raise RecordMissing("campaign", campaign_id, org=org_id)
    return record


async def fields(org_id: str, campaign_id: str, *names: str) -> Record:
    """Some fields of the campaign's hash (those it has): a send reads its window, not its template."""
    values = await run_redis(redis_client().hmget(OrgKeys(org_id).campaign(campaign_id), *names))
    return {name: value for name, value in zip(names, values, strict=True) if value is not None}


async def listing(org_id: str, *, limit: int) -> list[Record]:
    """The newest ``limit`` campaigns, newest first."""
    keys = OrgKeys(org_id)
    redis = redis_client()
    ids: list[str] = await run_redis(redis.zrange(keys.campaigns, 0, limit - 1, rev=True))
    if not ids:
        return []
    pipe = redis.pipeline()
    for campaign_id in ids:
        pipe.hgetall(keys.campaign(campaign_id))
    records: list[Record] = await run_redis(pipe.exec())
    return [r for r in records if r]


async def resolve(org_id: str, campaign_id: str, staged: str, count: int) -> Record:
    """Make the staged recipients the campaign's (once: a second resolution drops its own)."""
    result = await _run(org_id, "resolve", campaign_id=campaign_id, staged=staged, count=count)
    campaign: Record = result["campaign"]
    return campaign


@dataclass(frozen=True)
class PageEntry:
    index: int
    phone: str
    skip: str | None  # invalid_phone, duplicate, opted_out: not sent


@dataclass(frozen=True)
class Page:
    """``page``: the entries to send; ``resolve``: the filter must be resolved first; ``committed``: this
    page is done (a retry), the next may need publishing; ``paused`` / ``stopped`` / ``stale``: nothing."""

    outcome: str
    campaign: Record
    entries: list[PageEntry] = field(default_factory=list)
    token: str = ""  # the instance's UAZAPI credentials, for /chat/check
    base_url: str = ""


async def begin_page(org_id: str, campaign_id: str, *, start: int, epoch: int, size: int) -> Page:
    result = await _run(org_id, "begin", campaign_id=campaign_id, start=start, epoch=epoch, size=size)
    raw_page = result.get("page") or []
    entries = [PageEntry(int(e["i"]), str(e.get("p") or ""), e.get("s") or None) for e in raw_page]
    return Page(result["outcome"], result["campaign"], entries, result.get("token") or "", result.get("base_url") or "")


@dataclass(frozen=True)
class Committed:
    outcome: str  # committed | already
    campaign: Record
    shown: Record | None


async def commit_page(
    org_id: str, campaign_id: str, *, start: int, epoch: int, next_start: int, published: int,
    skips: list[tuple[int, str]],
) -> Committed:  # fmt: skip
    result = await _run(org_id, "commit", campaign_id=campaign_id, start=start, epoch=epoch, next=next_start,
                        published=published, skips=[list(s) for s in skips])  # fmt: skip
    return Committed(result["outcome"], result["campaign"], _shown(result.get("shown")))


@dataclass(frozen=True)
class Prepared:
    """``ready``: send it (lead and open conversation found or created); ``held`` (paused), ``done``
    (it has its outcome), ``skipped`` (``reason``: cancelled, opted_out): nothing to send."""

    outcome: str
    reason: str | None = None
    shown: Record | None = None
    conversation_id: str = ""
    name: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    phone: str = ""
    template: str = ""
    media: dict[str, Any] | None = None


def _fields(lead_fields: Any, own: Any) -> dict[str, str]:
    """The lead's custom fields, overridden by the recipient's own (the campaign's list)."""
    merged: dict[str, str] = {}
    for source in (json.loads(lead_fields) if isinstance(lead_fields, str) and lead_fields else {}, own or {}):
        if isinstance(source, dict):
            merged.update({str(k): str(v) for k, v in source.items() if isinstance(v, str | int | float)})
    return merged


async def prepare_send(org_id: str, campaign_id: str, *, index: int, jid: str, new_lead_id: str,
                       new_conv_id: str) -> Prepared:  # fmt: skip
    result = await _run(org_id, "prepare", campaign_id=campaign_id, index=index, jid=jid, new_lead_id=new_lead_id,
                        new_conv_id=new_conv_id, day=await org_day(org_id))  # fmt: skip
    if result["outcome"] != "ready":
        return Prepared(result["outcome"], result.get("reason"), _shown(result.get("shown")))
    media = json.loads(result["media"]) if result.get("media") else None
    return Prepared(
        "ready",
        conversation_id=result["conversation_id"],
        name=result.get("name") or None,
        fields=_fields(result.get("lead_fields"), result.get("fields")),
        phone=result.get("phone") or "",
        template=result.get("template") or "",
        media=media if isinstance(media, dict) else None,
    )


async def finish_send(
    org_id: str, campaign_id: str, *, index: int, outcome: str, conversation_id: str | None = None,
    message_id: str | None = None,
) -> Record | None:  # fmt: skip
    """A queued recipient's outcome — ``sent``, ``failed`` or ``skip:<reason>`` — counted once; receipts
    that came before the send was recorded (and moved ``message_id`` on) count as delivered / read."""
    result = await _run(org_id, "finish", campaign_id=campaign_id, index=index, outcome=outcome,
                        conversation_id=conversation_id, message_id=message_id)  # fmt: skip
    return _shown(result.get("shown"))


async def attribute(org_id: str, items: list[dict[str, str]]) -> list[Record]:
    """Receipts and replies of campaign messages: ``{"c": campaign, "n": delivered|read|replied,
    "w": message or lead id, "conv"?: conversation}``; the campaigns whose live update is due."""
    result = await _run(org_id, "attribute", items=items)
    return [c for c in result.get("campaigns") or [] if isinstance(c, dict)]


@dataclass(frozen=True)
class Change:
    """``paused`` / ``resumed`` / ``cancelled``; ``already`` (it was so), ``relaunch`` (its jobs must be
    published again), ``conflict`` (its status forbids it)."""

    outcome: str
    campaign: Record
    shown: Record | None = None
    held: list[str] = field(default_factory=list)  # "<index>|<chat jid>" of sends held while paused


async def _change(org_id: str, op: str, campaign_id: str) -> Change:
    result = await _run(org_id, op, campaign_id=campaign_id)
    held = result.get("held") or []
    return Change(result["outcome"], result["campaign"], _shown(result.get("shown")),
                  [str(h) for h in held] if isinstance(held, list) else [])  # fmt: skip


async def pause(org_id: str, campaign_id: str) -> Change:
    return await _change(org_id, "pause", campaign_id)


async def resume(org_id: str, campaign_id: str) -> Change:
    return await _change(org_id, "resume", campaign_id)


async def cancel(org_id: str, campaign_id: str) -> Change:
    return await _change(org_id, "cancel", campaign_id)


async def relaunched(org_id: str, campaign_id: str, *, epoch: int, held: list[str]) -> Record:
    """The current page and ``held`` are in QStash (a draft is scheduled from now on)."""
    result = await _run(org_id, "relaunched", campaign_id=campaign_id, epoch=epoch, held=held)
    campaign: Record = result["campaign"]
    return campaign

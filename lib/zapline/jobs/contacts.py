"""jobs/contact-sync: names, profile pictures and labels from UAZAPI onto the leads Zapline knows.

The ``contact-sync`` schedule fires every 6 hours of each organisation's day (through the hourly
tick); its job (:func:`start`) starts a run on every instance of the organisation and publishes each
one's first batch in one QStash batch request. A batch (:func:`sync_batch`) reads 50 chats with
``POST /chat/find``, enriches the matching leads through ``update_lead(source="sync")`` — so a field
an operator edited is never overwritten — saves the cursor, then publishes the next batch: each batch
is its own job, retried on its own. A run that stopped (a batch dead-lettered) is resumed at its
cursor by the next run, not started over. A contact whose name, picture and labels did not change
since the sync last applied them (a digest per contact) costs no write. Chats without a lead are
left alone: the sync enriches the leads conversations created, it creates none.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from zapline.errors import RecordMissing
from zapline.http import Delivery
from zapline.jobs.kinds import CONTACT_SYNC, ContactSyncJob, ContactSyncStart
from zapline.logs import get_logger
from zapline.registry.jobs import enqueue, enqueue_many
from zapline.store import contacts as state
from zapline.store.leads import LeadChanges, apply_lead_changes
from zapline.store.registry import registered_instance
from zapline.uazapi import client
from zapline.uazapi.contacts import Contact, parse_chat

__all__ = ["BATCH", "run_id", "start", "sync_batch"]

log = get_logger("zapline.jobs.contacts")

BATCH = 50  # chats per batch job
CONCURRENT_UPDATES = 10  # lead updates in flight within one batch


def run_id(local_time: str) -> str:
    """A run's id from its firing (``2026-01-15T06:00`` → ``20260115T0600``; a run-now keeps its ``now``)."""
    return re.sub(r"[^0-9A-Za-z]", "", local_time)[:40] or "run"


async def start(job: ContactSyncStart, delivery: Delivery) -> Mapping[str, Any]:
    """Start run ``run_id(job.local_time)`` on each instance and publish each first batch (again, on a
    retry: the batch's deduplication id and its claim keep it to one)."""
    run = run_id(job.local_time)
    started = await state.start_runs(job.org_id, await state.instance_ids(job.org_id), run)
    batches = [ContactSyncJob(org_id=job.org_id, instance_id=s.instance_id, run=run, offset=s.offset) for s in started]
    if batches:
        await enqueue_many(CONTACT_SYNC, batches)
    resumed = {s.instance_id: s.offset for s in started if s.how == "resumed"}
    log.info("contact sync started", org=job.org_id, run=run, instances=len(batches), resumed=len(resumed))
    return {"outcome": "started", "run": run, "instances": len(batches), "resumed": resumed}


async def sync_batch(job: ContactSyncJob, delivery: Delivery) -> Mapping[str, Any]:
    claim = await state.claim_batch(job.org_id, job.instance_id, job.run, job.offset, BATCH)
    if claim.outcome == "superseded":
        return {"outcome": "superseded", "run": job.run, "offset": job.offset}
    if claim.outcome == "done":
        if claim.successor is not None:  # done, but publishing its successor may be what failed
            await enqueue(CONTACT_SYNC, job.model_copy(update={"offset": claim.successor}))
        return {"outcome": "already_done", "run": job.run, "offset": job.offset}

    instance = await registered_instance(job.org_id, job.instance_id)
    page = await client.find_chats(instance, limit=BATCH, offset=job.offset)
    counts = await _apply(job, instance, page.chats)
    end = job.offset + len(page.chats)
    more = len(page.chats) > 0 and (end < page.total if page.total is not None else len(page.chats) >= BATCH)
    next_offset = end if more else None
    recorded = await state.advance(job.org_id, job.instance_id, job.run, job.offset, next_offset=next_offset,
                                   end_offset=end, counts=counts)  # fmt: skip
    if recorded and next_offset is not None:  # the cursor is saved first: a failed publish is retried (claim)
        await enqueue(CONTACT_SYNC, job.model_copy(update={"offset": next_offset}))
    log.info("contact sync batch", org=job.org_id, instance=job.instance_id, run=job.run, offset=job.offset,
             next_offset=next_offset, **counts)  # fmt: skip
    return {"outcome": "synced", "run": job.run, "offset": job.offset, "next_offset": next_offset, **counts}


async def _apply(job: ContactSyncJob, instance: client.Instance, chats: list[dict[str, Any]]) -> dict[str, int]:
    """Enrich the leads of these chats; the counters of what became of each chat."""
    counts = dict.fromkeys(("seen", "matched", "updated", "unchanged", "kept", "unknown", "skipped"), 0)
    counts["seen"] = len(chats)
    found = [contact for contact in (parse_chat(chat) for chat in chats) if contact is not None]
    counts["skipped"] = len(chats) - len(found)
    contacts = list({c.jid: c for c in found}.values())
    counts["skipped"] += len(found) - len(contacts)
    if not contacts:
        return counts
    leads = await state.find_leads(job.org_id, [c.phone for c in contacts], [c.lid for c in contacts])
    known = [(c, lead_id) for c, lead_id in zip(contacts, leads, strict=True) if lead_id]
    counts["unknown"] = len(contacts) - len(known)
    counts["matched"] = len(known)
    label_names = await client.list_labels(instance) if any(c.label_ids for c, _ in known) else {}
    digests = await state.read_digests(job.org_id, job.instance_id, [c.jid for c, _ in known])
    todo: list[tuple[Contact, str, list[str], str]] = []
    for (contact, lead_id), stored in zip(known, digests, strict=True):
        labels = contact.labels(label_names)
        digest = contact.digest(labels)
        if digest == stored:
            counts["unchanged"] += 1
        else:
            todo.append((contact, lead_id, labels, digest))

    applied: dict[str, str] = {}
    gate = asyncio.Semaphore(CONCURRENT_UPDATES)

    async def one(contact: Contact, lead_id: str, labels: list[str], digest: str) -> None:
        changes: dict[str, Any] = {"labels": labels}
        if contact.name:
            changes["name"] = contact.name
        if contact.picture:
            changes["profile_picture"] = contact.picture
        try:
            valid = LeadChanges.model_validate(changes)
        except ValidationError:  # nothing UAZAPI says can break a batch: this contact waits for the next run
            counts["skipped"] += 1
            return
        async with gate:
            try:
                update = await apply_lead_changes(job.org_id, lead_id, valid, source="sync")
            except RecordMissing:  # the lead went away since it was looked up
                counts["unknown"] += 1
                counts["matched"] -= 1
                return
        counts["updated" if update.changed else "kept"] += 1
        applied[contact.jid] = digest

    await asyncio.gather(*(one(*item) for item in todo))
    await state.save_digests(job.org_id, job.instance_id, applied)
    return counts

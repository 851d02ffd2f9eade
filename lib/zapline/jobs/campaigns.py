"""jobs/campaign-fanout and jobs/campaign-send: a campaign page by page, then one send per recipient.

**Fan-out.** A page is ``PAGE_SIZE`` recipients from the campaign's cursor. Its numbers are checked
with UAZAPI's ``/chat/check`` (``CHECK_BATCH`` a call); opted-out leads, numbers not on WhatsApp,
invalid phones and duplicates are skipped with their reason; the rest are published as
``campaign-send`` jobs in QStash batches on the instance's bulk lane (its flow-control key and rate),
each with the deduplication id ``cs-<campaign>-<index>``. Then the page is committed (cursor, skips)
and the next page published, due when this page's sends have nearly drained, so QStash holds about
one page per campaign and a pause or a cancel takes effect within it. A retried page publishes the
same ids again (QStash drops them) and commits nothing twice.

**Send.** One recipient: held while the campaign is paused (resume re-queues it), skipped once it is
cancelled or the lead opted out; else its lead and an open conversation (created for a first
contact), the template rendered for it, an outbound message ``msg_<hash of campaign and index>``
(author ``campaign``, ``campaign_id``) stored and sent right here through ``jobs/send``'s path — its
claim makes the send happen once whatever QStash repeats. Creating the conversation at send time
keeps 10,000 pending messages out of the inbox; sending here rather than publishing a ``send`` job
saves one QStash message per recipient. The message is shown live once, when sent (``message.updated``
from the send path): a campaign does not double the inbox's live traffic.

QStash per campaign of N recipients (P = ceil(N / 500) pages), when nothing fails: P page messages
(one publish each), N send messages in ceil(N / 100) batch requests per page, and P + N deliveries; no
callbacks (a failure callback is called only for a message QStash gives up on). 10,000 recipients:
120 requests from Zapline (20 publishes + 100 batches), 10,020 messages, 10,020 deliveries.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from zapline.campaigns import audience
from zapline.campaigns.queueing import due, interval, queue_page, queue_sends, window_of
from zapline.campaigns.templates import Template, context_for
from zapline.campaigns.view import show
from zapline.errors import LeadOptedOut, TransientError, UazapiRejected
from zapline.http import Delivery
from zapline.jobs.kinds import CAMPAIGN_SEND, CampaignFanoutJob, CampaignSendJob, SendJob
from zapline.jobs.send import send as send_now
from zapline.logs import get_logger
from zapline.outbound import MAX_CAPTION_CHARS, MAX_TEXT_CHARS, media_kind
from zapline.registry.jobs import enqueue
from zapline.store import campaigns as store
from zapline.store import sweep
from zapline.store.clock import now_ms, queue_now
from zapline.store.outbound import create_outbound
from zapline.uazapi import client
from zapline.uazapi.client import Instance

__all__ = ["PAGE_SIZE", "campaign_message_id", "fanout", "send"]

log = get_logger("zapline.jobs.campaigns")

PAGE_SIZE = 500  # recipients per fan-out page (5 QStash batch requests)
CHECK_BATCH = 50  # numbers per UAZAPI /chat/check call
PACE = 0.9  # the next page is due when this share of the page's sends has gone through the bulk lane


def campaign_message_id(campaign_id: str, index: int) -> str:
    """The outbound message of one recipient: the same id however often its job runs."""
    return f"msg_{hashlib.sha256(f'{campaign_id}:{index}'.encode()).hexdigest()[:16]}"


# --- fan-out ------------------------------------------------------------------------------------


async def fanout(job: CampaignFanoutJob, delivery: Delivery) -> dict[str, Any]:
    if job.wait_until is not None:
        return await _hop(job)
    org_id, campaign_id = job.org_id, job.campaign_id
    page = await store.begin_page(org_id, campaign_id, start=job.start, epoch=job.epoch, size=PAGE_SIZE)
    if page.outcome == "resolve":
        await _resolve(org_id, campaign_id, page.campaign)
        page = await store.begin_page(org_id, campaign_id, start=job.start, epoch=job.epoch, size=PAGE_SIZE)
    if page.outcome == "committed":  # a retry after the commit: the next page may never have been published
        await _next_page(job, page.campaign, sends=PAGE_SIZE)
        return {"outcome": "committed", "start": job.start}
    if page.outcome != "page":
        return {"outcome": page.outcome, "start": job.start}
    campaign = page.campaign
    instance = Instance(page.base_url, page.token, campaign["instance_id"])
    checked = [entry for entry in page.entries if entry.skip is None]
    chats = await _on_whatsapp(instance, [entry.phone.lstrip("+") for entry in checked])
    skips = [(entry.index, entry.skip) for entry in page.entries if entry.skip is not None]
    sends = []
    for entry in checked:
        jid = chats.get(entry.phone.lstrip("+"))
        if jid is None:
            skips.append((entry.index, "not_on_whatsapp"))
        else:
            sends.append(CampaignSendJob(org_id=org_id, campaign_id=campaign_id, instance_id=campaign["instance_id"],
                                         index=entry.index, jid=jid, epoch=job.epoch))  # fmt: skip
    batches = await queue_sends(campaign, sends, now=await queue_now())
    committed = await store.commit_page(org_id, campaign_id, start=job.start, epoch=job.epoch,
                                        next_start=job.start + len(page.entries), published=len(sends),
                                        skips=sorted(skips))  # fmt: skip
    await show(org_id, committed.shown)
    if committed.outcome == "committed":
        await _next_page(job, committed.campaign, sends=len(sends))
    log.info("campaign page", org=org_id, campaign=campaign_id, start=job.start, queued=len(sends),
             skipped=len(skips), batches=batches, qstash_message_id=delivery.message_id)  # fmt: skip
    return {"outcome": "page", "start": job.start, "queued": len(sends), "skipped": len(skips), "batches": batches}


async def _next_page(job: CampaignFanoutJob, campaign: dict[str, Any], *, sends: int) -> None:
    cursor, total = int(campaign.get("cursor") or 0), int(campaign.get("total") or 0)
    if campaign.get("status") not in ("running", "scheduled") or cursor >= total:
        return
    now = await queue_now()
    at = due(campaign, now + sends * interval(campaign["instance_id"]) * PACE)
    await queue_page(job.org_id, job.campaign_id, start=cursor, epoch=job.epoch, at=at, now=now)


async def _hop(job: CampaignFanoutJob) -> dict[str, Any]:
    """A start beyond QStash's longest delay: publish the next hop (or the first page) from here.
    Timed from the payload, not the clock, so the hops end however early QStash delivers them."""
    campaign = await store.get(job.org_id, job.campaign_id)
    if campaign.get("status") in ("cancelled", "completed") or int(campaign.get("epoch") or 0) != job.epoch:
        return {"outcome": "stale"}
    assert job.wait_until is not None
    await queue_page(job.org_id, job.campaign_id, start=job.start, epoch=job.epoch, at=job.wait_until,
                     now=job.hop_at or 0)  # fmt: skip
    return {"outcome": "hop", "wait_until": job.wait_until}


async def _resolve(org_id: str, campaign_id: str, campaign: dict[str, Any]) -> None:
    """A filter's recipients, as the leads are now (staged, then made the campaign's in one step)."""
    flt = json.loads(campaign.get("filter") or "{}")
    entries = await audience.filter_entries(org_id, flt if isinstance(flt, dict) else {}, now_ms())
    staged = await store.stage_recipients(org_id, campaign_id, secrets.token_hex(4), entries)
    await store.resolve(org_id, campaign_id, staged, len(entries))


async def _on_whatsapp(instance: Instance, numbers: list[str]) -> dict[str, str]:
    """number → the chat JID UAZAPI gives it, for the numbers on WhatsApp."""
    chats: dict[str, str] = {}
    for start in range(0, len(numbers), CHECK_BATCH):
        chunk = numbers[start : start + CHECK_BATCH]
        answers = await client.check_numbers(instance, chunk)
        in_order = len(answers) == len(chunk)
        for position, answer in enumerate(answers):
            if not isinstance(answer, dict) or not answer.get("isInWhatsapp") or not answer.get("jid"):
                continue
            query = str(answer.get("query") or (chunk[position] if in_order else "")).lstrip("+")
            if query:
                chats[query] = str(answer["jid"])
    return chats


# --- one recipient -------------------------------------------------------------------------------


async def send(job: CampaignSendJob, delivery: Delivery) -> dict[str, Any]:
    org_id = job.org_id
    deferred = await _outside_window(job)
    if deferred is not None:
        return deferred
    prepared = await store.prepare_send(org_id, job.campaign_id, index=job.index, jid=job.jid,
                                        new_lead_id=f"lead_{secrets.token_hex(6)}",
                                        new_conv_id=f"conv_{secrets.token_hex(6)}")  # fmt: skip
    if prepared.outcome != "ready":
        await show(org_id, prepared.shown)
        return {"outcome": prepared.outcome, "reason": prepared.reason, "index": job.index}
    media = prepared.media
    text = Template.parse(prepared.template).render(context_for(prepared.name, prepared.phone), prepared.fields)
    text = text[: MAX_CAPTION_CHARS if media else MAX_TEXT_CHARS]
    if not text and not media:
        return await _finish(job, "skip:empty_message")
    message_id = campaign_message_id(job.campaign_id, job.index)
    kind = media_kind(str(media.get("media_type") or "image")) if media else "text"
    record = {"id": message_id, "kind": kind, "text": text, "media": media, "lane": "bulk", "author": "campaign",
              "campaign_id": job.campaign_id}  # fmt: skip
    try:
        await create_outbound(org_id, prepared.conversation_id, {k: v for k, v in record.items() if v},
                              preview=text[:160], restart_followups=False)  # fmt: skip
    except LeadOptedOut:
        return await _finish(job, "skip:opted_out")
    # this job is the message's queue: QStash retries it (with its pause and cancel checks), not the sweeper
    await sweep.confirm_queued(org_id, message_id)
    try:
        sent = await send_now(SendJob(org_id=org_id, message_id=message_id, lane="bulk", instance_id=job.instance_id),
                              delivery)  # fmt: skip
    except LeadOptedOut:
        return await _finish(job, "skip:opted_out", message_id)
    except UazapiRejected as exc:  # an outcome of the campaign's, counted: not a dead letter per recipient
        return await _finish(job, "failed", message_id, reason=exc.message)
    except TransientError:
        if delivery.retried >= (CAMPAIGN_SEND.retries or 3):  # QStash's last attempt: the recipient failed
            await _finish(job, "failed", message_id)
        raise
    outcome = "skip:opted_out" if sent.get("outcome") == "already_failed" else "sent"
    return await _finish(job, outcome, message_id, conversation_id=prepared.conversation_id)


async def _outside_window(job: CampaignSendJob) -> dict[str, Any] | None:
    """A send that arrives after its window closed (its lane was held, a retry, two campaigns sharing the
    instance's bulk lane) waits for the next opening: published again with that not-before (a new
    deduplication id per opening), never sent out of hours."""
    window = window_of(await store.fields(job.org_id, job.campaign_id, "window_from", "window_to", "timezone"))
    if window is None:
        return None
    now = await queue_now()
    if window.contains(now):
        return None
    opening = int(window.next_opening(now))
    await enqueue(CAMPAIGN_SEND, job, not_before=opening, dedup=f"cs-{job.campaign_id}-{job.index}-w{opening}")
    log.info("campaign send outside its window: deferred", org=job.org_id, campaign=job.campaign_id, index=job.index,
             until=opening)  # fmt: skip
    return {"outcome": "deferred", "until": opening, "index": job.index}


async def _finish(
    job: CampaignSendJob, outcome: str, message_id: str | None = None, *, conversation_id: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    shown = await store.finish_send(job.org_id, job.campaign_id, index=job.index, outcome=outcome,
                                    conversation_id=conversation_id, message_id=message_id)  # fmt: skip
    await show(job.org_id, shown)
    answer: dict[str, Any] = {"outcome": outcome, "index": job.index, "message_id": message_id}
    if reason:
        answer["reason"] = reason[:200]
    return answer

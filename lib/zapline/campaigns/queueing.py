"""Publishing a campaign's jobs: its fan-out pages, and its sends in QStash batches on the bulk lane.

A page is one QStash message (``campaign-fanout``), due when the campaign starts or when the previous
page's sends have nearly drained through the bulk lane; a start beyond QStash's longest delay is
reached in hops of ``MAX_DELAY`` (each hop one message). Sends go in ``/v2/batch`` requests of 100,
grouped by their not-before (one group while the window is open).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from itertools import groupby
from typing import Any

from zapline.campaigns.timing import Window, send_times
from zapline.jobs.kinds import CAMPAIGN_FANOUT, CAMPAIGN_SEND, CampaignFanoutJob, CampaignSendJob
from zapline.qstash import BATCH_SIZE, lane_flow_control
from zapline.registry.jobs import enqueue, enqueue_many

__all__ = ["MAX_DELAY", "interval", "queue_page", "queue_sends", "window_of"]

MAX_DELAY = 7 * 86400  # QStash's longest delay on its smallest plan, in seconds


def window_of(campaign: Mapping[str, Any]) -> Window | None:
    if not campaign.get("window_from"):
        return None
    return Window.of(campaign["window_from"], campaign["window_to"], campaign.get("timezone") or "UTC")


def due(campaign: Mapping[str, Any], at: float) -> float:
    """``at``, or the campaign's next window opening when its window is closed then."""
    window = window_of(campaign)
    return window.next_opening(at) if window else at


def interval(instance_id: str) -> float:
    """Seconds between two sends of the instance's bulk lane (``ZAPLINE_SEND_RATE_BULK``)."""
    flow = lane_flow_control("bulk", instance_id)
    return (flow.period or 60) / (flow.rate or 1)


async def queue_page(
    org_id: str, campaign_id: str, *, start: int, epoch: int, at: float, now: float | None = None
) -> str:
    """Publish the fan-out page at ``start`` to run at ``at`` (epoch seconds); QStash's message id."""
    now = time.time() if now is None else now
    job = CampaignFanoutJob(org_id=org_id, campaign_id=campaign_id, start=start, epoch=epoch)
    if at <= now + 1:
        return await enqueue(CAMPAIGN_FANOUT, job)
    if at > now + MAX_DELAY:
        hop = int(now + MAX_DELAY)
        job = job.model_copy(update={"wait_until": int(at), "hop_at": hop})
        at = hop
    return await enqueue(CAMPAIGN_FANOUT, job, not_before=int(at))


async def queue_sends(campaign: Mapping[str, Any], sends: list[CampaignSendJob], now: float | None = None) -> int:
    """Publish ``sends`` (in order) with the not-before the window gives each; the batch requests made."""
    if not sends:
        return 0
    gates = send_times(time.time() if now is None else now, len(sends), interval(campaign["instance_id"]),
                       window_of(campaign))  # fmt: skip
    requests = 0
    position = 0
    for gate, group in groupby(gates):
        size = len(list(group))
        await enqueue_many(CAMPAIGN_SEND, sends[position : position + size], not_before=gate)
        requests += -(-size // BATCH_SIZE)
        position += size
    return requests

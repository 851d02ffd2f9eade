"""Every kind of job Zapline publishes for itself, declared once (see :mod:`zapline.registry.jobs`).

Adding a kind is one declaration here (its payload model and a ``JobKind``) plus its handler.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from zapline.qstash import lane_flow_control
from zapline.registry.jobs import JobKind, JobPayload, Registry

__all__ = ["FOLLOWUP", "JOBS", "NPS", "SEND", "SWEEP", "FollowupJob", "NpsJob", "SendJob", "SweepJob"]


class SendJob(JobPayload):
    message_id: str
    lane: str = Field(default="realtime", pattern="^(realtime|automation|bulk)$")
    instance_id: str = ""


class FollowupJob(JobPayload):
    conversation_id: str
    epoch: int
    step: int


class NpsJob(JobPayload):
    conversation_id: str
    action: Literal["send", "expire"]


class SweepJob(JobPayload):
    """Deployment-wide housekeeping (the ``sweeper`` schedule): it works for no one organisation."""

    org_id: str = ""
    grace_seconds: int = Field(default=120, ge=0, le=3600)  # younger entries may still be on their way to QStash
    full: bool | None = None  # every organisation, not only the marked ones (default: the sweep at :00)


SEND = JobKind(
    name="send",
    payload=SendJob,
    handler="zapline.jobs.send:send",
    lane=lambda job: lane_flow_control(job.lane, job.instance_id),
    dedup=lambda job: job.message_id,  # one send per message, however often it is queued
)
FOLLOWUP = JobKind(
    name="followup",
    payload=FollowupJob,
    handler="zapline.jobs.conversation:followup",
    dedup=lambda job: f"fu-{job.conversation_id}-{job.epoch}-{job.step}",
)
NPS = JobKind(
    name="nps",
    payload=NpsJob,
    handler="zapline.jobs.conversation:nps",
    dedup=lambda job: f"nps-{job.action}-{job.conversation_id}",
)

SWEEP = JobKind(name="sweep", payload=SweepJob, handler="zapline.jobs.sweep:sweep")

JOBS = Registry([SEND, FOLLOWUP, NPS, SWEEP])

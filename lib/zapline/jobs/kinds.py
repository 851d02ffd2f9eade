"""Every kind of job Zapline publishes for itself, declared once (see :mod:`zapline.registry.jobs`).

Adding a kind is one declaration here (its payload model and a ``JobKind``) plus its handler.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from zapline.qstash import FlowControl, lane_flow_control
from zapline.registry.jobs import JobKind, JobPayload, Registry, ScheduledJob, scheduled_dedup

__all__ = [
    "AUTOMATION",
    "AutomationJob",
    "CAMPAIGN_FANOUT",
    "CAMPAIGN_SEND",
    "CampaignFanoutJob",
    "CampaignSendJob",
    "CONTACT_SYNC",
    "CONTACT_SYNC_START",
    "ContactSyncJob",
    "ContactSyncStart",
    "FOLLOWUP",
    "JOBS",
    "NPS",
    "OWNER_MESSAGE",
    "SEND",
    "RETENTION",
    "SWEEP",
    "FollowupJob",
    "NpsJob",
    "OwnerMessageJob",
    "SendJob",
    "RetentionJob",
    "SweepJob",
]


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


class RetentionJob(ScheduledJob):
    """A firing of the ``retention`` schedule; ``round`` > 0: its continuation after a full batch."""

    round: int = Field(default=0, ge=0, le=10_000)


RETENTION = JobKind(
    name="retention",
    payload=RetentionJob,
    handler="zapline.jobs.retention:retention",
    dedup=scheduled_dedup,  # a continuation passes its own: retention-<org>-<local time>-r<round>
)


class OwnerMessageJob(JobPayload):
    """A message to the organisation's owner, sent once per ``key`` (``zapline.owner``)."""

    instance_id: str = Field(pattern=r"^inst_[0-9a-z]{10}$")
    key: str = Field(pattern=r"^[A-Za-z0-9._:-]{1,90}$")
    cause: str = Field(max_length=60)
    text: str = Field(min_length=1, max_length=4096)


OWNER_MESSAGE = JobKind(
    name="owner-message",
    payload=OwnerMessageJob,
    handler="zapline.jobs.owner:send_to_owner",
    # its own key: a notification never waits behind a Monday's reactivations in the automation lane
    lane=lambda job: FlowControl(f"owner:{job.instance_id}", rate=20, period=60, parallelism=1),
    dedup=lambda job: f"owner-{job.org_id}-{job.key}",  # QStash's deduplication is account-wide: the org too
)

# --- AI (zapline.ai): every kind imports ``openai`` in its handler only ---------------------------


class AiReplyJob(JobPayload):
    """Answer the lead of ``conversation_id``; ``trigger`` is the lead message that asked for it
    (a later message of the lead supersedes it: the debounce)."""

    conversation_id: str = Field(pattern=r"^conv_[0-9a-f]{12}$")
    trigger: str = Field(pattern=r"^msg_[0-9a-z_]{1,40}$")


class AiMediaJob(JobPayload):
    """Read one inbound image, voice note or document; then answer if ``reply``."""

    message_id: str = Field(pattern=r"^msg_[0-9a-z_]{1,40}$")
    conversation_id: str = Field(pattern=r"^conv_[0-9a-f]{12}$")
    reply: bool = False


class AssistantJob(JobPayload):
    """A message the owner wrote (or a voice note they recorded: ``kind`` audio, transcribed by the job)
    in the instance's own chat, for the owner's assistant."""

    instance_id: str = Field(pattern=r"^inst_[0-9a-z]{10}$")
    wa_id: str = Field(pattern=r"^[A-Za-z0-9._:-]{1,80}$")
    kind: Literal["text", "audio"] = "text"
    text: str = Field("", max_length=4096)


class LearnJob(JobPayload):
    conversation_id: str = Field(pattern=r"^conv_[0-9a-f]{12}$")


class AiFollowupJob(JobPayload):
    """A follow-up the model scheduled: sent only if the lead has not written since (``epoch``)."""

    conversation_id: str = Field(pattern=r"^conv_[0-9a-f]{12}$")
    epoch: int = Field(ge=0)
    text: str = Field(min_length=1, max_length=1000)


def _vision_lane(job: AiMediaJob) -> FlowControl:
    """Vision is slow and costly: a few at a time per organisation (the old workers' low concurrency)."""
    return FlowControl(f"ai-vision:{job.org_id}", rate=20, period=60, parallelism=2)


AI_REPLY = JobKind(
    name="ai-reply",
    payload=AiReplyJob,
    handler="zapline.ai.reply:reply",
    lane=lambda job: FlowControl(f"ai:{job.conversation_id}", parallelism=1),  # one at a time per conversation
    dedup=lambda job: f"ai-{job.trigger}",
    timeout=120,
)
IMAGE_ANALYSIS = JobKind(
    name="image-analysis",
    payload=AiMediaJob,
    handler="zapline.ai.media:analyse_image",
    lane=_vision_lane,
    dedup=lambda job: f"img-{job.message_id}",
    timeout=120,
)
DOCUMENT_ANALYSIS = JobKind(
    name="document",
    payload=AiMediaJob,
    handler="zapline.ai.media:analyse_document",
    lane=_vision_lane,
    dedup=lambda job: f"doc-{job.message_id}",
    timeout=120,
)
TRANSCRIBE = JobKind(
    name="transcribe",
    payload=AiMediaJob,
    handler="zapline.ai.media:transcribe",
    lane=lambda job: FlowControl(f"ai-audio:{job.org_id}", parallelism=4),
    dedup=lambda job: f"stt-{job.message_id}",
    timeout=120,
)
ASSISTANT = JobKind(
    name="assistant",
    payload=AssistantJob,
    handler="zapline.ai.assistant:assist",
    lane=lambda job: FlowControl(f"assistant:{job.org_id}", parallelism=1),
    dedup=lambda job: f"assist-{job.wa_id}",
    timeout=120,
)
LEARN = JobKind(
    name="learn",
    payload=LearnJob,
    handler="zapline.ai.learn:learn",
    lane=lambda job: FlowControl(f"ai-learn:{job.org_id}", rate=30, period=60, parallelism=2),
    dedup=lambda job: f"learn-{job.conversation_id}",
    timeout=120,
)
AI_FOLLOWUP = JobKind(
    name="ai-followup",
    payload=AiFollowupJob,
    handler="zapline.ai.reply:followup",
    dedup=lambda job: f"aifu-{job.conversation_id}-{job.epoch}",
)

# --- contact sync (jobs/contacts.py) --------------------------------------------------------------


class ContactSyncStart(ScheduledJob):
    """The ``contact-sync`` schedule's firing for one organisation: a run starts on each instance."""


class ContactSyncJob(JobPayload):
    """One batch of an instance's contact sync: the chats at ``offset`` (50 of them) of run ``run``."""

    instance_id: str = Field(pattern=r"^inst_[0-9a-z]{10}$")
    run: str = Field(pattern=r"^[0-9A-Za-z]{1,40}$")
    offset: int = Field(ge=0, le=10_000_000)


CONTACT_SYNC_START = JobKind(
    name="contact-sync-start",
    payload=ContactSyncStart,
    handler="zapline.jobs.contacts:start",
    dedup=scheduled_dedup,
)
CONTACT_SYNC = JobKind(
    name="contact-sync",
    payload=ContactSyncJob,
    handler="zapline.jobs.contacts:sync_batch",
    lane=lambda job: FlowControl(f"contact-sync:{job.instance_id}", parallelism=1),  # one batch at a time
    dedup=lambda job: f"csync-{job.instance_id}-{job.run}-{job.offset}",  # a retried batch: one successor
    timeout=120,
)

# --- automations (jobs/automations.py) ------------------------------------------------------------


class AutomationJob(ScheduledJob):
    """A firing of one of the organisation's automations (``zapline.automations``), by schedule name."""

    schedule: str = Field(pattern=r"^(daily-summary|birthdays|inactive|opportunities|weekly-report)$")


AUTOMATION = JobKind(
    name="automation",
    payload=AutomationJob,
    handler="zapline.jobs.automations:run",
    dedup=scheduled_dedup,  # and the firing's own marker, for a retry after QStash's 10 minutes
    timeout=300,
)

# --- campaigns (jobs/campaigns.py): fan-out pages, then one send per recipient on the bulk lane ----

_CAMPAIGN_ID = r"^camp_[0-9a-f]{12}$"


class CampaignFanoutJob(JobPayload):
    """One page of a campaign's recipients from ``start``, under the campaign's ``epoch`` (a resume
    starts a new one); ``wait_until``: a start beyond QStash's longest delay, reached in hops."""

    campaign_id: str = Field(pattern=_CAMPAIGN_ID)
    start: int = Field(0, ge=0, le=10_000_000)
    epoch: int = Field(0, ge=0)
    wait_until: int | None = Field(None, ge=0)  # epoch seconds
    hop_at: int | None = Field(None, ge=0)  # epoch seconds: when this hop was due


class CampaignSendJob(JobPayload):
    """Recipient ``index`` of the campaign, at the chat UAZAPI's /chat/check named."""

    campaign_id: str = Field(pattern=_CAMPAIGN_ID)
    instance_id: str = Field(pattern=r"^inst_[0-9a-z]{10}$")
    index: int = Field(ge=0, le=10_000_000)
    jid: str = Field(min_length=3, max_length=100)
    epoch: int = Field(0, ge=0)


CAMPAIGN_FANOUT = JobKind(
    name="campaign-fanout",
    payload=CampaignFanoutJob,
    handler="zapline.jobs.campaigns:fanout",
    dedup=lambda job: f"cf-{job.campaign_id}-{job.start}-{job.epoch}" + (f"-h{job.hop_at}" if job.hop_at else ""),
    timeout=120,
)
CAMPAIGN_SEND = JobKind(
    name="campaign-send",
    payload=CampaignSendJob,
    handler="zapline.jobs.campaigns:send",
    lane=lambda job: lane_flow_control("bulk", job.instance_id),  # the instance's bulk rate: never the realtime lane
    dedup=lambda job: f"cs-{job.campaign_id}-{job.index}" + (f"-r{job.epoch}" if job.epoch else ""),
    retries=3,
)

JOBS = Registry([CAMPAIGN_FANOUT, CAMPAIGN_SEND,
                 SEND, FOLLOWUP, NPS, SWEEP, OWNER_MESSAGE, AI_REPLY, IMAGE_ANALYSIS, DOCUMENT_ANALYSIS, TRANSCRIBE,
                 ASSISTANT, LEARN, AI_FOLLOWUP, CONTACT_SYNC_START, CONTACT_SYNC, AUTOMATION,
                 RETENTION])  # fmt: skip

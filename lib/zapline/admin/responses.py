"""What the operator API answers, where a handler answers a dict rather than a stored record.

The handlers build these answers themselves; these models describe them for the OpenAPI document
(``admin/openapi.py``), and ``tests/openapi`` checks every live answer against them, so a model that
drifts from its handler fails CI. Stored records (``Conversation``, ``Lead``, ``Message``, ``Page``)
are in ``store/records.py``; request bodies in ``admin/requests.py``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from zapline.admin.auth import Role
from zapline.store.records import Conversation, Message

__all__ = [
    "ApiKeyInfo",
    "BulkRetry",
    "Campaign",
    "CampaignChange",
    "CampaignCounters",
    "CampaignList",
    "CleanedDeadLetters",
    "ClosedConversation",
    "DailyStats",
    "DeadLetterInfo",
    "DeadLetterList",
    "DeletedDeadLetter",
    "Error",
    "ForbiddenError",
    "IssuedKey",
    "KeyList",
    "LaneChanges",
    "LaneStates",
    "RealtimeToken",
    "Retention",
    "RetentionRun",
    "RetriedDeadLetter",
    "RetryFailed",
    "RevokedKey",
    "SentMessage",
    "StatsRange",
    "SubscriptionToken",
]


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True)


class Error(_Answer):
    """Every error the API answers: the status says what happened, ``error`` says what to change."""

    status: Literal["error"]
    error_type: str = Field(description="e.g. bad_request, unauthorized, not_found, conflict, payload_too_large")
    error: str = Field(description="what was wrong, naming the field")


class ForbiddenError(Error):
    required_role: Role = Field(description="the role this call needs")


class SentMessage(_Answer):
    message: Message = Field(description="the stored message, pending until UAZAPI accepts it")


class ClosedConversation(_Answer):
    conversation: Conversation


class DailyStats(_Answer):
    day: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="the organisation's local day")
    counters: dict[str, int] = Field(description="inbound, outbound, new_leads, new_conversations, nps_*, opt_outs")
    hourly: dict[str, list[int]] | None = Field(
        None, description="inbound and outbound per local hour, 0 to 23 (GET /stats/daily; not per row of a range)"
    )
    nps: float | None = Field(description="promoters minus detractors, in % of responses; None without any")


class DeadLetterInfo(_Answer):
    model_config = ConfigDict(frozen=True, extra="allow")

    id: str = Field(description="QStash's DLQ id, or local-… for a webhook the relay refused")
    job: str = Field(description="inbound, send, followup, nps, … or unknown")
    retryable: bool = Field(description="False when QStash holds no copy (local-…)")
    reason: str | None = None
    http_status: int | None = None
    path: str | None = Field(None, description="keys as prefixes")
    size: int | None = None
    summary: str | None = Field(None, description="an excerpt of the body, without credentials")
    at: int | None = Field(None, description="when it was recorded, epoch ms")


class DeadLetterList(_Answer):
    items: list[DeadLetterInfo] = Field(description="newest first")


class RealtimeToken(_Answer):
    token: str = Field(description="a Centrifugo connection token (HS256 JWT)")
    url: str = Field(description="Centrifugo's WebSocket URL")
    channels: list[str]


class SubscriptionToken(_Answer):
    token: str
    channel: str


class RetriedDeadLetter(_Answer):
    id: str
    outcome: Literal["retried"]
    job: str
    qstash_message_id: str


class RetryFailed(_Answer):
    id: str
    outcome: Literal["error"]
    error_type: str
    error: str


class BulkRetry(_Answer):
    retried: int
    failed: int
    results: list[Annotated[RetriedDeadLetter | RetryFailed, Field(discriminator="outcome")]]


class DeletedDeadLetter(_Answer):
    id: str
    outcome: Literal["deleted"]
    job: str
    qstash: Literal["deleted", "absent"] = Field(description="whether QStash still held it")


class CleanedDeadLetters(_Answer):
    deleted: int
    qstash_deleted: int
    ids: list[str]


class ApiKeyInfo(_Answer):
    """A key as listings show it: never its secret or its digest."""

    id: str = Field(pattern=r"^key_[0-9a-f]{10}$")
    role: Role
    name: str
    prefix: str
    created_at: int
    rotated_at: int | None = None
    revoked: bool = False
    revoked_at: int | None = None


class KeyList(_Answer):
    keys: list[ApiKeyInfo]


class IssuedKey(_Answer):
    key: ApiKeyInfo
    api_key: str = Field(description="zk_<org_id>_<key_id>_<secret>: shown in this answer only")


class RevokedKey(_Answer):
    key: ApiKeyInfo


class LaneInstance(_Answer):
    instance_id: str
    name: str
    paused: bool
    paused_by: str | None = Field(description="the prefix of the key that paused it")
    paused_at: int | None = Field(description="epoch ms")
    qstash_paused: bool = Field(description="whether QStash holds the lane's flow-control key paused")
    waiting: int = Field(description="messages in QStash's waitlist")


class LaneState(_Answer):
    lane: str
    state: Literal["running", "paused", "partly paused"]
    paused: bool
    backlog: int
    instances: list[LaneInstance]


class OrgSchedule(_Answer):
    name: str
    cron: str
    timezone: str
    scope: str = Field(description="organisation (per-organisation local times) or deployment")
    job: str
    paused: bool
    next_run: str = Field(description="ISO 8601, in the schedule's timezone")


class OrgSchedules(_Answer):
    schedules: list[OrgSchedule]


class OrgScheduleChange(_Answer):
    schedule: str
    paused: bool
    changed: bool


class OrgScheduleRun(_Answer):
    schedule: str
    qstash_message_id: str


class RetentionRun(_Answer):
    local_time: str = Field(description="the firing, in the organisation's timezone (run now: now-…)")
    rounds: int = Field(description="rounds so far; each deletes at most ZAPLINE_RETENTION_BATCH messages")
    finished: bool = Field(description="false while a next round is queued")
    totals: dict[str, int] = Field(description="messages, dead_letters, aliases, conversations, indexed")
    cutoff: int = Field(description="messages WhatsApp-timed before this (epoch ms) were deleted")
    message_days: int
    started_at: int
    at: int = Field(description="when the latest round finished (epoch ms)")


class Retention(_Answer):
    message_days: int = Field(description="days a message is kept, by its WhatsApp time (default 180)")
    dead_letter_days: int = Field(description="days a dead letter is kept")
    last_run: RetentionRun | None = Field(None, description="the retention job's latest firing")


class LaneStates(_Answer):
    lanes: list[LaneState]


class LaneInstanceChange(_Answer):
    instance_id: str
    name: str
    changed: bool
    qstash: Literal["paused", "resumed", "no messages yet"]


class LaneChange(_Answer):
    lane: str
    paused: bool
    changed: bool = Field(description="False when it already was so (idempotent)")
    instances: list[LaneInstanceChange]


class LaneChanges(_Answer):
    lanes: list[LaneChange]


class StatsRange(_Answer):
    start: str = Field(alias="from", pattern=r"^\d{4}-\d{2}-\d{2}$")
    end: str = Field(alias="to", pattern=r"^\d{4}-\d{2}-\d{2}$")
    days: list[DailyStats]
    totals: dict[str, int]
    nps: float | None


class ConversationAi(_Answer):
    conversation_id: str
    ai_paused: str | None = Field(description="operator, handoff or takeover while the AI stays out; null: it answers")


class KnowledgeEntry(_Answer):
    id: str
    question: str
    answer: str
    status: str = Field(description="pending, approved or rejected")
    conversation_id: str
    created_at: int
    decided_at: int | None = None


class KnowledgeList(_Answer):
    items: list[KnowledgeEntry]


class OwnerMessage(_Answer):
    key: str
    cause: str
    text: str
    instance_id: str
    wa_id: str | None = None
    sent_at: int


class OwnerMessages(_Answer):
    items: list[OwnerMessage]


class CampaignCounters(_Answer):
    """Each recipient counts once per counter, however often a job or a webhook is delivered."""

    queued: int = Field(description="handed to QStash's bulk lane, no outcome yet")
    sent: int = Field(description="UAZAPI took it")
    delivered: int = Field(description="delivered to the phone (read ones included)")
    read: int
    replied: int = Field(description="the lead wrote after the campaign's message")
    failed: int = Field(description="UAZAPI refused it, or it could not be sent after QStash's retries")
    skipped: int
    skipped_by_reason: dict[str, int] = Field(
        description="opted_out, not_on_whatsapp, invalid_phone, duplicate, cancelled, empty_message"
    )


class CampaignMediaInfo(_Answer):
    url: str
    media_type: str
    file_name: str | None = None


class Campaign(_Answer):
    id: str = Field(pattern=r"^camp_[0-9a-f]{12}$")
    name: str
    instance_id: str
    status: Literal["draft", "scheduled", "running", "paused", "completed", "cancelled"] = Field(
        description="draft: stored, its first job not yet in QStash (resume hands it over)"
    )
    template: str
    media: CampaignMediaInfo | None = None
    audience: Literal["recipients", "filter"]
    filter: dict[str, Any] | None = Field(None, description="the filter as given (audience filter)")
    total: int | None = Field(description="recipients; null until a filter is resolved, when the campaign starts")
    fanned_out: int = Field(description="recipients handed to the fan-out so far")
    timezone: str
    start_at: str = Field(description="local date and time, the organisation's timezone")
    window: dict[str, str] | None = Field(None, description='{"from": "HH:MM", "to": "HH:MM"}, local')
    created_at: int
    started_at: int | None = None
    paused_at: int | None = None
    completed_at: int | None = None
    cancelled_at: int | None = None
    recipients_deleted_at: int | None = Field(
        None, description="when retention deleted its recipients (the messages' period after it ended); counters stay"
    )
    counters: CampaignCounters


class CampaignList(_Answer):
    items: list[Campaign] = Field(description="newest first")


class CampaignChange(_Answer):
    campaign: Campaign
    changed: bool = Field(description="False when it already was so (idempotent)")

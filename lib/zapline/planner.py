"""What follows an ingested message, decided in one place from the store's typed result.

The ingest script keeps the storage invariants (dedup, upserts, indexes, counters, ordering) and
answers an :class:`~zapline.store.ingest.IngestResult`; this planner turns that answer into the
follow-on work — timers made stale, live updates, AI jobs — without another Redis round trip. New kinds
of follow-on work (a campaign's attribution) are added here, not in Lua.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from zapline.publications import Publication, message_changed
from zapline.store.ingest import IngestResult
from zapline.store.registry import InstanceRef

if TYPE_CHECKING:  # the job registry is imported when a message has AI work, not by every inbound function
    from zapline.registry.jobs import JobKind, JobPayload

__all__ = ["Job", "Plan", "plan_message"]


@dataclass(frozen=True)
class Job:
    """A job to publish: its kind, its payload and a delay in seconds."""

    kind: JobKind[Any]
    payload: JobPayload
    delay: int | None = None


@dataclass(frozen=True)
class Plan:
    cancel: list[str] = field(default_factory=list)  # QStash timers to cancel (best effort)
    publications: list[Publication] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)  # AI work: published after the live update


def plan_message(ref: InstanceRef, wa_id: str, result: IngestResult) -> Plan:
    """The follow-on work of one ``messages`` event (a duplicate included).

    - the lead wrote: the armed follow-up is stale, cancel it (its own epoch check makes a failed
      cancel harmless);
    - a stored message is shown live; a duplicate is shown again with its original kind, because its
      first delivery may have stored it without publishing (Centrifugo's idempotency key drops the
      copy when it did publish).
    """
    cancel = [result.cancel] if result.cancel else []
    message, conversation = result.message, result.conversation
    if not message or not conversation:
        return Plan(cancel)
    created = result.outcome == "stored" or (result.outcome == "duplicate" and result.original == "created")
    shown = message_changed(ref.org_id, message, created=created, key=f"{ref.instance_id}:{wa_id}",
                            conversation=conversation, poll=result.poll)  # fmt: skip
    return Plan(cancel, [shown], ai_jobs(ref.org_id, message, result.ai) if created else [])


def ai_jobs(org_id: str, message: dict[str, Any], ai: dict[str, Any] | None) -> list[Job]:
    """The AI work of a lead's message (the store said which: ``ingest.lua`` ``ai_work``):

    - an image, voice note or document is read first (its own job, which then asks for the reply,
      so the reply reads the transcript or the extraction);
    - otherwise a reply after the debounce: a later message of the lead supersedes it, so three
      quick messages get one answer.
    """
    if not ai:
        return []
    from zapline.jobs.kinds import AI_REPLY, DOCUMENT_ANALYSIS, IMAGE_ANALYSIS, TRANSCRIBE, AiMediaJob, AiReplyJob

    conversation_id, reply = message["conversation_id"], bool(ai.get("reply"))
    kinds = {"image": IMAGE_ANALYSIS, "audio": TRANSCRIBE, "document": DOCUMENT_ANALYSIS}
    media = kinds.get(message.get("kind", "")) if ai.get("media") else None
    if media is not None:
        return [Job(media, AiMediaJob(org_id=org_id, message_id=message["id"], conversation_id=conversation_id,
                                      reply=reply))]  # fmt: skip
    if reply:
        job = AiReplyJob(org_id=org_id, conversation_id=conversation_id, trigger=message["id"])
        delay = ai.get("delay")
        return [Job(AI_REPLY, job, int(delay) if isinstance(delay, int | float) and delay > 0 else None)]
    return []

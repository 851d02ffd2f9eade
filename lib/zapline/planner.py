"""What follows an ingested message, decided in one place from the store's typed result.

The ingest script keeps the storage invariants (dedup, upserts, indexes, counters, ordering) and
answers an :class:`~zapline.store.ingest.IngestResult`; this planner turns that answer into the
follow-on work — timers made stale, live updates — without another Redis round trip. New kinds of
follow-on work (an AI reply, a campaign's attribution) are added here, not in Lua.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zapline.publications import Publication, message_changed
from zapline.store.ingest import IngestResult
from zapline.store.registry import InstanceRef

__all__ = ["Plan", "plan_message"]


@dataclass(frozen=True)
class Plan:
    cancel: list[str] = field(default_factory=list)  # QStash timers to cancel (best effort)
    publications: list[Publication] = field(default_factory=list)


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
    return Plan(cancel, [shown])

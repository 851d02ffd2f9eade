"""Receipts and replies counted for the campaign whose message they answer (called by ``inbound.py``).

Free for everything else: the ingest script already returns what is needed — a receipt's entries
carry their message's ``campaign_id``, and a conversation a campaign message was sent in carries
``campaign_id`` until the lead's first reply — so a message or receipt of no campaign costs no
command here. One that is costs one script call, idempotent through the campaign's marks, so a
webhook delivered twice (or a QStash retry) counts nothing twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zapline.store.ingest import IngestResult

__all__ = ["after_message", "after_receipts"]

_DELIVERED = frozenset({"delivered", "read", "played"})
_READ = frozenset({"read", "played"})


async def after_message(org_id: str, result: IngestResult) -> None:
    """The lead's first message after a campaign message: ``replied``, once per recipient. (And our
    own message's echo, when receipts that came before it moved it on.)"""
    conversation, message = result.conversation or {}, result.message or {}
    if result.outcome == "echo" and message.get("campaign_id"):
        await after_receipts(org_id, [message])
        return
    campaign_id = conversation.get("campaign_id")
    if not campaign_id or message.get("direction") != "in" or result.outcome not in ("stored", "duplicate"):
        return
    who = conversation.get("lead_id") or conversation.get("id") or ""
    await _attribute(org_id, [{"c": campaign_id, "n": "replied", "w": who, "conv": conversation.get("id") or ""}])


async def after_receipts(org_id: str, entries: list[dict[str, Any]]) -> None:
    """Delivered and read receipts of campaign messages (``read`` counts as delivered too)."""
    items = []
    for entry in entries:
        campaign_id = entry.get("campaign_id")
        if not campaign_id:
            continue
        status = entry.get("status")
        if status in _DELIVERED:
            items.append({"c": campaign_id, "n": "delivered", "w": entry["id"]})
        if status in _READ:
            items.append({"c": campaign_id, "n": "read", "w": entry["id"]})
    if items:
        await _attribute(org_id, items)


async def _attribute(org_id: str, items: list[dict[str, str]]) -> None:
    from zapline.campaigns.view import show  # a campaign's message: only then is the campaign store loaded
    from zapline.store import campaigns as store

    for record in await store.attribute(org_id, items):
        await show(org_id, record)

"""Library calls the conversation-loop tests make in a process configured like a function."""

from __future__ import annotations

import asyncio

from zapline.outbound import queue_message


async def queue_bulk(org_id: str, conversation_id: str, count: int) -> None:
    """Queue ``count`` campaign messages in the bulk lane, as a campaign job would."""
    for start in range(0, count, 25):
        await asyncio.gather(
            *(
                queue_message(org_id, conversation_id, text=f"Promoção {i + 1}/{count}", lane="bulk", author="campaign")
                for i in range(start, min(count, start + 25))
            )
        )


async def create_pending(org_id: str, conversation_id: str, message_id: str, text: str) -> None:
    """Store a pending outbound message without queueing its send (the test delivers the job)."""
    from zapline.store.outbound import create_outbound

    message = {"id": message_id, "kind": "text", "text": text, "lane": "realtime"}
    await create_outbound(org_id, conversation_id, message, preview=text, restart_followups=False)


async def enqueue_send(org_id: str, message_id: str) -> None:
    """Publish the send job of a stored message through QStash, as queue_message does."""
    from zapline.clients import aclose_clients
    from zapline.jobs.kinds import SEND, SendJob
    from zapline.registry.jobs import enqueue

    try:
        await enqueue(SEND, SendJob(org_id=org_id, message_id=message_id))
    finally:
        await aclose_clients()

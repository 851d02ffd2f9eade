"""A campaign as the API and its live updates show it, from its stored hash.

Counters: ``queued`` (handed to QStash, no outcome yet), ``sent``, ``failed`` and ``skipped`` (by
reason) are each recipient's outcome, once; ``delivered``, ``read`` and ``replied`` count recipients
whose message got there (``read`` implies ``delivered``). A cancelled campaign's recipients that were
never queued count as skipped ``cancelled``; those still queued move there as QStash delivers them.
"""

from __future__ import annotations

import json
from typing import Any

from zapline.errors import TransientError
from zapline.logs import get_logger
from zapline.publications import campaign_progress, publish

__all__ = ["show", "view"]

log = get_logger("zapline.campaigns")

Record = dict[str, Any]


def _int(record: Record, name: str) -> int:
    value = record.get(name)
    return int(value) if value not in (None, "") else 0


def _optional_int(record: Record, name: str) -> int | None:
    value = record.get(name)
    return int(value) if value not in (None, "") else None


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) and value else None


def view(record: Record) -> dict[str, Any]:
    """The campaign's public shape (``admin/responses.py`` ``Campaign``)."""
    n = {k[2:]: int(v) for k, v in record.items() if k.startswith("n:") and str(v).lstrip("-").isdigit()}
    reasons = {k[5:]: v for k, v in n.items() if k.startswith("skip:") and v}
    total = _int(record, "total") if record.get("resolved") == "1" else None
    cursor = _int(record, "cursor")
    if record.get("status") == "cancelled" and total is not None and total > cursor:
        reasons["cancelled"] = reasons.get("cancelled", 0) + total - cursor
    sent, failed = n.get("sent", 0), n.get("failed", 0)
    window = {"from": record["window_from"], "to": record["window_to"]} if record.get("window_from") else None
    return {
        "id": record["id"],
        "name": record.get("name", ""),
        "instance_id": record.get("instance_id", ""),
        "status": record.get("status", "draft"),
        "template": record.get("template", ""),
        "media": _json(record.get("media")),
        "audience": record.get("audience", "recipients"),
        "filter": _json(record.get("filter")),
        "total": total,
        "fanned_out": cursor,
        "timezone": record.get("timezone", "UTC"),
        "start_at": record.get("start_local", ""),
        "window": window,
        "created_at": _int(record, "created_at"),
        "started_at": _optional_int(record, "started_at"),
        "paused_at": _optional_int(record, "paused_at"),
        "completed_at": _optional_int(record, "completed_at"),
        "cancelled_at": _optional_int(record, "cancelled_at"),
        "recipients_deleted_at": _optional_int(record, "pruned_at"),
        "counters": {
            "queued": max(0, n.get("published", 0) - sent - failed - n.get("send_skips", 0)),
            "sent": sent,
            "delivered": n.get("delivered", 0),
            "read": n.get("read", 0),
            "replied": n.get("replied", 0),
            "failed": failed,
            "skipped": sum(reasons.values()),
            "skipped_by_reason": dict(sorted(reasons.items())),
        },
    }


async def show(org_id: str, record: Record | None) -> None:
    """Publish ``campaign.progress`` (the store said one is due); best effort: a reader can GET it."""
    if not record:
        return
    try:
        await publish(campaign_progress(org_id, view(record), seq=str(record.get("progress_seq") or 0)))
    except TransientError as exc:
        log.warning("campaign progress not shown live", org=org_id, campaign=record.get("id"), error=exc.message)

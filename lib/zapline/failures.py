"""The failures function: QStash's failure callbacks, after a message exhausted its retries (or was
refused with 489). The dead letter itself stays in QStash's DLQ (retry it from the Upstash console
or ``POST /api/v1/dead-letters/{dlq_id}/retry``); here it is recorded where the organisation's
operators see it, an outbound message that will never be sent is marked failed, and the inbox is
told live.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.routing import Route

from zapline import realtime
from zapline.clients import redis_client
from zapline.errors import InvalidPayload
from zapline.http import Delivery, signed
from zapline.logs import get_logger
from zapline.outbound import publish_update
from zapline.store.clock import now_ms
from zapline.store.keys import DEAD_LETTER_SEEN_TTL, DEAD_LETTERS_KEPT, OrgKeys
from zapline.store.outbound import outbound
from zapline.store.scripts import run_redis

__all__ = ["routes"]

log = get_logger("zapline.failures")

_INSTANCE_KEY = re.compile(r"/api/inbound/uazapi/(org_[0-9a-z]+)\.")


class FailureCallback(BaseModel):
    """QStash's failure-callback body (the fields Zapline reads)."""

    model_config = ConfigDict(extra="ignore")

    status: int = 0
    body: str = ""  # base64 of the destination's last answer
    retried: int = 0
    maxRetries: int = 0  # QStash's field names
    sourceMessageId: str = ""
    url: str = ""
    sourceBody: str = ""
    dlqId: str = ""


def _b64(value: str) -> bytes:
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4))
    except ValueError:
        return b""


def _reason(callback: FailureCallback) -> str:
    answer = _b64(callback.body)
    try:
        parsed = json.loads(answer)
        if isinstance(parsed, dict) and parsed.get("error"):
            return f"{parsed.get('error_type', 'error')}: {parsed['error']}"
    except ValueError:
        pass
    return answer.decode("utf-8", "replace")[:300] or f"HTTP {callback.status}"


async def record_failure(delivery: Delivery) -> dict[str, Any]:
    try:
        callback = FailureCallback.model_validate_json(delivery.body)
    except ValidationError:
        raise InvalidPayload("not a QStash failure callback") from None
    source: dict[str, Any] = {}
    try:
        parsed = json.loads(_b64(callback.sourceBody))
        source = parsed if isinstance(parsed, dict) else {}
    except ValueError:
        pass
    match = _INSTANCE_KEY.search(callback.url)
    org_id = str(source.get("org_id") or (match.group(1) if match else ""))
    reason = _reason(callback)
    path = "/" + callback.url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
    entry = {"dlq_id": callback.dlqId, "qstash_message_id": callback.sourceMessageId, "path": path,
             "status": callback.status, "reason": reason, "retried": callback.retried, "at": now_ms()}  # fmt: skip
    log.warning("dead letter", org=org_id or None, path=path, status=callback.status, reason=reason)
    if not org_id:
        return {"outcome": "unattributed", **entry}
    keys = OrgKeys(org_id)
    redis = redis_client()
    # QStash may deliver this callback again (e.g. after a 503 below): record it once
    seen = keys.dead_letter_seen(callback.dlqId or callback.sourceMessageId)
    if await run_redis(redis.set(seen, "1", nx=True, ex=DEAD_LETTER_SEEN_TTL)):
        pipe = redis.pipeline()
        pipe.lpush(keys.dead_letters, json.dumps(entry, ensure_ascii=False))
        pipe.ltrim(keys.dead_letters, 0, DEAD_LETTERS_KEPT - 1)
        await run_redis(pipe.exec())
    if path == "/api/jobs/send" and source.get("message_id"):
        failed = await outbound(org_id, "failed", message_id=str(source["message_id"]), error=f"gave up: {reason}")
        await publish_update(org_id, failed["message"])
    key = f"dead:{callback.dlqId or callback.sourceMessageId}"
    await realtime.broadcast([realtime.inbox_channel(org_id)], {"type": "job.failed", **entry}, idempotency_key=key)
    return {"outcome": "recorded", **entry}


# the callback holds the source body (base64, 4/3 of it) and the last answer: room for both
routes = [Route("/api/failures/qstash", signed(record_failure, size_factor=4), methods=["POST"])]

"""The failures function: QStash's failure callbacks, after a message exhausted its retries (or was
refused with 489). The dead letter itself stays in QStash's DLQ (retry it from the Upstash console);
here it is recorded where the organisation's operators see it, an outbound message that will never
be sent is marked failed, and the inbox is told live.

Whose dead letter it is comes only from data Zapline itself vouches for: the instance key in the
destination path (checked against its stored digest) for inbound webhooks, or the body of a job
Zapline published itself. A failed webhook body is the sender's text and never picks the tenant.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.routing import Route

from zapline import jsonsafe
from zapline.clients import redis_client
from zapline.config import get_settings
from zapline.errors import InvalidPayload, RecordMissing, UnknownInstance
from zapline.http import Delivery, signed
from zapline.jobs.kinds import JOBS
from zapline.logs import get_logger
from zapline.outbound import publish_update
from zapline.publications import job_failed, publish
from zapline.registry.jobs import FAILURES_PATH
from zapline.store.clock import now_ms, org_day
from zapline.store.keys import DAILY_COUNTER_TTL, DEAD_LETTER_SEEN_TTL, DEAD_LETTERS_KEPT, OrgKeys
from zapline.store.outbound import fail_send
from zapline.store.registry import check_instance_key, parse_instance_key, redact_path
from zapline.store.scripts import run_redis

__all__ = ["record_dead_letter", "routes", "summarise"]

log = get_logger("zapline.failures")

_SECRET_FIELDS = re.compile(r'"(token|api_key|apikey|authorization|password|secret)"\s*:\s*"[^"]*"', re.IGNORECASE)
SUMMARY_CHARS = 600  # of a failed body, kept for the operator (secrets removed)


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
        parsed = jsonsafe.loads_limited(answer)
        if isinstance(parsed, dict) and parsed.get("error"):
            return f"{parsed.get('error_type', 'error')}: {parsed['error']}"[:500]
    except ValueError:
        pass
    return answer.decode("utf-8", "replace")[:300] or f"HTTP {callback.status}"


def summarise(body: bytes) -> str:
    """A short excerpt of a failed body for operators: never a credential, never the whole of it."""
    text = body[: SUMMARY_CHARS * 8].decode("utf-8", "replace")
    return _SECRET_FIELDS.sub(lambda m: f'"{m.group(1)}":"…"', text)[:SUMMARY_CHARS]


async def _owner(path: str, source: bytes) -> tuple[str | None, str, dict[str, Any]]:
    """(organisation, job kind, the job's own fields) for a failed destination path."""
    if path.startswith("/api/inbound/uazapi/"):
        try:
            ref = parse_instance_key(path.rsplit("/", 1)[-1])
            await check_instance_key(ref)
        except UnknownInstance:
            return None, "inbound", {}
        return ref.org_id, "inbound", {}
    kind = JOBS.for_path(path)
    if kind is not None:
        try:
            job = kind.parse(source)  # Zapline published it: its org_id is trusted, once it parses
        except InvalidPayload:
            return None, kind.name, {}
        return job.org_id, kind.name, job.model_dump()
    return None, "unknown", {}


async def record_dead_letter(org_id: str, entry: dict[str, Any], *, seen_id: str) -> None:
    """Keep ``entry`` in the organisation's dead letters (once per ``seen_id``) and tell the inbox."""
    keys = OrgKeys(org_id)
    redis = redis_client()
    # QStash may deliver the same callback again (e.g. after a 503 below): record it once
    if await run_redis(redis.set(keys.dead_letter_seen(seen_id), "1", nx=True, ex=DEAD_LETTER_SEEN_TTL)):
        daily = keys.daily(await org_day(org_id))
        pipe = redis.pipeline()
        pipe.lpush(keys.dead_letters, json.dumps(entry, ensure_ascii=False))
        pipe.ltrim(keys.dead_letters, 0, DEAD_LETTERS_KEPT - 1)
        pipe.hincrby(daily, f"job_failures:{entry.get('job') or 'unknown'}", 1)  # for admin/metrics.py
        pipe.expire(daily, DAILY_COUNTER_TTL, nx=True)
        await run_redis(pipe.exec())
    await publish(job_failed(org_id, entry, seen_id=seen_id))


async def record_failure(delivery: Delivery) -> dict[str, Any]:
    try:
        callback = FailureCallback.model_validate_json(delivery.body)
    except ValidationError:
        raise InvalidPayload("not a QStash failure callback") from None
    app_url = get_settings().app_url
    ours = callback.url.startswith(app_url + "/")
    path = urlsplit(callback.url).path if ours else ""
    source = _b64(callback.sourceBody)
    org_id, job, fields = await _owner(path, source) if ours else (None, "unknown", {})
    reason = _reason(callback)
    entry = {"dlq_id": callback.dlqId, "qstash_message_id": callback.sourceMessageId, "job": job,
             "path": redact_path(path or callback.url.split("?", 1)[0])[:300], "http_status": callback.status,
             "reason": reason, "retried": callback.retried, "at": now_ms(), "size": len(source),
             "summary": summarise(source)}  # fmt: skip
    log.warning("dead letter", org=org_id, job=job, path=entry["path"], http_status=callback.status, reason=reason)
    if not org_id:
        return {"outcome": "unattributed", "job": job, "dlq_id": callback.dlqId}
    await record_dead_letter(org_id, entry, seen_id=callback.dlqId or callback.sourceMessageId)
    if job == "send" and isinstance(fields.get("message_id"), str):
        try:
            failed = await fail_send(org_id, fields["message_id"], f"gave up: {reason}")
        except RecordMissing:  # not this organisation's message: nothing to mark
            return {"outcome": "recorded", "job": job, "dlq_id": callback.dlqId}
        await publish_update(org_id, failed)
    return {"outcome": "recorded", "job": job, "dlq_id": callback.dlqId}


# The callback carries the failed body (base64, 4/3 of it) and the last answer. A webhook refused for
# its size must still be recorded, so the callback may be far larger than a webhook.
routes = [Route(FAILURES_PATH, signed(record_failure, size_factor=32), methods=["POST"])]

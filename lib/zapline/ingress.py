"""The ingress function (the relay, and the default webhook URL): UAZAPI → here → QStash.

Each instance's webhook URL carries its own secret (the instance key), never the deployment's
QStash token, so one tenant's URL opens nothing of another's. The relay checks the key, the size
and the body's token, then hands the raw body to QStash for the inbound function. It never answers
2xx for a webhook QStash did not accept, so UAZAPI's own retries cover a QStash outage.

A body over ``ZAPLINE_MAX_PAYLOAD_BYTES`` is refused (413) as the inbound function would refuse it,
and recorded in the instance's organisation's dead letters with an excerpt, so nobody loses sight
of it.
"""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from zapline import jsonsafe, qstash
from zapline.config import get_settings
from zapline.errors import (
    ApiError,
    BadRequest,
    NotFound,
    PermanentError,
    RequestTooLarge,
    Unauthorized,
)
from zapline.http import guarded, read_limited
from zapline.logs import get_logger
from zapline.registry.jobs import FAILURES_PATH
from zapline.store.clock import now_ms
from zapline.store.registry import InstanceRef, check_instance, check_instance_key, key_prefix, parse_instance_key

__all__ = ["routes"]

log = get_logger("zapline.ingress")

EXCERPT_BYTES = 4096  # of an oversized body, read to record its dead letter


async def _refuse(ref: InstanceRef, head: bytes, error: ApiError) -> ApiError:
    """A body the inbound function would refuse: recorded as the organisation's dead letter (when the
    key is the instance's), then ``error`` for UAZAPI."""
    from zapline.failures import record_dead_letter, summarise  # only on this rare path: a cold start saves it

    try:
        await check_instance_key(ref)
    except PermanentError:
        return NotFound("unknown instance key")
    seen = f"ingress:{ref.instance_id}:{hashlib.sha256(head).hexdigest()[:16]}"
    entry = {"dlq_id": "", "qstash_message_id": "", "job": "inbound", "path": "/api/ingress/uazapi",
             "http_status": error.status_code, "reason": f"{error.error_type}: {error.message}", "retried": 0,
             "at": now_ms(), "summary": summarise(head)}  # fmt: skip
    await record_dead_letter(ref.org_id, entry, seen_id=seen)
    return error


async def relay_uazapi(request: Request) -> Response:
    instance_key = request.path_params["instance_key"]

    async def relay() -> Response:
        limit = get_settings().max_payload_bytes
        try:
            ref = parse_instance_key(instance_key)
        except PermanentError:
            raise NotFound("unknown instance key") from None
        body, whole = await read_limited(request, limit, keep=EXCERPT_BYTES)
        if not whole:
            raise await _refuse(ref, body, RequestTooLarge(f"body exceeds ZAPLINE_MAX_PAYLOAD_BYTES={limit}"))
        try:
            data = jsonsafe.loads_limited(body)
        except ValueError as exc:
            raise await _refuse(ref, body, BadRequest(f"body is not JSON: {exc}")) from None
        if not isinstance(data, dict):
            raise await _refuse(ref, body, BadRequest("body must be a JSON object"))
        token = data.get("token")
        try:
            await check_instance(ref, token if isinstance(token, str) else "")
        except PermanentError as exc:
            raise (
                NotFound("unknown instance key") if "no instance" in exc.message else Unauthorized(exc.message)
            ) from None
        message_id = await qstash.publish(f"/api/inbound/uazapi/{instance_key}", body, failure_callback=FAILURES_PATH)
        log.info("relayed", org=ref.org_id, instance=ref.instance_id, qstash_message_id=message_id)
        return JSONResponse({"status": "ok", "messageId": message_id})

    return await guarded(relay, audience="sender", log_fields={"instance_key_prefix": key_prefix(instance_key)})


routes = [Route("/api/ingress/uazapi/{instance_key}", relay_uazapi, methods=["POST"])]

"""The one wrapper for every QStash-signed endpoint, and the error → HTTP status mapping.

A signed handler receives a :class:`Delivery` (raw body, path parameters, QStash headers) and
returns a JSON-able dict. The wrapper verifies ``Upstash-Signature`` against ``APP_URL`` + the
request target before anything else runs, then maps what the handler raises:

- bad signature → 401, nothing ran;
- :class:`~zapline.errors.PermanentError` → 489 + ``Upstash-NonRetryable-Error: true`` (DLQ now);
  so is an :class:`~zapline.errors.ApiError` (a missing record, an opted-out lead): inside a job
  a retry cannot make it right, so QStash must not spend its retries on it;
- :class:`~zapline.errors.TransientError` → 503 (QStash retries with backoff);
- anything unexpected → 500 (QStash retries; a bug becomes a dead letter, not a lost message).

Every error body is ``{"status": "error", "error_type": ..., "error": ...}``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from zapline.config import get_settings
from zapline.errors import (
    ApiError,
    LeadOptedOut,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    PermanentError,
    RecordMissing,
    TransientError,
    ZaplineError,
)
from zapline.logs import get_logger
from zapline.signature import verify_signature

__all__ = [
    "Audience",
    "Delivery",
    "error_response",
    "exception_handlers",
    "guarded",
    "public_url",
    "read_limited",
    "signed",
    "status_for",
]

log = get_logger("zapline.http")


@dataclass(frozen=True)
class Delivery:
    """One QStash delivery, as a signed handler sees it."""

    body: bytes
    path_params: Mapping[str, str]
    message_id: str | None
    retried: int
    schedule_id: str | None


SignedHandler = Callable[[Delivery], Awaitable[Mapping[str, Any]]]


def public_url(app_url: str, request: Request) -> str:
    """The URL QStash was asked to call: ``APP_URL`` + the path and query as sent on the wire."""
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else quote(request.url.path, safe="/:@!$&'()*+,;=-._~%")
    query = request.scope.get("query_string", b"").decode("latin-1")
    return f"{app_url}{path}?{query}" if query else f"{app_url}{path}"


Audience = Literal["qstash", "operator", "sender"]


def status_for(error: ZaplineError, audience: Audience = "sender") -> int:
    """The HTTP status an error becomes, by who is asking.

    - ``qstash`` (signed deliveries): every permanent error, domain or API, is 489 — QStash must not
      spend retries on it; a transient one is 503;
    - ``operator`` (the operator API): a missing record is 404, an opted-out lead 409, any other
      permanent error 400 (the input cannot be applied);
    - ``sender`` (the relay, answering UAZAPI): the error's own status.
    """
    if audience == "qstash" and isinstance(error, PermanentError | ApiError):
        return 489
    if audience == "operator" and isinstance(error, PermanentError):
        return 404 if isinstance(error, RecordMissing) else 409 if isinstance(error, LeadOptedOut) else 400
    return error.status_code


def error_response(error: ZaplineError, audience: Audience = "sender") -> JSONResponse:
    """The documented error body, with the status (and retry headers) for ``audience``."""
    status = status_for(error, audience)
    headers = {}
    if status == 489:
        headers["Upstash-NonRetryable-Error"] = "true"
    elif isinstance(error, TransientError) and error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    return JSONResponse(error.to_json(), status_code=status, headers=headers)


async def guarded(
    call: Callable[[], Awaitable[Response]], *, audience: Audience, log_fields: dict[str, Any]
) -> Response:
    """Run one endpoint's work; every failure answers through :func:`error_response`, logged once.

    The one error path of the three endpoint kinds: :func:`signed` (QStash), the operator API's
    ``endpoint`` and the ingress relay.
    """
    try:
        return await call()
    except ZaplineError as exc:
        status = status_for(exc, audience)
        fields = {**exc.context, **log_fields, "http_status": status, "error_type": exc.error_type,
                  "error": exc.message}  # fmt: skip
        if status >= 500 and status != 503:
            log.error("request failed", **fields)
        else:
            log.warning("request refused" if status < 500 or status == 489 else "request failed", **fields)
        return error_response(exc, audience)
    except Exception:
        log.error("request crashed", **log_fields, exc_info=True)
        return error_response(
            ZaplineError("unexpected error; will retry" if audience == "qstash" else "unexpected error")
        )


async def _http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 / 405 (no route, wrong method) in the documented error shape."""
    status = getattr(exc, "status_code", 500)
    if status == 405:
        error: ZaplineError = MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")
        headers = dict(getattr(exc, "headers", None) or {})
        response = error_response(error)
        response.headers.update({k: v for k, v in headers.items() if k.lower() == "allow"})
        return response
    if status == 404:
        return error_response(NotFound(f"no route {request.url.path}"))
    error = ApiError(str(getattr(exc, "detail", "")) or "bad request")
    return JSONResponse(error.to_json(), status_code=status)


async def read_limited(request: Request, limit: int, *, keep: int = 0) -> tuple[bytes, bool]:
    """(the body, True) — or (its first ``keep`` bytes, False) as soon as it is known to exceed
    ``limit``: an oversized body is never read whole into memory."""
    declared = request.headers.get("content-length", "")
    too_large = declared.isascii() and declared.isdigit() and int(declared) > limit
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if (too_large and size >= keep) or size > limit:
            return b"".join(chunks)[:keep], False
    return b"".join(chunks), True


async def _read_hashed(request: Request, limit: int) -> tuple[bytes, bool, str]:
    """(the body or b"" past ``limit``, whether it is whole, the SHA-256 of all of it as QStash signs it)."""
    hasher = hashlib.sha256()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        hasher.update(chunk)
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        elif chunks:
            chunks = []
    digest = base64.urlsafe_b64encode(hasher.digest()).decode().rstrip("=")
    return (b"".join(chunks), True, digest) if size <= limit else (b"", False, digest)


def _retried(value: str | None) -> int:
    return int(value) if value and value.isascii() and value.isdigit() else 0


def exception_handlers() -> dict[Any, Callable[[Request, Exception], Awaitable[Response]]]:
    return {HTTPException: _http_exception}


def signed(handler: SignedHandler, *, size_factor: int = 1) -> Callable[[Request], Awaitable[Response]]:
    """Wrap ``handler`` as a Starlette endpoint that only runs for authentic QStash deliveries.

    Bodies over ``size_factor`` × ``ZAPLINE_MAX_PAYLOAD_BYTES`` are refused (489): QStash's failure
    callbacks carry the original body base64-encoded, so they get a larger factor.
    """
    name = getattr(handler, "__qualname__", "handler")

    async def endpoint(request: Request) -> Response:
        settings = get_settings()
        limit = settings.max_payload_bytes * size_factor
        # never more than the limit in memory, signed or not: a larger body is only hashed, so its
        # signature can still be checked (and a genuine one refused as too large, straight to the DLQ)
        body, whole, digest = await _read_hashed(request, limit)
        message_id = request.headers.get("upstash-message-id")

        async def run() -> Response:
            verify_signature(
                request.headers.get("upstash-signature"),
                body=body,
                url=public_url(settings.app_url, request),
                keys=(settings.qstash_current_signing_key, settings.qstash_next_signing_key),
                digest=digest,
            )
            if not whole:
                named = f"ZAPLINE_MAX_PAYLOAD_BYTES={settings.max_payload_bytes}" + (
                    f" x {size_factor}" if size_factor > 1 else ""
                )
                raise PayloadTooLarge(f"body exceeds {named}")
            delivery = Delivery(
                body=body,
                path_params=request.path_params,
                message_id=message_id,
                retried=_retried(request.headers.get("upstash-retried")),
                schedule_id=request.headers.get("upstash-schedule-id"),
            )
            result = await handler(delivery)
            return JSONResponse({"status": "ok", **result})

        return await guarded(run, audience="qstash", log_fields={"handler": name, "qstash_message_id": message_id})

    return endpoint

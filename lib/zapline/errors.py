"""Zapline's exception tree. Each error knows its HTTP status and whether a retry can help.

ZaplineError
├── ConfigError                 a setting is missing or malformed (raised at start-up)
├── SignatureInvalid      401   Upstash-Signature missing, forged, expired or for another URL
├── PermanentError        489   retrying cannot help: QStash sends it straight to the DLQ
│   ├── InvalidPayload          the body is not a valid event (``field`` says where)
│   │   └── PayloadTooLarge
│   ├── UnknownInstance         no such instance, or the body's token does not match
│   ├── RecordMissing           no such conversation, lead or message in this organisation
│   ├── LeadOptedOut            the lead opted out: nothing more is sent to them
│   ├── AiRejected              OpenAI refused the request (4xx but 429), or its answer is unusable
│   ├── QueueRejected           QStash refused a message (a 4xx: bad delay, size, token)
│   ├── StoreRejected           a store script failed on this input
│   └── UazapiRejected          UAZAPI refused a send: invalid number, bad payload
├── TransientError        503   a dependency is down: QStash retries later (after ``retry_after``)
│   ├── StoreUnavailable        Upstash Redis
│   ├── RealtimeUnavailable     Centrifugo
│   ├── QueueUnavailable        QStash
│   ├── UazapiUnavailable       UAZAPI: 429, 5xx, timeouts
│   └── AiUnavailable           OpenAI: 429, 5xx, timeouts (after its Retry-After)
└── ApiError                    the operator API's own answers (it also maps RecordMissing → 404,
                                LeadOptedOut → 409 and other permanent errors → 400; only it
                                speaks in HTTP statuses, jobs answer 489 or 503)
    ├── BadRequest        400
    ├── Unauthorized      401
    ├── Forbidden         403   the API key's role may not make this call (``required_role`` says which may)
    ├── NotFound          404
    ├── MethodNotAllowed  405
    ├── Conflict          409
    └── RequestTooLarge   413   a request body or field over its documented limit
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AiRejected",
    "AiUnavailable",
    "ApiError",
    "BadRequest",
    "ConfigError",
    "Conflict",
    "Forbidden",
    "InvalidPayload",
    "LeadOptedOut",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "PermanentError",
    "QueueRejected",
    "QueueUnavailable",
    "RequestTooLarge",
    "RealtimeUnavailable",
    "RecordMissing",
    "SignatureInvalid",
    "StoreRejected",
    "StoreUnavailable",
    "TransientError",
    "UazapiRejected",
    "UazapiUnavailable",
    "Unauthorized",
    "UnknownInstance",
    "ZaplineError",
]


class ZaplineError(Exception):
    """Base of every error Zapline raises on purpose."""

    status_code: ClassVar[int] = 500
    retryable: ClassVar[bool] = False
    error_type: ClassVar[str] = "internal_error"

    def __init__(self, message: str, **context: Any) -> None:
        # a message may quote outside text (a field name, a value): a lone surrogate in it would make
        # the error's own JSON answer unencodable, so it is escaped here, once, for every error
        message = message.encode("utf-8", "backslashreplace").decode("utf-8")
        super().__init__(message)
        self.message = message
        self.context = context  # safe to log: never tokens or raw bodies

    def to_json(self) -> dict[str, Any]:
        return {"status": "error", "error_type": self.error_type, "error": self.message}


class ConfigError(ZaplineError):
    error_type = "config_error"


class SignatureInvalid(ZaplineError):
    status_code = 401
    error_type = "invalid_signature"


class PermanentError(ZaplineError):
    status_code = 489
    error_type = "permanent_error"


class InvalidPayload(PermanentError):
    error_type = "invalid_payload"

    def __init__(self, message: str, *, field: str | None = None, **context: Any) -> None:
        super().__init__(message, field=field, **context)
        self.field = field

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "field": self.field}

    @classmethod
    def from_validation(cls, what: str, error: Any) -> InvalidPayload:
        """From a pydantic ``ValidationError``: the first problem, naming its field."""
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])[:200] or "body"  # a dict key in it is outside text
        return cls(f"{what}: {where}: {first['msg']}", field=where)


class PayloadTooLarge(InvalidPayload):
    error_type = "payload_too_large"


class UnknownInstance(PermanentError):
    error_type = "unknown_instance"


class RecordMissing(PermanentError):
    error_type = "not_found"

    def __init__(self, what: str, record_id: str | None = None, **context: Any) -> None:
        super().__init__(f"no {what} {record_id}" if record_id else f"no such {what}", what=what, **context)
        self.what = what


class LeadOptedOut(PermanentError):
    error_type = "opted_out"

    def __init__(self, message: str = "the lead opted out of messages", **context: Any) -> None:
        super().__init__(message, **context)


class QueueRejected(PermanentError):
    error_type = "queue_rejected"


class StoreRejected(PermanentError):
    """A script failed on this input: retrying the same delivery would fail the same way."""

    error_type = "store_rejected"


class UazapiRejected(PermanentError):
    error_type = "uazapi_rejected"


class AiRejected(PermanentError):
    """OpenAI refused the request (a 4xx other than 429), or the model's answer is unusable."""

    error_type = "ai_rejected"


class TransientError(ZaplineError):
    status_code = 503
    retryable = True
    error_type = "unavailable"

    def __init__(self, message: str, *, retry_after: int | None = None, **context: Any) -> None:
        super().__init__(message, **context)
        self.retry_after = retry_after  # seconds; sent as Retry-After, which QStash honours


class StoreUnavailable(TransientError):
    error_type = "store_unavailable"


class RealtimeUnavailable(TransientError):
    error_type = "realtime_unavailable"


class QueueUnavailable(TransientError):
    error_type = "queue_unavailable"


class AiUnavailable(TransientError):
    """OpenAI answered 429 or 5xx, timed out or was unreachable: retried after its ``Retry-After``."""

    error_type = "ai_unavailable"


class UazapiUnavailable(TransientError):
    error_type = "uazapi_unavailable"


class ApiError(ZaplineError):
    status_code = 400
    error_type = "bad_request"


class BadRequest(ApiError):
    pass


class Unauthorized(ApiError):
    status_code = 401
    error_type = "unauthorized"


class Forbidden(ApiError):
    status_code = 403
    error_type = "forbidden"

    def __init__(self, message: str, *, required_role: str, **context: Any) -> None:
        super().__init__(message, required_role=required_role, **context)
        self.required_role = required_role

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "required_role": self.required_role}


class NotFound(ApiError):
    status_code = 404
    error_type = "not_found"


class MethodNotAllowed(ApiError):
    status_code = 405
    error_type = "method_not_allowed"


class Conflict(ApiError):
    status_code = 409
    error_type = "conflict"


class RequestTooLarge(ApiError):
    status_code = 413
    error_type = "payload_too_large"

"""Reading a publish's configuration from its ``Upstash-*`` headers (or lowercase query params).

One :class:`Spec` describes how to build and deliver messages; publish, enqueue, batch entries,
schedules and DLQ retries all parse their headers here, so every form is validated the same way
and a bad header is a 400 before anything is stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any

from zapline.sandbox.qstash.durations import parse_duration
from zapline.sandbox.qstash.errors import ApiError
from zapline.sandbox.qstash.expressions import compile_retry_delay
from zapline.sandbox.qstash.model import CallbackSpec, FlowSpec, Headers

__all__ = ["DEFAULT_RETRIES", "METHODS", "NAME", "Spec", "canonical", "check_name", "parse_bool", "parse_spec"]

METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"})
NAME = re.compile(r"[A-Za-z0-9._-]{1,256}")
DEFAULT_RETRIES = 3
MAX_DELAY_S = 365 * 86400
MAX_PERIOD_S = 7 * 86400
MAX_RETRIES = 100
_CALLBACK_CONFIG = ("method", "timeout", "retries", "retry-delay", "delay")
_ATTRIBUTE = {  # header (or its first word) -> the Spec field it sets, for DLQ-retry overrides
    "forward": "headers", "callback": "callback", "failure": "failure_callback",
    "deduplication-id": "dedup_id", "content-based-deduplication": "content_dedup",
    "flow-control-key": "flow", "flow-control-value": "flow", "redact-fields": "redact",
    "queue-name": "queue",
}  # fmt: skip
_REDACT = re.compile(r"(body|headers?)(?:\[([^\]]+)\])?")


def canonical(name: str) -> str:
    """Go's canonical header form (``content-type`` → ``Content-Type``), as QStash shows headers."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def check_name(value: str, what: str) -> str:
    if not NAME.fullmatch(value):
        raise ApiError(400, f"invalid {what} {value!r}: use only letters, digits, '-', '.' and '_'")
    return value


def parse_bool(value: str, header: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0", ""):
        return False
    raise ApiError(400, f"invalid {header} header {value!r}: expected true or false")


def _int(value: str, header: str, *, low: int = 0, high: int | None = None) -> int:
    text = value.strip()
    if not text.lstrip("-").isdigit():
        raise ApiError(400, f"invalid {header} header {value!r}: expected an integer")
    number = int(text)
    if number < low or (high is not None and number > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ApiError(400, f"invalid {header} header {value!r}: must be {bound}")
    return number


def _seconds(value: str, header: str, *, low: int, high: int) -> int:
    try:
        seconds = parse_duration(value, what=f"{header} header")
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    if not low <= seconds <= high:
        raise ApiError(400, f"invalid {header} header {value!r}: must be between {low}s and {high}s")
    return seconds


def _retry_delay(value: str, header: str) -> str:
    try:
        compile_retry_delay(value)
    except ValueError as exc:
        raise ApiError(400, f"invalid {header} header {value!r}: {exc}") from None
    return value


def check_url(value: str, what: str) -> str:
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        raise ApiError(400, f"invalid {what} {value!r}: endpoint has invalid scheme, add http:// or https://")
    host = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if not host or any(c.isspace() for c in value):
        raise ApiError(400, f"invalid {what} {value!r}: the url has no host or contains spaces")
    return value


def parse_flow(key: str, value: str) -> FlowSpec:
    key = key.strip()
    if not key or len(key) > 256 or any(c.isspace() for c in key):
        raise ApiError(400, f"invalid Upstash-Flow-Control-Key {key!r}: 1-256 characters, no spaces")
    spec = FlowSpec(key)
    for part in value.split(","):
        if not part.strip():
            continue
        name, sep, raw = (s.strip() for s in part.partition("="))
        header = "Upstash-Flow-Control-Value"
        if not sep or name.lower() not in ("parallelism", "rate", "period"):
            raise ApiError(400, f"invalid {header} {value!r}: expected parallelism=N, rate=N, period=D")
        if name.lower() == "period":
            spec.period = _seconds(raw, f"{header} period", low=1, high=MAX_PERIOD_S)
        elif name.lower() == "rate":
            spec.rate = _int(raw, f"{header} rate", low=1)
        else:
            spec.parallelism = _int(raw, f"{header} parallelism", low=1)
    return spec


def _redact(value: str) -> tuple[str, ...]:
    parts = tuple(p.strip() for p in value.split(",") if p.strip())
    for part in parts:
        if not _REDACT.fullmatch(part):
            raise ApiError(400, f"invalid Upstash-Redact-Fields {value!r}: use body, header or header[Name]")
    return parts


@dataclass(slots=True)
class Spec:
    """A publish's configuration; ``present`` names the fields its headers actually set."""

    method: str = "POST"
    headers: Headers = field(default_factory=dict)
    retries: int | None = None
    retry_delay: str | None = None
    delay: int | None = None  # seconds
    not_before: int | None = None  # unix seconds
    dedup_id: str | None = None
    content_dedup: bool = False
    timeout: int | None = None  # seconds
    flow: FlowSpec | None = None
    label: str | None = None
    redact: tuple[str, ...] = ()
    callback: CallbackSpec | None = None
    failure_callback: CallbackSpec | None = None
    cron: str | None = None
    schedule_id: str | None = None
    queue: str | None = None
    present: set[str] = field(default_factory=set)

    def to_record(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (CallbackSpec, FlowSpec)):
                value = value.to_record()
            elif isinstance(value, (set, tuple)):
                value = sorted(value) if isinstance(value, set) else list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Spec:
        spec = cls(**{k: v for k, v in r.items() if k in {f.name for f in fields(cls)}})
        spec.redact, spec.present = tuple(spec.redact), set(spec.present)
        spec.flow = FlowSpec.from_record(r["flow"]) if r.get("flow") else None
        spec.callback = CallbackSpec.from_record(r["callback"]) if r.get("callback") else None
        spec.failure_callback = CallbackSpec.from_record(r["failure_callback"]) if r.get("failure_callback") else None
        return spec


def _callback_part(spec: Spec, attr: str, prefix: str, rest: str, value: str, header: str) -> None:
    callback = getattr(spec, attr)
    if callback is None:
        callback = CallbackSpec(url="")
        setattr(spec, attr, callback)
    if rest == "":
        callback.url = check_url(value.strip(), f"{header} url")
    elif rest.startswith("forward-"):
        callback.headers.setdefault(canonical(rest[len("forward-") :]), []).append(value)
    elif rest == "method":
        callback.method = _method(value, header)
    elif rest == "timeout":
        callback.timeout = _seconds(value, header, low=1, high=MAX_DELAY_S)
    elif rest == "retries":
        callback.retries = _int(value, header, high=MAX_RETRIES)
    elif rest == "retry-delay":
        callback.retry_delay = _retry_delay(value, header)
    elif rest == "delay":
        callback.delay = _seconds(value, header, low=0, high=MAX_DELAY_S)
    else:  # the Python SDK prefixes callback_headers with Upstash-Callback- only: forward them
        callback.headers.setdefault(canonical(rest), []).append(value)


def _method(value: str, header: str) -> str:
    method = value.strip().upper()
    if method not in METHODS:
        raise ApiError(400, f"invalid {header} header {value!r}: use one of {', '.join(sorted(METHODS))}")
    return method


def parse_spec(items: Iterable[tuple[str, str]]) -> Spec:
    """Parse (lowercase name, value) pairs; ``ApiError(400)`` names the first bad header."""
    spec = Spec()
    content_type: str | None = None
    flow_key: str | None = None
    flow_value: str | None = None
    for name, value in items:
        if name == "content-type":
            content_type = value
            continue
        if not name.startswith("upstash-"):
            continue
        key = name[len("upstash-") :]
        header = canonical(name)
        if key.startswith("forward-") and len(key) > len("forward-"):
            spec.headers.setdefault(canonical(key[len("forward-") :]), []).append(value)
        elif key == "callback" or key.startswith("callback-"):
            _callback_part(spec, "callback", "callback", key[len("callback-") :], value, header)
        elif key == "failure-callback" or key.startswith("failure-callback-"):
            _callback_part(spec, "failure_callback", "failure-callback", key[len("failure-callback-") :], value, header)
        elif key == "method":
            spec.method = _method(value, header)
        elif key == "retries":
            spec.retries = _int(value, header, high=MAX_RETRIES)
        elif key == "retry-delay":
            spec.retry_delay = _retry_delay(value, header)
        elif key == "delay":
            spec.delay = _seconds(value, header, low=0, high=MAX_DELAY_S)
        elif key == "not-before":
            spec.not_before = _int(value, header)
        elif key == "deduplication-id":
            spec.dedup_id = value
        elif key == "content-based-deduplication":
            spec.content_dedup = parse_bool(value, header)
        elif key == "timeout":
            spec.timeout = _seconds(value, header, low=1, high=MAX_DELAY_S)
        elif key == "flow-control-key":
            flow_key = value
        elif key == "flow-control-value":
            flow_value = value
        elif key == "label":
            spec.label = value
        elif key == "redact-fields":
            spec.redact = _redact(value)
        elif key == "cron":
            spec.cron = value
        elif key == "schedule-id":
            spec.schedule_id = check_name(value.strip(), "Upstash-Schedule-Id")
        elif key == "queue-name":
            spec.queue = check_name(value.strip(), "Upstash-Queue-Name")
        else:
            continue  # QStash ignores headers it does not know (Upstash-Region, …)
        spec.present.add(_ATTRIBUTE.get(key) or _ATTRIBUTE.get(key.split("-", 1)[0]) or key.replace("-", "_"))
    if content_type is not None:
        spec.headers.pop("Content-Type", None)  # the real Content-Type wins over a forwarded one
        spec.headers = {"Content-Type": [content_type], **spec.headers}
        spec.present.add("headers")
    if flow_value is not None and flow_key is None:
        raise ApiError(400, "Upstash-Flow-Control-Value needs Upstash-Flow-Control-Key")
    if flow_key is not None:
        spec.flow = parse_flow(flow_key, flow_value or "")
    for attr, header in (("callback", "Upstash-Callback"), ("failure_callback", "Upstash-Failure-Callback")):
        callback = getattr(spec, attr)
        if callback is not None and not callback.url:
            raise ApiError(400, f"{header}-* headers need {header} with the url to call")
    return spec

"""Durations as QStash reads them from headers and from the destination's answers.

* ``Upstash-Delay``, ``Upstash-Timeout`` and flow-control ``period``: ``10s``, ``1d10h30m``,
  ``1h30m3s`` (units ``d h m s``, combinable) or a bare number of seconds.
* ``Retry-After`` and the ``X-RateLimit-Reset*`` family on a failed delivery: seconds, an RFC 1123
  date, or a Go duration (``6m5s``, ``1.5s``, ``300ms``).
"""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime

__all__ = ["parse_duration", "parse_go_duration", "parse_retry_hint"]

_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"(?:\d+[dhms])+")
_PART = re.compile(r"(\d+)([dhms])")

_GO_UNIT_MS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "μs": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4, "h": 3.6e6}
_GO_DURATION = re.compile(r"(?:\d+(?:\.\d*)?(?:ns|us|µs|μs|ms|s|m|h))+")
_GO_PART = re.compile(r"(\d+(?:\.\d*)?)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(value: str, *, what: str) -> int:
    """Seconds in ``value``; ``ValueError`` naming ``what`` when it is not a duration."""
    text = value.strip().lower()
    if text.isdigit():
        return int(text)
    if not _DURATION.fullmatch(text):
        raise ValueError(f"invalid {what} {value!r}: use a number followed by s, m, h or d, e.g. 10s, 5m, 1h30m, 2d")
    return sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(text))


def parse_go_duration(value: str) -> float | None:
    """Milliseconds in a Go duration string such as ``6m5s`` or ``1.5s``; None if it is not one."""
    text = value.strip()
    if not _GO_DURATION.fullmatch(text):
        return None
    return sum(float(n) * _GO_UNIT_MS[unit] for n, unit in _GO_PART.findall(text))


def parse_retry_hint(value: str, now_real_ms: int) -> int | None:
    """Milliseconds to wait according to a ``Retry-After``-style header; None if unreadable."""
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0, int(seconds * 1000)) if seconds == seconds else None  # NaN is not a hint
    go = parse_go_duration(text)
    if go is not None:
        return int(go)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0, int(when.timestamp() * 1000) - now_real_ms)

"""JSON on the wire: strict decoding, compact encoding, and typed access to request fields.

Centrifugo decodes requests with Go's ``encoding/json`` into typed structs, so a field of the wrong
type fails the whole request (HTTP 400 on the server API, close 3501 on a WebSocket) while an absent
field takes its zero value. :class:`Fields` reproduces that.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NoReturn

__all__ = ["Fields", "Malformed", "decode", "encode"]


class Malformed(ValueError):
    """The payload is not JSON, or a field has the wrong type."""


def _reject_constant(name: str) -> NoReturn:
    raise Malformed(f"{name} is not valid JSON")


def decode(raw: str | bytes) -> Any:
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise Malformed(str(exc)) from None


def encode(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class Fields:
    """Read typed fields of one JSON object; absent (or null) fields give the zero value."""

    def __init__(self, raw: Any, where: str = "request") -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise Malformed(f"{where} must be a JSON object")
        self.raw: Mapping[str, Any] = raw
        self.where = where

    def __contains__(self, name: str) -> bool:
        return self.raw.get(name) is not None

    def _get(self, name: str, kind: type | tuple[type, ...], label: str) -> Any:
        value = self.raw.get(name)
        if value is None:
            return None
        if isinstance(value, bool) and kind is not bool:
            raise Malformed(f"{self.where}.{name} must be {label}")
        if not isinstance(value, kind):
            raise Malformed(f"{self.where}.{name} must be {label}")
        return value

    def text(self, name: str) -> str:
        value = self._get(name, str, "a string")
        return "" if value is None else str(value)

    def flag(self, name: str) -> bool:
        return bool(self._get(name, bool, "a boolean"))

    def integer(self, name: str, *, minimum: int | None = None) -> int:
        value = self._get(name, int, "an integer")
        number = 0 if value is None else int(value)
        if minimum is not None and number < minimum:
            raise Malformed(f"{self.where}.{name} must be at least {minimum}")
        return number

    def nested(self, name: str) -> Fields | None:
        value = self.raw.get(name)
        return None if value is None else Fields(value, f"{self.where}.{name}")

    def texts(self, name: str) -> list[str]:
        value = self._get(name, list, "an array of strings") or []
        if not all(isinstance(item, str) for item in value):
            raise Malformed(f"{self.where}.{name} must be an array of strings")
        return list(value)

    def text_map(self, name: str) -> dict[str, str] | None:
        value = self._get(name, dict, "an object of strings")
        if value is None:
            return None
        if not all(isinstance(item, str) for item in value.values()):
            raise Malformed(f"{self.where}.{name} must be an object of strings")
        return dict(value)

    def value(self, name: str) -> Any:
        return self.raw.get(name)

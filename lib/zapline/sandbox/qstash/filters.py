"""Query filters shared by the event log, the DLQ and bulk cancel.

A filter parameter may repeat (``messageIds=a&messageIds=b``) or list values with commas; values
OR together, different parameters AND. ``fromDate``/``toDate`` are inclusive unix milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from starlette.datastructures import QueryParams

from zapline.sandbox.qstash.errors import ApiError

__all__ = ["Filter", "Values"]

Values = Mapping[str, "str | int | list[str] | None"]

ALIASES = {"messageIds": "messageId", "dlqIds": "dlqId", "callerIP": "callerIp", "topic": "topicName"}
NOT_SPLIT = frozenset({"url"})  # urls may contain commas
STATE_GROUPS = {"IN_PROGRESS": ("ACTIVE", "RETRY", "ERROR"), "CANCELLED": ("CANCELED",)}


@dataclass
class Filter:
    values: dict[str, set[str]] = field(default_factory=dict)
    from_ms: int | None = None
    to_ms: int | None = None

    @classmethod
    def from_query(cls, query: QueryParams, names: Iterable[str]) -> Filter:
        allowed = set(names)
        out = cls()
        for raw_name, raw_value in query.multi_items():
            name = ALIASES.get(raw_name, raw_name)
            if name in ("fromDate", "toDate"):
                if not raw_value.strip().isdigit():
                    raise ApiError(400, f"invalid {name} {raw_value!r}: expected unix milliseconds")
                if name == "fromDate":
                    out.from_ms = int(raw_value)
                else:
                    out.to_ms = int(raw_value)
                continue
            if name not in allowed:
                continue
            parts = [raw_value] if name in NOT_SPLIT else raw_value.split(",")
            for part in (p.strip() for p in parts):
                if part:
                    out.add(name, part)
        return out

    def add(self, name: str, value: str) -> None:
        if name == "state":
            value = value.upper()
            for state in STATE_GROUPS.get(value, (value,)):
                self.values.setdefault(name, set()).add(state)
            return
        self.values.setdefault(name, set()).add(value)

    @property
    def empty(self) -> bool:
        return not self.values and self.from_ms is None and self.to_ms is None

    def matches(self, record: Values, time: int) -> bool:
        if self.from_ms is not None and time < self.from_ms:
            return False
        if self.to_ms is not None and time > self.to_ms:
            return False
        for name, wanted in self.values.items():
            value = record.get(name)
            if value is None:
                return False
            if isinstance(value, list):
                if not wanted.intersection(value):
                    return False
            elif str(value) not in wanted:
                return False
        return True


def parse_count(query: QueryParams, default: int, maximum: int) -> int:
    raw = query.get("count")
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ApiError(400, f"invalid count {raw!r}: expected a positive integer")
    return min(int(raw), maximum)

"""The options ``build()`` receives (JSON from the supervisor), validated once with clear errors."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

__all__ = ["Options"]


@dataclass(frozen=True)
class Options:
    redis_url: str
    token: str
    current_signing_key: str
    next_signing_key: str
    max_timeout: int = 7200  # seconds: the pay-as-you-go plan's longest HTTP response
    max_message_size: int = 10 * 1024 * 1024
    max_response_body: int = 1024 * 1024
    max_events: int = 50_000
    finished_retention: int = 10_000  # delivered/failed messages still answerable by GET /v2/messages/{id}
    global_parallelism: int = 256  # deliveries in flight at once, across all keys
    dedup_window_ms: int = 10 * 60 * 1000
    dlq_retention_ms: int = 7 * 86_400_000
    advance_wait_s: float = 30.0
    region: str = "EU-CENTRAL-1"

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Options:
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise ValueError(f"unknown qstash sandbox option(s) {', '.join(unknown)}; choices are: {', '.join(known)}")
        missing = [n for n in ("redis_url", "token", "current_signing_key", "next_signing_key") if not raw.get(n)]
        if missing:
            raise ValueError(f"qstash sandbox option(s) {', '.join(missing)} must be set")
        return cls(**raw)

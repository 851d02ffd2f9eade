"""The options ``build()`` receives (JSON from the supervisor), validated once with clear errors."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

__all__ = ["MODELS", "Options"]

# What GET /v1/models lists: (id, created, owned_by) as OpenAI lists them.
MODELS = (
    ("gpt-4o", 1715367049, "system"),
    ("gpt-4o-mini", 1721172741, "system"),
    ("gpt-4.1-mini", 1744318173, "system"),
    ("whisper-1", 1677532384, "openai-internal"),
)


@dataclass(frozen=True)
class Options:
    api_key: str  # the only key accepted (``OPENAI_API_KEY``)
    redis_url: str = ""  # where its script and request log survive restarts (the supervisor: database 3)
    max_requests: int = 10_000  # requests remembered for GET /_sandbox/openai/requests

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Options:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"unknown openai sandbox option(s) {', '.join(unknown)}; choices are: {', '.join(known)}")
        if not raw.get("api_key"):
            raise ValueError("openai sandbox option api_key must be set")
        options = cls(**raw)
        if options.max_requests < 1:
            raise ValueError("openai sandbox option max_requests must be at least 1")
        return options

"""URL groups (the API calls them topics): a name for a set of endpoints, one message per endpoint."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Endpoint", "Topic"]


@dataclass
class Endpoint:
    url: str
    name: str | None = None

    def api(self) -> dict[str, Any]:
        return {"url": self.url, "name": self.name} if self.name else {"url": self.url}


@dataclass(eq=False)
class Topic:
    name: str
    created_at: int
    updated_at: int
    endpoints: list[Endpoint] = field(default_factory=list)

    def upsert(self, endpoint: Endpoint) -> None:
        for i, existing in enumerate(self.endpoints):
            if existing.url == endpoint.url or (endpoint.name and existing.name == endpoint.name):
                self.endpoints[i] = endpoint
                return
        self.endpoints.append(endpoint)

    def remove(self, url: str | None, name: str | None) -> int:
        before = len(self.endpoints)
        self.endpoints = [e for e in self.endpoints if not ((url and e.url == url) or (name and e.name == name))]
        return before - len(self.endpoints)

    def api(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "endpoints": [e.api() for e in self.endpoints],
        }

    def to_record(self) -> dict[str, Any]:
        return {**self.api(), "endpoints": [{"url": e.url, "name": e.name} for e in self.endpoints]}

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Topic:
        return cls(
            r["name"], r["createdAt"], r["updatedAt"], [Endpoint(e["url"], e.get("name")) for e in r["endpoints"]]
        )

"""The simulator's instances: token, owner, webhooks, delivery errors and the messages it knows.

Instances, their webhooks, contacts and messages are kept in Redis as well when the simulator has
one (see :mod:`zapline.sandbox.uazapi.store`), so a restarted sandbox still knows them; delivery
errors (``/webhook/errors``) and counters live in memory only, as the real UAZAPI forgets its errors.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from zapline.sandbox.uazapi.payloads import Uazapi, now_ms
from zapline.sandbox.uazapi.stats import Stats

__all__ = ["Instance", "KnownMessage", "Registry", "Webhook", "WebhookError"]

MAX_ERRORS = 20  # GET /webhook/errors keeps the last 20, like UAZAPI
MAX_KNOWN = 5_000  # messages per instance remembered for /message/download and replies


@dataclass
class Webhook:
    id: str
    url: str
    enabled: bool = True
    events: list[str] = field(default_factory=list)  # empty: every event
    exclude_messages: list[str] = field(default_factory=list)
    add_url_events: bool = False
    add_url_types_messages: bool = False
    created: int = field(default_factory=now_ms)
    updated: int = field(default_factory=now_ms)

    def to_json(self, instance_id: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "instance_id": instance_id,
            "enabled": self.enabled,
            "url": self.url,
            "events": self.events,
            "excludeMessages": self.exclude_messages,
            "addUrlEvents": self.add_url_events,
            "addUrlTypesMessages": self.add_url_types_messages,
            "created": self.created,
            "updated": self.updated,
        }


@dataclass(frozen=True)
class WebhookError:
    created: int
    url: str
    event: str
    message_type: str
    status_code: int
    attempts: int
    error: str
    payload: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "url": self.url,
            "type": "local",
            "event": self.event,
            "message_type": self.message_type,
            "status_code": self.status_code,
            "attempts": self.attempts,
            "error": self.error,
            "payload": {**self.payload, "token": "REDACTED"},
        }


@dataclass
class KnownMessage:
    """A message the simulator sent or received, for downloads, quotes and poll votes."""

    messageid: str
    contact: str
    from_me: bool
    kind: str  # text, image, audio, video, document, sticker, location, contact, poll, list, ...
    text: str = ""
    mimetype: str = ""
    file_name: str = ""
    data: bytes | None = None  # the file as sent in base64, when it was
    options: list[str] = field(default_factory=list)  # poll / list / button choices
    transcript: str = ""
    wire: dict[str, Any] = field(default_factory=dict)  # the ``message`` object of its webhook


@dataclass
class Instance:
    token: str
    name: str
    owner: str
    id: str = field(default_factory=lambda: f"r{secrets.token_hex(7)}")
    profile_name: str = "Zapline Sandbox"
    created: int = field(default_factory=now_ms)
    webhooks: list[Webhook] = field(default_factory=list)
    errors: deque[WebhookError] = field(default_factory=lambda: deque(maxlen=MAX_ERRORS))
    errors_since: int = field(default_factory=now_ms)
    messages: dict[str, KnownMessage] = field(default_factory=dict)
    contacts: dict[str, str] = field(default_factory=dict)  # digits -> name, from their messages
    stats: Stats = field(default_factory=Stats)

    def builder(self, base_url: str) -> Uazapi:
        return Uazapi(
            token=self.token,
            owner=self.owner,
            instance_name=self.name,
            base_url=base_url,
            profile_name=self.profile_name,
        )

    def remember(self, message: KnownMessage) -> list[str]:
        """Keep ``message``; returns the ids of the oldest messages forgotten to make room."""
        self.messages[message.messageid] = message
        forgotten: list[str] = []
        while len(self.messages) > MAX_KNOWN:
            oldest = next(iter(self.messages))
            del self.messages[oldest]
            forgotten.append(oldest)
        return forgotten

    def find(self, message_id: str) -> KnownMessage | None:
        """By bare messageid or ``<owner>:<messageid>``."""
        return self.messages.get(message_id) or self.messages.get(message_id.rpartition(":")[2])

    def info(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "token": self.token,
            "status": "connected",
            "name": self.name,
            "profileName": self.profile_name,
            "profilePicUrl": "",
            "isBusiness": True,
            "plataform": "android",
            "systemName": "uazapiGO",
            "owner": self.owner,
            "current_presence": "available",
            "lastDisconnect": "",
            "lastDisconnectReason": "",
            "created": self.created,
        }


def _owner_for(name: str) -> str:
    """A stable made-up Brazilian mobile number for an instance created by name."""
    return "55119" + str(int(hashlib.sha256(name.encode()).hexdigest(), 16) % 10**8).zfill(8)


class Registry:
    def __init__(self) -> None:
        self._by_token: dict[str, Instance] = {}

    def add(self, token: str, *, name: str = "", owner: str = "") -> tuple[Instance, bool]:
        """The instance with this token, created if new; ``(instance, created)``."""
        found = self.by_token(token)
        if found is not None:
            return found, False
        name = name or f"sandbox-{hashlib.sha256(token.encode()).hexdigest()[:8]}"
        instance = Instance(token=token, name=name, owner=owner or _owner_for(name))
        self._by_token[token] = instance
        return instance, True

    def restore(self, instance: Instance) -> None:
        """Put back an instance loaded from Redis (it replaces one with the same token)."""
        self._by_token[instance.token] = instance

    def by_token(self, token: str) -> Instance | None:
        return self._by_token.get(token) if token else None

    def lookup(self, token_or_name: str) -> list[Instance]:
        """For sandbox endpoints: the instance with that token, else every instance with that name."""
        found = self.by_token(token_or_name)
        if found is not None:
            return [found]
        return [i for i in self._by_token.values() if i.name == token_or_name]

    def all(self) -> list[Instance]:
        return list(self._by_token.values())

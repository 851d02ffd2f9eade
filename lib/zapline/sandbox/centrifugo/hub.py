"""The node: who is connected, who is subscribed to what, presence, and delivery of publications.

Everything runs on one event loop and no method awaits, so a subscribe that reads the stream
position and registers the subscriber cannot miss a publication in between — the job Centrifugo's
PUB/SUB-with-recovery synchronisation does across goroutines.
"""

from __future__ import annotations

import fnmatch
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from zapline.sandbox.centrifugo.broker import ClientInfo, MemoryBroker, StreamPosition
from zapline.sandbox.centrifugo.config import ChannelOptions, Config
from zapline.sandbox.centrifugo.tokens import TokenVerifier
from zapline.sandbox.centrifugo.wire import encode

__all__ = ["VERSION", "Node", "Stats", "Subscriber"]

VERSION = "6.0.0-zapline-sandbox"


class Subscriber(Protocol):
    """A client connection as the node sees it."""

    @property
    def client_id(self) -> str: ...

    @property
    def user(self) -> str: ...

    def deliver(self, message: str) -> None:
        """Queue one encoded message (a push) for the connection; must not block."""


@dataclass
class Stats:
    """Counters for tests and benchmarks, served at ``/_sandbox/stats``."""

    api_requests: int = 0
    publications: int = 0
    connections: int = 0
    pings_sent: int = 0
    pongs_received: int = 0


class Node:
    def __init__(self, config: Config, tokens: TokenVerifier, name: str = "zapline-sandbox") -> None:
        self.config = config
        self.tokens = tokens
        self.broker = MemoryBroker()
        self.stats = Stats()
        self.uid = str(uuid.uuid4())
        self.name = name
        self._started = time.monotonic()
        self._connections: dict[str, Subscriber] = {}
        self._channels_of: dict[str, set[str]] = {}  # client id -> its channels
        self._subscribers: dict[str, dict[str, Subscriber]] = {}  # channel -> client id -> subscriber
        self._presence: dict[str, dict[str, ClientInfo]] = {}  # channel -> client id -> info

    def add_connection(self, subscriber: Subscriber) -> None:
        self._connections[subscriber.client_id] = subscriber
        self._channels_of[subscriber.client_id] = set()
        self.stats.connections += 1

    def remove_connection(self, subscriber: Subscriber) -> None:
        self._connections.pop(subscriber.client_id, None)
        for channel in list(self._channels_of.get(subscriber.client_id, ())):
            self.unsubscribe(channel, subscriber.client_id)
        self._channels_of.pop(subscriber.client_id, None)

    def subscribe(self, channel: str, subscriber: Subscriber, presence: ClientInfo | None) -> None:
        self._subscribers.setdefault(channel, {})[subscriber.client_id] = subscriber
        self._channels_of.setdefault(subscriber.client_id, set()).add(channel)
        if presence is not None:
            self._presence.setdefault(channel, {})[subscriber.client_id] = presence

    def unsubscribe(self, channel: str, client_id: str) -> None:
        self._channels_of.get(client_id, set()).discard(channel)
        for registry in (self._subscribers, self._presence):
            members = registry.get(channel)
            if members is not None:
                members.pop(client_id, None)
                if not members:
                    del registry[channel]

    def publish(
        self,
        channel: str,
        options: ChannelOptions,
        data: Any,
        *,
        tags: Mapping[str, str] | None = None,
        info: ClientInfo | None = None,
        idempotency_key: str = "",
        skip_history: bool = False,
    ) -> StreamPosition:
        """Add to the channel's history (unless skipped) and push to every subscriber."""
        keep = options.history_enabled and not skip_history
        pub, position = self.broker.publish(
            channel,
            data,
            tags=tags,
            info=info,
            history_size=options.history_size if keep else 0,
            history_ttl=options.history_ttl if keep else 0.0,
            idempotency_key=idempotency_key,
        )
        if pub is not None:
            self.stats.publications += 1
            message = encode({"push": {"channel": channel, "pub": pub.to_wire()}})
            for subscriber in list(self._subscribers.get(channel, {}).values()):
                subscriber.deliver(message)
        return position

    def presence(self, channel: str) -> dict[str, ClientInfo]:
        return dict(self._presence.get(channel, {}))

    def presence_stats(self, channel: str) -> tuple[int, int]:
        """(number of clients, number of distinct users) present in the channel."""
        members = self._presence.get(channel, {})
        return len(members), len({info.user for info in members.values()})

    def channels(self, pattern: str = "") -> dict[str, int]:
        """Channels with at least one subscriber, matching the glob ``pattern``, and their counts."""
        return {
            channel: len(subs)
            for channel, subs in self._subscribers.items()
            if not pattern or fnmatch.fnmatchcase(channel, pattern)
        }

    def info(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "name": self.name,
            "version": VERSION,
            "num_clients": len(self._connections),
            "num_users": len({sub.user for sub in self._connections.values()}),
            "num_subs": sum(len(subs) for subs in self._subscribers.values()),
            "num_channels": len(self._subscribers),
            "uptime": int(time.monotonic() - self._started),
        }

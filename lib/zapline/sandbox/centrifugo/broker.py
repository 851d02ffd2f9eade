"""Channel history in memory, as Centrifugo's Memory engine keeps it.

Each channel with history has a stream: a random ``epoch`` and an ``offset`` that grows by one per
publication. The stream keeps the last ``history_size`` publications and drops them all once
``history_ttl`` passes without a publication; the position (epoch and offset) survives both, and
``remove_history``. Publish results are remembered per ``(channel, idempotency_key)`` for five
minutes so a retried publish returns the same position and publishes nothing.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ClientInfo", "HistoryResult", "MemoryBroker", "Publication", "StreamPosition"]

IDEMPOTENCY_TTL = 300.0  # seconds, Centrifugo's fixed window for idempotent publish results


@dataclass(frozen=True)
class StreamPosition:
    offset: int = 0
    epoch: str = ""


@dataclass(frozen=True)
class ClientInfo:
    client: str
    user: str
    conn_info: Any = None
    chan_info: Any = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"client": self.client, "user": self.user}
        if self.conn_info is not None:
            wire["conn_info"] = self.conn_info
        if self.chan_info is not None:
            wire["chan_info"] = self.chan_info
        return wire


@dataclass(frozen=True)
class Publication:
    offset: int
    data: Any
    tags: Mapping[str, str] | None = None
    info: ClientInfo | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"data": self.data}
        if self.offset:
            wire["offset"] = self.offset
        if self.tags:
            wire["tags"] = dict(self.tags)
        if self.info is not None:
            wire["info"] = self.info.to_wire()
        return wire


@dataclass(frozen=True)
class HistoryResult:
    publications: list[Publication]
    position: StreamPosition


class _Stream:
    def __init__(self) -> None:
        self.epoch = secrets.token_hex(4)
        self.top = 0
        self.items: deque[Publication] = deque()
        self.expires_at = 0.0

    def expire(self, now: float) -> None:
        if self.items and now >= self.expires_at:
            self.items.clear()

    def add(self, pub: Publication, size: int, ttl: float, now: float) -> None:
        self.items.append(pub)
        while len(self.items) > size:
            self.items.popleft()
        self.expires_at = now + ttl

    def get(self, start: int | None, limit: int, reverse: bool) -> list[Publication]:
        """Up to ``limit`` (negative = all) publications from ``start`` on, or from either end."""
        if limit == 0 or not self.items:
            return []
        items = list(self.items)
        first = items[0].offset
        if start is None:
            index = len(items) - 1 if reverse else 0
        elif start > self.top:
            return []
        elif first <= start:
            index = start - first
        elif reverse:
            return []
        else:
            index = 0  # asked for publications the stream no longer has: give what it has
        chosen = items[index::-1] if reverse else items[index:]
        return chosen if limit < 0 else chosen[:limit]


class MemoryBroker:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._streams: dict[str, _Stream] = {}
        self._results: OrderedDict[tuple[str, str], tuple[float, StreamPosition]] = OrderedDict()

    def _stream(self, channel: str) -> _Stream:
        stream = self._streams.get(channel)
        if stream is None:
            stream = self._streams[channel] = _Stream()
        stream.expire(self._clock())
        return stream

    def publish(
        self,
        channel: str,
        data: Any,
        *,
        tags: Mapping[str, str] | None = None,
        info: ClientInfo | None = None,
        history_size: int = 0,
        history_ttl: float = 0.0,
        idempotency_key: str = "",
    ) -> tuple[Publication | None, StreamPosition]:
        """The publication to deliver (None for a duplicate) and the stream position it got."""
        now = self._clock()
        while self._results and next(iter(self._results.values()))[0] <= now:
            self._results.popitem(last=False)
        if idempotency_key and (cached := self._results.get((channel, idempotency_key))):
            return None, cached[1]
        if history_size > 0 and history_ttl > 0:
            stream = self._stream(channel)
            stream.top += 1
            pub = Publication(stream.top, data, tags, info)
            stream.add(pub, history_size, history_ttl, now)
            position = StreamPosition(stream.top, stream.epoch)
        else:
            pub, position = Publication(0, data, tags, info), StreamPosition()
        if idempotency_key:
            self._results[(channel, idempotency_key)] = (now + IDEMPOTENCY_TTL, position)
        return pub, position

    def position(self, channel: str) -> StreamPosition:
        stream = self._stream(channel)
        return StreamPosition(stream.top, stream.epoch)

    def history(
        self, channel: str, *, limit: int, since: StreamPosition | None = None, reverse: bool = False
    ) -> HistoryResult:
        """Publications like Centrifugo's History call; the caller compares ``since.epoch``."""
        stream = self._stream(channel)
        position = StreamPosition(stream.top, stream.epoch)
        if since is None:
            return HistoryResult(stream.get(None, limit, reverse), position)
        if not reverse and since.offset == stream.top and since.epoch == stream.epoch:
            return HistoryResult([], position)
        start = since.offset - 1 if reverse else since.offset + 1
        return HistoryResult(stream.get(start, limit, reverse), position)

    def remove_history(self, channel: str) -> None:
        stream = self._streams.get(channel)
        if stream is not None:
            stream.items.clear()

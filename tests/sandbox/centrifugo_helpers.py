"""Shared by the Centrifugo stand-in tests: tokens, and centrifuge-python events awaited by kind."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import jwt
from centrifuge import Client as WsClient
from centrifuge import (
    ClientEventHandler,
    ConnectedContext,
    ConnectingContext,
    DisconnectedContext,
    ErrorContext,
    PublicationContext,
    ServerPublicationContext,
    ServerSubscribedContext,
    SubscribedContext,
    SubscriptionEventHandler,
    UnsubscribedContext,
)

TIMEOUT = 5.0  # seconds any single expected event may take


def token(secret: str, user: str, ttl: int | None = 600, **claims: Any) -> str:
    """An HS256 JWT for ``user``; ``ttl`` seconds until ``exp`` (negative: already expired)."""
    payload: dict[str, Any] = {"sub": user, **claims}
    if ttl is not None:
        payload["exp"] = int(time.time()) + ttl
    return jwt.encode(payload, secret, algorithm="HS256")


async def disconnect(client: WsClient) -> None:
    """Disconnect and wait for the client's background work: centrifuge-python closes the WebSocket in
    a task of its own, which ``asyncio.run`` would otherwise cancel, leaving the socket unclosed."""
    await client.disconnect()
    others = asyncio.all_tasks() - {asyncio.current_task()}
    if others:
        await asyncio.wait(others, timeout=TIMEOUT)


class Recorder(ClientEventHandler, SubscriptionEventHandler):  # type: ignore[misc]
    """Every event of a client (or subscription) in arrival order, awaited by kind."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.seen: list[str] = []

    async def _record(self, kind: str, ctx: Any) -> None:
        self.seen.append(kind)
        await self.events.put((kind, ctx))

    async def expect(self, kind: str) -> Any:
        """The next event of this kind (earlier events of other kinds are skipped)."""

        async def first() -> Any:
            while True:
                name, ctx = await self.events.get()
                if name == kind:
                    return ctx

        return await asyncio.wait_for(first(), TIMEOUT)

    async def on_connecting(self, ctx: ConnectingContext) -> None:
        await self._record("connecting", ctx)

    async def on_connected(self, ctx: ConnectedContext) -> None:
        await self._record("connected", ctx)

    async def on_disconnected(self, ctx: DisconnectedContext) -> None:
        await self._record("disconnected", ctx)

    async def on_error(self, ctx: ErrorContext) -> None:
        await self._record("error", ctx)

    async def on_subscribed(self, ctx: SubscribedContext | ServerSubscribedContext) -> None:
        await self._record("subscribed", ctx)

    async def on_unsubscribed(self, ctx: UnsubscribedContext) -> None:
        await self._record("unsubscribed", ctx)

    async def on_publication(self, ctx: PublicationContext | ServerPublicationContext) -> None:
        await self._record("publication", ctx)

"""A live inbox as an operator's browser runs it: centrifuge-python with a token from the API."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
from centrifuge import Client, ClientEventHandler, ServerPublicationContext

from tests.sandbox.centrifugo_helpers import disconnect

Publication = dict[str, Any]  # a publication's data: one JSON object, as lib/zapline/publications.py types them


class _Collector(ClientEventHandler):  # type: ignore[misc]
    def __init__(self) -> None:
        self.publications: asyncio.Queue[tuple[str, Publication]] = asyncio.Queue()

    async def on_publication(self, ctx: ServerPublicationContext) -> None:
        await self.publications.put((ctx.channel, ctx.pub.data))


class LiveInbox:
    """``async with LiveInbox(app_url, api_key) as inbox: await inbox.expect(...)``"""

    def __init__(self, app_url: str, api_key: str) -> None:
        self.app_url = app_url
        self.api_key = api_key
        self.seen: list[tuple[str, Publication]] = []

    async def __aenter__(self) -> LiveInbox:
        async with httpx.AsyncClient() as http:
            grant = await http.post(
                f"{self.app_url}/api/v1/realtime/token", headers={"Authorization": f"Bearer {self.api_key}"}
            )
        grant.raise_for_status()
        self.channels = grant.json()["channels"]
        self._events = _Collector()
        self.client = Client(grant.json()["url"], events=self._events, token=grant.json()["token"], proxy=None)
        await self.client.connect()
        await self.client.ready(timeout=10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await disconnect(self.client)  # waits for the WebSocket's close, which runs in a task

    async def expect(self, check: Callable[[str, Publication], bool], wait: float = 15.0) -> tuple[str, Publication]:
        """The first publication (already seen or arriving before ``wait`` seconds) that ``check`` accepts."""
        for item in self.seen:
            if check(*item):
                return item
        async with asyncio.timeout(wait):
            while True:
                item = await self._events.publications.get()
                self.seen.append(item)
                if check(*item):
                    return item

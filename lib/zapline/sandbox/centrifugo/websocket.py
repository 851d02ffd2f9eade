"""``/connection/websocket``: the JSON protocol over WebSocket text frames.

A frame carries one or more commands separated by ``\\n``; replies and pushes queued together are
sent in one frame joined the same way. Pings (``{}``) go out every ``client.ping_interval`` once the
client is connected; a client that was told ``pong: true`` and stays silent for
``client.pong_timeout`` is closed with 3012. A frame that is not JSON closes only its own connection
(3501); an unexpected failure closes it with 3004 and is logged — the server keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from starlette.websockets import WebSocket

from zapline.sandbox.centrifugo.client import ClientSession
from zapline.sandbox.centrifugo.errors import Disconnect, DisconnectCode
from zapline.sandbox.centrifugo.hub import Node
from zapline.sandbox.centrifugo.wire import Malformed, decode, encode

__all__ = ["serve_websocket"]

log = logging.getLogger("zapline.sandbox.centrifugo")

_TICK = 0.5  # seconds between checks for stale and expired connections
_MAX_QUEUED = 10_000  # messages waiting for a client that does not read: it is closed as slow


class _Connection:
    def __init__(self, websocket: WebSocket, node: Node) -> None:
        self.websocket = websocket
        self.node = node
        self.session = ClientSession(node, self.send)
        self.closing = False
        self.outbox: asyncio.Queue[str | Disconnect] = asyncio.Queue()

    def send(self, message: str) -> None:
        if self.closing:
            return
        if self.outbox.qsize() >= _MAX_QUEUED:
            self.close(Disconnect(DisconnectCode.SLOW))
            return
        self.outbox.put_nowait(message)

    def close(self, disconnect: Disconnect) -> None:
        """Send what is queued, then close with the disconnect's code; ignore later commands."""
        if not self.closing:
            self.closing = True
            self.outbox.put_nowait(disconnect)

    async def serve(self) -> None:
        await self.websocket.accept()
        tasks = [asyncio.create_task(self._write()), asyncio.create_task(self._watch_deadlines())]
        try:
            while True:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                if self.closing:
                    continue
                was_connected = self.session.authenticated
                self._handle_frame(message.get("text") or message.get("bytes") or "")
                if self.session.authenticated and not was_connected:
                    tasks.append(asyncio.create_task(self._ping()))
        finally:
            self.closing = True
            self.session.close()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _handle_frame(self, frame: str | bytes) -> None:
        try:
            text = frame.decode() if isinstance(frame, bytes) else frame
        except UnicodeDecodeError:
            self.close(Disconnect(DisconnectCode.BAD_REQUEST))
            return
        for line in text.split("\n"):
            if not line.strip():
                continue
            try:
                reply = self.session.handle(decode(line))
            except Malformed:
                self.close(Disconnect(DisconnectCode.BAD_REQUEST))
                return
            except Disconnect as disconnect:
                self.close(disconnect)
                return
            except Exception:
                log.exception("centrifugo sandbox: failed to handle a client command")
                self.close(Disconnect(DisconnectCode.INTERNAL))
                return
            if reply is not None:
                self.send(encode(reply))

    async def _write(self) -> None:
        while True:
            item = await self.outbox.get()
            batch: list[str] = []
            while isinstance(item, str):
                batch.append(item)
                if self.outbox.empty():
                    break
                item = self.outbox.get_nowait()
            try:
                if batch:
                    await self.websocket.send_text("\n".join(batch))
                if isinstance(item, Disconnect):
                    await self.websocket.close(int(item.code), item.reason)
                    return
            except Exception:  # the peer went away mid-send; the reader sees the disconnect
                return

    async def _ping(self) -> None:
        client = self.node.config.client
        if client.ping_interval <= 0:
            return
        loop = asyncio.get_running_loop()
        next_ping = loop.time() + client.ping_interval
        while not self.closing:
            await asyncio.sleep(max(next_ping - loop.time(), 0))
            next_ping += client.ping_interval
            pongs = self.session.pongs
            self.send("{}")
            self.node.stats.pings_sent += 1
            if client.pong_timeout > 0:
                await asyncio.sleep(client.pong_timeout)
                if self.session.pongs == pongs:
                    self.close(Disconnect(DisconnectCode.NO_PONG))
                    return

    async def _watch_deadlines(self) -> None:
        while not self.closing:
            await asyncio.sleep(_TICK)
            disconnect = self.session.check_deadlines(time.time())
            if disconnect is not None:
                self.close(disconnect)
                return


async def serve_websocket(websocket: WebSocket, node: Node) -> None:
    await _Connection(websocket, node).serve()

"""A fault proxy between QStash and the functions: the app's APP_URL is this proxy's URL.

The app verifies ``Upstash-Signature`` against ``APP_URL + path``, so the proxy forwards the method,
the raw path and query, the headers and the body unchanged. Deliveries to the inbound function
(``/api/inbound/…``) fail on the way while faults are enabled: ``share / 2`` of them *before* the
function runs (503, the request never reaches it) and ``share / 2`` *after* it answered (the
function ran and stored; its answer is replaced by a 502). A body that names a "doomed" WhatsApp
id always fails before, so QStash's dead-letter queue is exercised even in a small run. Every other
path (the relay, the failure callback, the operator API) passes through untouched.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

__all__ = ["FaultProxy", "ProxyCounts"]

INBOUND_PREFIX = "/api/inbound/"
HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer"}


@dataclass
class ProxyCounts:
    inbound_attempts: int = 0  # deliveries to the inbound function that reached the proxy
    faults_before: int = 0  # answered 503 by the proxy; the function never saw them
    faults_after: int = 0  # the function answered; the proxy replaced its answer with 502
    app_errors: int = 0  # the inbound function's own non-2xx answers (outages it met)
    forward_errors: int = 0  # the app could not be reached at all
    delivered_ids: set[str] = field(default_factory=set)  # Upstash-Message-Ids answered 2xx (any path)


class FaultProxy:
    def __init__(self, target: str, *, share: float, seed: int, doomed: set[bytes]) -> None:
        self.target = target.rstrip("/")
        self.share = share
        self.rng = random.Random(seed)
        self.doomed = doomed
        self.enabled = True
        self.counts = ProxyCounts()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    async def start(self, host: str = "127.0.0.1") -> str:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=3.0),
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
        )
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, 0)
        await site.start()
        address = self._runner.addresses[0]
        self.url = f"http://{host}:{address[1]}"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def _fault(self, body: bytes) -> str | None:
        if self.doomed and any(wa in body for wa in self.doomed):
            return "before"
        draw = self.rng.random()
        if draw < self.share / 2:
            return "before"
        if draw < self.share:
            return "after"
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        inbound = request.path.startswith(INBOUND_PREFIX)
        fault = None
        if inbound:
            self.counts.inbound_attempts += 1
            fault = self._fault(body) if self.enabled else None
        if fault == "before":
            self.counts.faults_before += 1
            return web.Response(status=503, text="chaos: the delivery failed before the function ran")
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP]
        try:
            async with self._session.request(
                request.method,
                self.target + request.raw_path,
                headers=headers,
                data=body or None,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=120),
            ) as resp:
                answer = await resp.read()
                status, resp_headers = (
                    resp.status,
                    [(k, v) for k, v in resp.headers.items() if k.lower() not in HOP_BY_HOP],
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.counts.forward_errors += 1
            return web.Response(status=502, text=f"chaos proxy: the app could not be reached: {type(exc).__name__}")
        if inbound and not 200 <= status < 300:
            self.counts.app_errors += 1
        if fault == "after":
            self.counts.faults_after += 1
            return web.Response(status=502, text=f"chaos: the function answered {status}; the answer was lost")
        if 200 <= status < 300 and (message_id := request.headers.get("Upstash-Message-Id")):
            self.counts.delivered_ids.add(message_id)
        return web.Response(status=status, body=answer, headers=CIMultiDict(resp_headers))

"""One delivery attempt: the signed HTTP request QStash sends, and what came back.

The destination receives the body unchanged, the message's Content-Type and forwarded headers, and
QStash's own: ``Upstash-Signature``, ``Upstash-Message-Id``, ``Upstash-Retried``, ``User-Agent:
Upstash-QStash``, and where they apply ``Upstash-Schedule-Id``, ``Upstash-Topic-Name``,
``Upstash-Caller-Ip``, ``Upstash-Region``. Redirects are not followed: a 3xx is a failed attempt.
"""

from __future__ import annotations

from functools import lru_cache

import aiohttp
from yarl import URL

from zapline.sandbox.qstash.model import Headers, Message, Response
from zapline.sandbox.qstash.signing import Signer
from zapline.sandbox.qstash.spec import canonical

__all__ = ["Deliverer"]

USER_AGENT = "Upstash-QStash"


@lru_cache(maxsize=4096)
def _url(raw: str) -> URL:
    return URL(raw, encoded=True)  # exactly as published: no re-quoting


class Deliverer:
    def __init__(self, signer: Signer, *, max_timeout: int, max_response_body: int, connections: int, region: str):
        self.signer = signer
        self.max_timeout = max_timeout
        self.max_response_body = max_response_body
        self.connections = connections
        self.region = region
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        # Idle connections are dropped before common servers drop them (uvicorn and Node: 5 s).
        connector = aiohttp.TCPConnector(
            limit=self.connections, limit_per_host=0, ttl_dns_cache=300, keepalive_timeout=3.0
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=True,
            skip_auto_headers=("Content-Type", "User-Agent"),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def request_headers(self, msg: Message) -> list[tuple[str, str]]:
        headers = [(name, value) for name, values in msg.headers.items() for value in values]
        if "User-Agent" not in msg.headers:
            headers.append(("User-Agent", USER_AGENT))
        headers += [
            ("Upstash-Message-Id", msg.id),
            ("Upstash-Retried", str(msg.retried)),
            ("Upstash-Signature", self.signer.sign(msg.url, msg.body)),
            ("Upstash-Region", self.region),
        ]
        if msg.schedule_id:
            headers.append(("Upstash-Schedule-Id", msg.schedule_id))
        if msg.topic:
            headers.append(("Upstash-Topic-Name", msg.topic))
        if msg.caller_ip:
            headers.append(("Upstash-Caller-Ip", msg.caller_ip))
        return headers

    async def send(self, msg: Message) -> Response:
        try:
            return await self._send(msg)
        except aiohttp.ServerDisconnectedError:
            # A kept-alive connection the server closed as we reused it: what Go's client (and
            # so QStash) retries transparently before it counts as a failed attempt.
            try:
                return await self._send(msg)
            except aiohttp.ServerDisconnectedError as exc:
                return Response(0, {}, b"", f"{msg.method} {msg.url!r}: the server closed the connection: {exc}")

    async def _send(self, msg: Message) -> Response:
        assert self._session is not None, "Deliverer.start() was not awaited"
        timeout = min(msg.timeout or self.max_timeout, self.max_timeout)
        try:
            async with self._session.request(
                msg.method,
                _url(msg.url),
                data=msg.body or None,
                headers=self.request_headers(msg),
                timeout=aiohttp.ClientTimeout(total=timeout),
                allow_redirects=False,
            ) as resp:
                body = await resp.read()
                headers: Headers = {}
                for name, value in resp.headers.items():
                    headers.setdefault(canonical(name), []).append(value)
                return Response(resp.status, headers, body[: self.max_response_body])
        except TimeoutError:
            return Response(0, {}, b"", f"{msg.method} {msg.url!r}: no answer within the {timeout}s timeout")
        except aiohttp.ServerDisconnectedError:
            raise
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return Response(0, {}, b"", f"{msg.method} {msg.url!r}: {type(exc).__name__}: {exc}")

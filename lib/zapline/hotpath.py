"""A small HTTP/1.1 client for the two calls every inbound message makes: the ingest script on the
Upstash REST API and the broadcast on Centrifugo's.

Why not httpx for these: measured on the inbound function, httpx/httpcore/anyio/h11 were ~70% of
its CPU per message — per request they build a Request and a Response object graph, scan the
pool, and write headers and body in two syscalls. Both calls here are one JSON POST with a JSON
answer, so this client writes each request in one ``write``, reads ``Content-Length`` or chunked
answers, and keeps a few idle connections per host (per event loop). Everything else (the operator
API, jobs, QStash) keeps httpx and the Upstash SDK.

A request on a pooled connection the server had already closed is sent once more on a new one,
as httpcore does; both calls are idempotent (the script deduplicates, the broadcast carries an
idempotency key). Failures raise :class:`HotpathError` (no answer) for the caller to classify.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ["HotpathError", "Reply", "aclose", "post_json"]

IDLE_PER_HOST = 8
IDLE_SECONDS = 30.0  # an idle connection older than this is closed, not reused (NATs and servers drop them)
NO_BODY = frozenset({204, 304})
MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 64 * 1024 * 1024


class HotpathError(Exception):
    """The request got no complete answer (connection refused or lost, timeout, bad framing)."""


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class _Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0

    def usable(self, now: float) -> bool:
        return (now - self.idle_since < IDLE_SECONDS and not self.reader.at_eof()
                and not self.writer.transport.is_closing())  # fmt: skip


@dataclass
class _Pool:
    idle: dict[tuple[str, str, int], deque[_Conn]] = field(default_factory=dict)


_pools: dict[asyncio.AbstractEventLoop, _Pool] = {}
_tls: ssl.SSLContext | None = None


def _pool() -> _Pool:
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None:
        for old in [old for old in _pools if old.is_closed()]:
            del _pools[old]
        pool = _pools[loop] = _Pool()
    return pool


async def _connect(scheme: str, host: str, port: int) -> _Conn:
    global _tls
    context = None
    if scheme == "https":
        _tls = _tls or ssl.create_default_context()
        context = _tls
    reader, writer = await asyncio.open_connection(host, port, ssl=context, limit=MAX_HEADER_BYTES)
    return _Conn(reader, writer)


async def _read_reply(conn: _Conn) -> tuple[Reply, bool]:
    """The answer, and whether the connection may be reused."""
    head = await conn.reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise HotpathError(f"not an HTTP/1.x answer: {lines[0][:60]!r}")
    status = int(parts[1])
    if 100 <= status < 200:  # an interim answer (100 Continue): the real one follows
        return await _read_reply(conn)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        total = 0
        while True:
            size_line = await conn.reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while (await conn.reader.readuntil(b"\r\n")) != b"\r\n":  # trailers, if any, then CRLF
                    pass
                break
            total += size
            if total > MAX_BODY_BYTES:
                raise HotpathError("answer too large")
            chunks.append(await conn.reader.readexactly(size))
            await conn.reader.readexactly(2)
        body = b"".join(chunks)
    elif status in NO_BODY:
        body = b""
    elif "content-length" in headers:
        length = int(headers["content-length"])
        if length > MAX_BODY_BYTES:
            raise HotpathError("answer too large")
        body = await conn.reader.readexactly(length)
    else:  # read to the end: the connection cannot be reused
        body = await conn.reader.read()
        if len(body) > MAX_BODY_BYTES:
            raise HotpathError("answer too large")
        return Reply(status, headers, body), False
    reusable = headers.get("connection", "").lower() != "close" and parts[0] == "HTTP/1.1"
    return Reply(status, headers, body), reusable


def _close(conn: _Conn) -> None:
    conn.writer.close()


async def post_json(url: str, body: bytes, headers: dict[str, str], *, within: float) -> Reply:
    """POST ``body`` (JSON) to ``url``; the answer whatever its status. ``HotpathError`` if none came
    within ``within`` seconds (connecting included)."""
    parts = urlsplit(url)
    scheme = parts.scheme
    host = parts.hostname or ""
    port = parts.port or (443 if scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host_header = parts.netloc.rsplit("@", 1)[-1]
    lines = [f"POST {path} HTTP/1.1", f"Host: {host_header}", "Content-Type: application/json",
             f"Content-Length: {len(body)}", "Accept: application/json"]  # fmt: skip
    lines += [f"{name}: {value}" for name, value in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
    key = (scheme, host, port)
    idle = _pool().idle.setdefault(key, deque())
    try:
        async with asyncio.timeout(within):
            loop = asyncio.get_running_loop()
            while idle and not idle[-1].usable(loop.time()):  # stale: closed by the server, or idle too long
                _close(idle.pop())
            for attempt in (0, 1):
                reused = bool(idle) and attempt == 0
                conn = idle.pop() if reused else await _connect(scheme, host, port)
                try:
                    conn.writer.write(request)
                    await conn.writer.drain()
                    reply, reusable = await _read_reply(conn)
                except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                    _close(conn)
                    if reused:  # the server closed an idle connection: once more on a new one
                        continue
                    raise HotpathError(f"{type(exc).__name__}") from None
                except BaseException:
                    _close(conn)
                    raise
                if reusable and len(idle) < IDLE_PER_HOST:
                    conn.idle_since = loop.time()
                    idle.append(conn)
                else:
                    _close(conn)
                return reply
    except TimeoutError:
        raise HotpathError("timed out") from None
    except (OSError, ValueError) as exc:
        raise HotpathError(type(exc).__name__) from None
    raise HotpathError("no answer")


async def aclose() -> None:
    """Close this loop's idle connections (at shutdown)."""
    pool = _pools.pop(asyncio.get_running_loop(), None)
    if pool is None:
        return
    for conns in pool.idle.values():
        while conns:
            conn = conns.pop()
            conn.writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await conn.writer.wait_closed()

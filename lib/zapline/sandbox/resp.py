"""A small asyncio RESP2 client that returns raw replies.

The sandbox needs Redis replies exactly as the server sends them (bulk strings as bytes, status
replies distinguishable from bulk strings, errors as values inside pipelines), which is what the
Upstash REST protocol exposes. redis-py converts replies and negotiates RESP3, so it is not used.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union
from urllib.parse import urlsplit

__all__ = ["Connection", "Pool", "Reply", "RespError", "Status", "encode_command"]


class Status(bytes):
    """A RESP simple-string reply (``+OK``), as opposed to a bulk string."""


@dataclass(frozen=True)
class RespError:
    """A RESP error reply (``-ERR ...``), kept as a value so pipelines can carry it."""

    message: str


Reply = Union[bytes, Status, int, None, RespError, list["Reply"]]  # noqa: UP007 (a runtime alias)
Arg = bytes | str | int | float


class ConnectionLost(ConnectionError):
    """The connection to redis-server closed or failed mid-reply."""


def _arg_bytes(arg: Arg) -> bytes:
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, str):
        return arg.encode()
    return repr(arg).encode() if isinstance(arg, float) else str(arg).encode()


def encode_command(args: Sequence[Arg]) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = _arg_bytes(arg)
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


async def _read_reply(reader: asyncio.StreamReader) -> Reply:
    line = await reader.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionLost("redis-server closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return Status(rest)
    if kind == b"-":
        return RespError(rest.decode("utf-8", "replace"))
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        if size < 0:
            return None
        data = await reader.readexactly(size + 2)
        return data[:-2]
    if kind == b"*":
        count = int(rest)
        if count < 0:
            return None
        return [await _read_reply(reader) for _ in range(count)]
    raise ConnectionLost(f"unexpected RESP type byte {kind!r}")


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self.broken = False

    @classmethod
    async def open(cls, host: str, port: int, db: int = 0) -> Connection:
        async with asyncio.timeout(5.0):
            reader, writer = await asyncio.open_connection(host, port)
        conn = cls(reader, writer)
        if db:
            reply = await conn.execute("SELECT", db)
            if isinstance(reply, RespError):
                await conn.close()
                raise ConnectionLost(reply.message)
        return conn

    async def execute(self, *args: Arg) -> Reply:
        return (await self.pipeline([args]))[0]

    async def pipeline(self, commands: Sequence[Sequence[Arg]]) -> list[Reply]:
        try:
            self._writer.write(b"".join(encode_command(c) for c in commands))
            await self._writer.drain()
            return [await _read_reply(self._reader) for _ in commands]
        except (OSError, asyncio.IncompleteReadError, ConnectionLost) as exc:
            self.broken = True
            raise ConnectionLost(str(exc) or "connection to redis-server lost") from exc
        except BaseException:
            # Cancelled mid-reply: the stream position is unknown, never reuse this connection.
            self.broken = True
            raise

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()


class Pool:
    """A pool of connections to one Redis database; a connection serves one caller at a time."""

    def __init__(self, url: str, *, max_idle: int = 32) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 6379
        self.db = int(parts.path.strip("/") or 0)
        self._idle: list[Connection] = []
        self._max_idle = max_idle

    async def acquire(self) -> Connection:
        if self._idle:
            return self._idle.pop()
        return await Connection.open(self.host, self.port, self.db)

    async def release(self, conn: Connection) -> None:
        if conn.broken or len(self._idle) >= self._max_idle:
            await conn.close()
        else:
            self._idle.append(conn)

    async def execute(self, *args: Arg) -> Reply:
        return (await self.pipeline([args]))[0]

    async def pipeline(self, commands: Sequence[Sequence[Arg]]) -> list[Reply]:
        conn = await self.acquire()
        try:
            return await conn.pipeline(commands)
        finally:
            await self.release(conn)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()

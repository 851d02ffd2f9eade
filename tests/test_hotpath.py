"""The small HTTP/1.1 client of the inbound hot path, against a real socket server on loopback:
Content-Length and chunked answers, reuse, a server that closed an idle connection, timeouts."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from zapline import hotpath

Answer = Callable[[bytes, int], bytes]


async def serve(answer: Answer, run: Callable[[str, list[int]], Awaitable[None]], *, close_after: int = 0) -> None:
    """A loopback server answering each request with ``answer(body, n)``; ``run(url, connections)``."""
    connections: list[int] = []
    served = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal served
        connections.append(1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length"))  # fmt: skip
                body = await reader.readexactly(length)
                served += 1
                writer.write(answer(body, served))
                await writer.drain()
                if close_after and served % close_after == 0:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        try:
            await run(f"http://127.0.0.1:{port}/api", connections)
        finally:
            await hotpath.aclose()


def length_answer(body: bytes, n: int) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def chunked_answer(body: bytes, n: int) -> bytes:
    half = len(body) // 2
    parts = [body[:half], body[half:]]
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p)
    return b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"


def test_answers_are_read_and_connections_reused() -> None:
    async def run(url: str, connections: list[int]) -> None:
        for i in range(5):
            reply = await hotpath.post_json(url, b'{"n":%d}' % i, {"X-Test": "1"}, within=5)
            assert (reply.status, reply.body) == (200, b'{"n":%d}' % i)
        assert len(connections) == 1  # one connection, kept alive

    asyncio.run(serve(length_answer, run))


def test_chunked_answers_and_error_statuses_are_returned() -> None:
    async def run(url: str, connections: list[int]) -> None:
        reply = await hotpath.post_json(url, b'{"result":"ok"}', {}, within=5)
        assert (reply.status, reply.body) == (503, b'{"result":"ok"}')

    asyncio.run(serve(chunked_answer, run))


def test_a_connection_the_server_closed_is_replaced_transparently() -> None:
    async def run(url: str, connections: list[int]) -> None:
        for i in range(4):
            reply = await hotpath.post_json(url, b"[%d]" % i, {}, within=5)
            assert reply.body == b"[%d]" % i
        assert len(connections) == 4  # each idle connection was closed by the server after one answer

    asyncio.run(serve(length_answer, run, close_after=1))


def test_no_answer_is_a_hotpath_error() -> None:
    def silent(body: bytes, n: int) -> bytes:
        return b""

    async def run(url: str, connections: list[int]) -> None:
        with pytest.raises(hotpath.HotpathError, match="timed out"):
            await hotpath.post_json(url, b"{}", {}, within=0.3)
        with pytest.raises(hotpath.HotpathError):
            await hotpath.post_json("http://127.0.0.1:9/closed", b"{}", {}, within=2)

    asyncio.run(serve(silent, run))

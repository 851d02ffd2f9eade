"""A real HTTP endpoint for tests: records every request and answers as told, per path.

It runs uvicorn in a background thread on 127.0.0.1 (a free port), so what the sandbox QStash (or
anything else) sends crosses a real socket::

    with HttpReceiver() as rx:
        rx.respond("/fail", Reply(500), Reply(500), Reply(200))   # 500, 500, then 200 for ever
        rx.respond("/slow", Reply(200, delay=2.0))                # answer after 2 s
        rx.respond("/gone", Reply(489, headers={"Upstash-NonRetryable-Error": "true"}))
        qstash.message.publish(url=rx.url_for("/fail?x=1"), body="hi")
        first, second = rx.wait_for(2, path="/fail", timeout=10)
        assert second.headers["upstash-retried"] == "1"

API
---
``HttpReceiver(host="127.0.0.1")`` — ``start()`` / ``stop()`` or use it as a context manager.
``url`` — ``http://127.0.0.1:<port>``; ``url_for(path)`` — ``url + path`` (path may carry a query).
``respond(path, *replies)`` — answers for ``path`` (no query): the replies are used in order and the
last one repeats; a path with no replies answers ``200 ok``. ``Reply(status=200, headers=None,
body=b"ok", delay=0.0)``; ``delay`` seconds are awaited before answering.
``requests`` — every :class:`Recorded` request so far, in arrival order; ``received(path=None)``
the same, optionally for one path.
``wait_for(count, path=None, timeout=10.0, where=None)`` — block until at least ``count`` requests
(for ``path``, and matching the ``where`` predicate if given) arrived; returns them, or raises
``AssertionError`` after ``timeout`` seconds.
``clear()`` — forget the recorded requests (replies stay).

``Recorded`` has ``method``, ``path``, ``query`` (raw), ``url`` (exactly as the sender addressed it:
``http://127.0.0.1:<port>`` + raw path + ``?`` + raw query), ``headers`` (lower-case names; repeated
headers joined with ``, ``), ``raw_headers`` (the list as received), ``body`` (bytes), ``text``
(the body decoded as UTF-8), ``time`` (``time.time()`` on arrival) and ``monotonic``.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from tests.support import wait_until

__all__ = ["HttpReceiver", "Recorded", "Reply"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] | None = None
    body: bytes = b"ok"
    delay: float = 0.0


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: str
    url: str
    headers: dict[str, str]
    raw_headers: list[tuple[str, str]]
    body: bytes
    time: float
    monotonic: float

    @property
    def text(self) -> str:
        return self.body.decode()


@dataclass
class _Script:
    replies: list[Reply] = field(default_factory=list)
    used: int = 0

    def next(self) -> Reply:
        if not self.replies:
            return Reply()
        reply = self.replies[min(self.used, len(self.replies) - 1)]
        self.used += 1
        return reply


class HttpReceiver:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.requests: list[Recorded] = []
        self._scripts: dict[str, _Script] = {}
        self._changed = threading.Condition()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url_for(self, path: str) -> str:
        return self.url + path

    def respond(self, path: str, *replies: Reply) -> None:
        with self._changed:
            self._scripts[path] = _Script(list(replies))

    def received(self, path: str | None = None) -> list[Recorded]:
        with self._changed:
            return [r for r in self.requests if path is None or r.path == path]

    def clear(self) -> None:
        with self._changed:
            self.requests.clear()

    def wait_for(
        self,
        count: int,
        *,
        path: str | None = None,
        timeout: float = 10.0,
        where: Callable[[Recorded], bool] | None = None,
    ) -> list[Recorded]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [r for r in self.requests if (path is None or r.path == path) and (where is None or where(r))]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"timed out after {timeout}s waiting for {count} request(s) to {path or 'any path'}; "
                        f"got {len(found)}: {[(r.method, r.path) for r in found]}"
                    )
                self._changed.wait(remaining)

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        raw_path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"").decode("latin-1")
        raw_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        headers: dict[str, str] = {}
        for name, value in raw_headers:
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        recorded = Recorded(
            method=scope["method"],
            path=scope["path"],
            query=query,
            url=self.url + raw_path.decode("latin-1") + (f"?{query}" if query else ""),
            headers=headers,
            raw_headers=raw_headers,
            body=b"".join(chunks),
            time=time.time(),
            monotonic=time.monotonic(),
        )
        with self._changed:
            script = self._scripts.get(recorded.path)
            reply = script.next() if script else Reply()
            self.requests.append(recorded)
            self._changed.notify_all()
        if reply.delay:
            await asyncio.sleep(reply.delay)
        reply_headers = [(k.lower().encode(), v.encode()) for k, v in (reply.headers or {}).items()]
        reply_headers.append((b"content-length", str(len(reply.body)).encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": reply_headers})
        await send({"type": "http.response.body", "body": reply.body})

    def start(self, timeout: float = 10.0) -> HttpReceiver:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self._app, interface="asgi3", log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="http-receiver", daemon=True
        )
        self._thread.start()
        server, thread = self._server, self._thread
        wait_until(lambda: server.started or not thread.is_alive(), timeout=timeout, what="the receiver to start")
        if not server.started:
            raise RuntimeError("the test receiver failed to start")
        return self

    def stop(self) -> None:
        if self._server is not None:  # requests still sleeping on a Reply delay are dropped
            self._server.should_exit = self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> HttpReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

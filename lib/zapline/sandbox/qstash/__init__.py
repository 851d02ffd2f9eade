"""A QStash-compatible local server, built from the public API documentation and the official
SDK's observable behaviour, so that ``qstash.QStash``/``AsyncQStash`` and ``qstash.Receiver`` work
against it unchanged. ``zapline sandbox`` runs it; its settings are ``QSTASH_URL``,
``QSTASH_TOKEN``, ``QSTASH_CURRENT_SIGNING_KEY`` and ``QSTASH_NEXT_SIGNING_KEY``.

It publishes, enqueues, batches, delays, retries with backoff, signs, calls back, dead-letters,
deduplicates, rate-limits per flow-control key, runs FIFO queues and cron schedules, and keeps
every accepted message in its own Redis database so a restart loses nothing. A sandbox clock
(``/_sandbox/clock``) lets tests move time forward instead of waiting.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from zapline.sandbox.qstash.api import routes
from zapline.sandbox.qstash.config import Options
from zapline.sandbox.qstash.engine import Engine
from zapline.sandbox.qstash.errors import ApiError

__all__ = ["UVICORN_OPTIONS", "Options", "build"]

UVICORN_OPTIONS: dict[str, Any] = {"backlog": 4096}

log = logging.getLogger("zapline.sandbox.qstash")


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse({"error": exc.message}, exc.status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = (
        "method not allowed" if exc.status_code == 405 else f"no such endpoint: {request.method} {request.url.path}"
    )
    return JSONResponse({"error": message}, exc.status_code)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("qstash: %s %s failed", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"error": f"internal error: {type(exc).__name__}"}, 500)


class _CountRequests:
    """Counts API requests (not ``/_sandbox/*``) for the benchmarks: ``GET /_sandbox/stats``."""

    def __init__(self, app: ASGIApp, counts: dict[str, int]) -> None:
        self.app = app
        self.counts = counts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/_sandbox/"):
            self.counts["api_requests"] += 1
        await self.app(scope, receive, send)


def build(options: dict[str, Any]) -> Starlette:
    """The sandbox QStash as an ASGI app; see :class:`Options` for ``options``."""
    settings = Options.from_dict(options)
    engine = Engine(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await engine.start()
        try:
            yield
        finally:
            await engine.stop()

    counts = {"api_requests": 0}

    async def stats(request: Request) -> Response:
        return JSONResponse(counts)

    app = Starlette(
        routes=[Route("/_sandbox/stats", stats, methods=["GET"]), *routes()],
        lifespan=lifespan,
        middleware=[Middleware(_CountRequests, counts=counts)],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error, Exception: _unexpected},
    )
    app.state.engine = engine
    return app

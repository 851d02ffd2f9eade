"""An OpenAI-compatible stand-in for the sandbox, reached through the official ``openai`` SDK unchanged.

``zapline sandbox`` runs it; its settings are ``OPENAI_BASE_URL`` (ending in ``/v1``) and
``OPENAI_API_KEY``, the only key it accepts (``Authorization: Bearer``; else OpenAI's 401).

- ``POST /v1/chat/completions``: text and image parts (https URLs recorded, base64 data URLs
  decoded: size and type), ``tools``/``tool_choice``, ``response_format`` (``json_schema`` answers
  the smallest instance the schema accepts), ``n``, ``usage`` estimated; no streaming (400).
  See :mod:`zapline.sandbox.openai.chat`.
- ``POST /v1/audio/transcriptions`` (multipart): ``json`` or ``text``; see :mod:`.audio`.
- ``GET /v1/models``, ``GET /v1/models/<id>``.
- Errors in OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``: unknown URLs 404,
  a body that is not JSON 400; see :mod:`.errors`.
- Sandbox-only ``/_sandbox/openai/...``: script answers, faults (429 with ``Retry-After``, 5xx) and
  slow answers (:mod:`.script`), and list every request received (:mod:`.sandbox_api`).

With ``redis_url`` (the supervisor gives it the sandbox Redis's database 3) the script and the
request log survive a restart (see :mod:`.store`); without it, they live in memory only.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from zapline.sandbox.openai.api import reply
from zapline.sandbox.openai.api import routes as api_routes
from zapline.sandbox.openai.config import Options
from zapline.sandbox.openai.errors import OpenAIError, route_not_found
from zapline.sandbox.openai.sandbox_api import routes as sandbox_routes
from zapline.sandbox.openai.service import Service

__all__ = ["Options", "Service", "build"]

log = logging.getLogger("zapline.sandbox.openai")


async def _openai_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OpenAIError)
    return reply(exc.body(), exc.status, headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        error = OpenAIError(405, f"Invalid method for URL ({request.method} {request.url.path})")
    else:
        error = route_not_found(request.method, request.url.path)
    return reply(error.body(), error.status)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("openai: %s %s failed", request.method, request.url.path, exc_info=exc)
    error = OpenAIError(500, f"The sandbox failed: {type(exc).__name__}", type="server_error")
    return reply(error.body(), 500)


def build(options: dict[str, Any]) -> Starlette:
    """The sandbox OpenAI as an ASGI app; see :class:`Options` for ``options``."""
    service = Service(Options.from_dict(options))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.aclose()

    app = Starlette(
        routes=[*api_routes, *sandbox_routes],
        lifespan=lifespan,
        exception_handlers={OpenAIError: _openai_error, HTTPException: _http_error, Exception: _unexpected},
    )
    app.state.service = service
    return app

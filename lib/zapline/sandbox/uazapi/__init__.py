"""A UAZAPI (uazapiGO v2) simulator for the sandbox: the sending API, webhooks, simulated customers.

``zapline sandbox`` runs it; its settings are ``UAZAPI_URL``, ``UAZAPI_INSTANCE_TOKEN`` (the default
instance, owner 5511999990000) and ``UAZAPI_ADMIN_TOKEN`` (for ``POST /instance/init``).

- Sending: ``/send/text``, ``/send/media``, ``/send/menu`` answer with the stored Message object;
  then the echo (``messages``, ``fromMe``, ``wasSentByApi``) and ``Delivered`` / ``Read`` receipts
  are POSTed to the instance's webhook, in that order, as UAZAPI does.
- ``/chat/check``, ``/message/download``, ``/message/find``, ``/webhook`` (GET/POST),
  ``/webhook/errors``, ``/instance/status``, ``/instance/init``, ``/instance/all``.
- Who is on WhatsApp: see :mod:`zapline.sandbox.uazapi.numbers` (``5500000000001`` is not).
- Sandbox-only ``/_sandbox/...``: register instances, list sends, inject 429/500, counters, and
  customers writing in (see :mod:`zapline.sandbox.uazapi.sandbox_api`).

Webhooks are built with :mod:`zapline.sandbox.uazapi.payloads` (the structure of real captures).
With ``redis_url`` (the supervisor gives it the sandbox Redis's database 2) instances, webhooks,
messages and the sent log survive a restart (see :mod:`zapline.sandbox.uazapi.store`); counters,
injected faults and webhook errors do not. Without it, everything lives in memory only.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from zapline.sandbox.uazapi.api import routes as api_routes
from zapline.sandbox.uazapi.common import ApiError
from zapline.sandbox.uazapi.config import Options
from zapline.sandbox.uazapi.sandbox_api import routes as sandbox_routes
from zapline.sandbox.uazapi.simulator import Simulator

__all__ = ["Options", "Simulator", "build"]

log = logging.getLogger("zapline.sandbox.uazapi")


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse({"error": exc.message}, exc.status, headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = "Method not allowed" if exc.status_code == 405 else f"Not found: {request.method} {request.url.path}"
    return JSONResponse({"error": message}, exc.status_code)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("uazapi: %s %s failed", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"error": f"Internal error: {type(exc).__name__}"}, 500)


def build(options: dict[str, Any]) -> Starlette:
    """The sandbox UAZAPI as an ASGI app; see :class:`Options` for ``options``."""
    simulator = Simulator(Options.from_dict(options))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await simulator.start()
        try:
            yield
        finally:
            await simulator.aclose()

    app = Starlette(
        routes=[*api_routes, *sandbox_routes],
        lifespan=lifespan,
        exception_handlers={ApiError: _api_error, HTTPException: _http_error, Exception: _unexpected},
    )
    app.state.simulator = simulator
    return app

"""Building a deployable function: a Starlette app for Vercel and a Mangum handler for Lambda."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from zapline import __version__
from zapline.clients import aclose_clients
from zapline.config import get_settings
from zapline.errors import NotFound
from zapline.http import error_response, exception_handlers
from zapline.logs import configure

__all__ = ["function_app", "lambda_handler"]


def function_app(name: str, routes: Sequence[BaseRoute] = (), prefixes: Sequence[str] = ()) -> Starlette:
    """One function's app: its routes plus ``GET /health`` and ``GET <prefix>/health`` for each
    URL prefix routed to it (default ``/api/<name>``), so every route of vercel.json and
    serverless.yml has a cheap probe; beside each, the deep checks of :mod:`zapline.health`
    (``/health/redis``, ``/health/qstash``, ``/health/queues``, ``/health/centrifugo``).

    Settings are validated here, at import, so a misconfigured deployment fails on its first cold
    start with a message naming the variable instead of on some later request.
    """
    settings = get_settings()
    configure(settings.log_level)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "function": name, "version": __version__})

    async def deep_health(request: Request) -> Response:
        # imported on first use: the deep checks' code is no part of a function's cold start
        from zapline.health import ENDPOINTS

        endpoint = ENDPOINTS.get(request.path_params["check"])
        if endpoint is None:
            return error_response(NotFound(f"no health check {request.path_params['check'][:40]}"))
        return await endpoint(request)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await aclose_clients()

    probes: list[BaseRoute] = []
    for prefix in ("", *(prefixes or [f"/api/{name}"])):
        probes += [Route(f"{prefix}/health", health, methods=["GET"]),
                   Route(f"{prefix}/health/{{check}}", deep_health, methods=["GET"])]  # fmt: skip
    return Starlette(routes=[*probes, *routes], lifespan=lifespan, exception_handlers=exception_handlers())


def lambda_handler(app: Starlette) -> Callable[[str], Any]:
    """A module ``__getattr__`` that builds the Mangum ``handler`` on first access.

    Vercel serves ``app`` and never touches ``handler``, so Mangum is only imported on Lambda.
    """
    built: dict[str, Any] = {}

    def module_getattr(attr: str) -> Any:
        if attr != "handler":
            raise AttributeError(attr)
        if "handler" not in built:
            from mangum import Mangum

            built["handler"] = Mangum(app, lifespan="off")
        return built["handler"]

    return module_getattr

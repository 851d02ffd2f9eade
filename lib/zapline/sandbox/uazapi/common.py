"""What every route shares: the simulator, JSON in and out, UAZAPI-shaped errors, the token check."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from zapline.sandbox.uazapi.instances import Instance
from zapline.sandbox.uazapi.simulator import Simulator

__all__ = ["ApiError", "InstanceHandler", "base_url", "instance_endpoint", "json_body", "reply", "simulator"]

InstanceHandler = Callable[[Request, Instance], Awaitable[Response]]


class ApiError(Exception):
    """Answered as ``{"error": message}`` with ``status`` (and ``headers``)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def simulator(request: Request) -> Simulator:
    found: Simulator = request.app.state.simulator
    return found


def base_url(request: Request) -> str:
    """Where this server is reached (``public_url`` if configured): the start of BaseUrl and fileURL."""
    return simulator(request).base_url(f"{request.url.scheme}://{request.url.netloc}")


def reply(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(content, status, headers=headers)


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise ApiError(400, "Invalid JSON body") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The body must be a JSON object")
    return body


def instance_endpoint(handler: InstanceHandler) -> Callable[[Request], Awaitable[Response]]:
    """An instance endpoint: header ``token: <instance token>``, else 401 ``{"error":"Invalid token"}``."""

    async def run(request: Request) -> Response:
        sim = simulator(request)
        sim.stats.add("api_requests")
        instance = sim.registry.by_token(request.headers.get("token", ""))
        if instance is None:
            raise ApiError(401, "Invalid token")
        instance.stats.add("api_requests")
        return await handler(request, instance)

    run.__name__ = handler.__name__
    return run

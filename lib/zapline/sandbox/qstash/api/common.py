"""What every route shares: auth, the engine, JSON in and out, QStash-shaped errors."""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from zapline.sandbox.qstash.engine import Engine
from zapline.sandbox.qstash.errors import ApiError

__all__ = ["Handler", "authorized", "caller_ip", "empty", "engine", "header_items", "json_body", "raw_path", "reply"]

Handler = Callable[[Request], Awaitable[Response]]


def engine(request: Request) -> Engine:
    found: Engine = request.app.state.engine
    return found


def _token(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query_params.get("qstash_token", "")


def authorized(handler: Handler) -> Handler:
    async def guarded(request: Request) -> Response:
        supplied = _token(request)
        if not supplied or not hmac.compare_digest(supplied.encode(), engine(request).options.token.encode()):
            raise ApiError(
                401, "Unauthorized: pass the QStash token as 'Authorization: Bearer <token>' or ?qstash_token="
            )
        return await handler(request)

    guarded.__name__ = handler.__name__
    return guarded


def reply(content: Any, status: int = 200) -> Response:
    return JSONResponse(content, status)


def empty(status: int = 200) -> Response:
    return Response(status_code=status)


async def json_body(request: Request, *, required: bool = True) -> Any:
    raw = await request.body()
    if not raw.strip():
        if required:
            raise ApiError(400, "the request body must be JSON")
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, f"the request body is not valid JSON: {exc}") from None


def header_items(request: Request) -> list[tuple[str, str]]:
    return [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in request.headers.raw]


def raw_path(request: Request) -> str:
    raw: bytes | None = request.scope.get("raw_path")
    return raw.decode("latin-1") if raw else request.url.path


def caller_ip(request: Request) -> str | None:
    return request.client.host if request.client else None

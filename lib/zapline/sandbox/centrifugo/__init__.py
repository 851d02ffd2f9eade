"""A Centrifugo-compatible server for the sandbox: what ``cent`` and ``centrifuge-python`` need.

Routes: the server API (``POST /api/<method>``, ``POST /api``), the client protocol
(``/connection/websocket``), ``GET /health`` and ``GET /_sandbox/stats`` (counters for tests and
benchmarks). Run by ``python -m zapline.sandbox.serve centrifugo`` with the options
``{"api_key", "hmac_secret", "config_path"}``; see :mod:`.config` for namespaces. State (history,
presence) lives in memory, as with Centrifugo's Memory engine: a restart starts new epochs.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from zapline.sandbox.centrifugo.api import ServerApi
from zapline.sandbox.centrifugo.config import DEFAULT_CONFIG, Config, ConfigError, load_config
from zapline.sandbox.centrifugo.hub import VERSION, Node
from zapline.sandbox.centrifugo.tokens import TokenVerifier
from zapline.sandbox.centrifugo.websocket import serve_websocket

__all__ = ["DEFAULT_CONFIG", "UVICORN_OPTIONS", "VERSION", "Config", "ConfigError", "build", "load_config"]

_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

# The sans-I/O websockets protocol (the legacy one is deprecated), and no WebSocket-level pings:
# Centrifugo's clients expect the application-level `{}` pings instead.
UVICORN_OPTIONS: dict[str, Any] = {"ws": "websockets-sansio", "ws_ping_interval": None}


def build(options: dict[str, Any]) -> Starlette:
    config = load_config(options.get("config_path"))
    tokens = TokenVerifier(
        options["hmac_secret"], audience=config.client.token_audience, issuer=config.client.token_issuer
    )
    node = Node(config, tokens)
    api = ServerApi(node, options.get("api_key") or "")

    async def websocket(ws: WebSocket) -> None:
        await serve_websocket(ws, node)

    async def health(request: Request) -> Response:
        return JSONResponse({})

    async def stats(request: Request) -> Response:
        return JSONResponse({**asdict(node.stats), **node.info()})

    return Starlette(
        routes=[
            Route("/api", api.legacy, methods=_ALL_METHODS),
            Route("/api/{method}", api.method, methods=_ALL_METHODS),
            WebSocketRoute("/connection/websocket", websocket),
            Route("/health", health, methods=["GET"]),
            Route("/_sandbox/stats", stats, methods=["GET"]),
        ]
    )

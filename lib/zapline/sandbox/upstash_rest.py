"""An Upstash-Redis-REST-compatible bridge (SRH-style) in front of the embedded redis-server.

Wire protocol as the ``upstash-redis`` SDK speaks it: ``POST /`` with one command as a JSON array,
``POST /pipeline`` and ``POST /multi-exec`` with a 2-D array, path-style ``/set/k/v`` as the REST API
also allows; ``Authorization: Bearer <token>`` (or ``?_token=``); replies ``{"result": ...}`` or
``{"error": "..."}``; with ``Upstash-Encoding: base64`` every string is base64 except the status
reply ``OK``. Replies are raw RESP2, never redis-py's conversions. ``GET /_sandbox/stats`` counts
requests and forwarded commands for the benchmarks.

Commands Upstash does not serve over REST are refused with Upstash's own error (see
:mod:`zapline.sandbox.upstash_commands`): the request answers 400, a pipeline entry is that error
while the other commands run, a ``/multi-exec`` transaction is discarded whole. FLUSHALL empties
this database only (QStash and the UAZAPI simulator keep theirs in databases 1 and 2).
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from zapline.sandbox.resp import ConnectionLost, Pool, Reply, RespError, Status
from zapline.sandbox.upstash_commands import refusal, rewrite

__all__ = ["build"]


class BadRequest(Exception):
    """The request is not a command the bridge can forward."""


@dataclass
class Stats:
    requests: int = 0
    commands: int = 0
    sync: int = 0


def _arg(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bool):
        return b"true" if value else b"false"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, float):
        return (str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)).encode()
    raise BadRequest(f"ERR invalid argument type {type(value).__name__}: arguments must be strings or numbers")


def _command(raw: Any) -> list[bytes]:
    if not isinstance(raw, list) or not raw:
        raise BadRequest('ERR command must be a non-empty JSON array, e.g. ["GET", "key"]')
    return [_arg(v) for v in raw]


def _commands(raw: Any) -> list[list[bytes]]:
    if not isinstance(raw, list) or not raw:
        raise BadRequest("ERR pipeline body must be a non-empty JSON array of commands")
    return [_command(c) for c in raw]


def _encode(reply: Reply, b64: bool) -> Any:
    if isinstance(reply, Status) and reply == b"OK":
        return "OK"
    if isinstance(reply, bytes):
        return base64.b64encode(reply).decode() if b64 else reply.decode("utf-8", "replace")
    if isinstance(reply, list):
        return [_encode(r, b64) for r in reply]
    if isinstance(reply, RespError):
        return {"error": reply.message}
    return reply


def _entry(reply: Reply, b64: bool) -> dict[str, Any]:
    if isinstance(reply, RespError):
        return {"error": reply.message}
    return {"result": _encode(reply, b64)}


class Bridge:
    def __init__(self, redis_url: str, token: str) -> None:
        self.pool = Pool(redis_url)
        self.token = token
        self.stats = Stats()

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        supplied = value.strip() if scheme.lower() == "bearer" else request.query_params.get("_token", "")
        return bool(supplied) and supplied == self.token

    async def handle(self, request: Request) -> Response:
        self.stats.requests += 1
        if not self._authorized(request):
            return JSONResponse({"error": "Unauthorized: missing or invalid bearer token"}, status_code=401)
        segments = [unquote(s) for s in request.url.path.split("/") if s]
        b64 = request.headers.get("upstash-encoding", "").lower() == "base64"
        try:
            if not segments or segments == ["pipeline"] or segments == ["multi-exec"]:
                try:
                    body = json.loads(await request.body())
                except ValueError:
                    raise BadRequest("ERR failed to parse request body: invalid JSON") from None
            else:  # path-style: /set/key/value, a POST body being the last argument
                raw = await request.body()
                body = [*segments, raw.decode()] if raw else segments
                segments = []
            if not segments:
                command = _command(body)
                refused = refusal(command)
                if refused:
                    return self._respond({"error": refused}, 400)
                reply = await self._single(rewrite(command))
                status = 400 if isinstance(reply, RespError) else 200
                return self._respond(_entry(reply, b64), status)
            if segments == ["pipeline"]:
                return self._respond([_entry(r, b64) for r in await self._pipeline(_commands(body))])
            return await self._multi_exec(_commands(body), b64)
        except BadRequest as exc:
            return self._respond({"error": str(exc)}, 400)
        except (ConnectionLost, OSError):
            return self._respond({"error": "ERR unable to reach the Redis server behind the bridge"}, 500)

    def _respond(self, content: Any, status: int = 200) -> Response:
        self.stats.sync += 1
        return JSONResponse(content, status, headers={"Upstash-Sync-Token": str(self.stats.sync)})

    async def _single(self, args: list[bytes]) -> Reply:
        self.stats.commands += 1
        return await self.pool.execute(*args)

    async def _pipeline(self, commands: list[list[bytes]]) -> list[Reply]:
        """Not atomic, like Redis's: a refused command is an error in its place, the others run."""
        refusals = [refusal(c) for c in commands]
        run = [rewrite(c) for c, refused in zip(commands, refusals, strict=True) if refused is None]
        self.stats.commands += len(run)
        replies = iter(await self.pool.pipeline(run) if run else [])
        return [RespError(refused) if refused else next(replies) for refused in refusals]

    async def _multi_exec(self, commands: list[list[bytes]], b64: bool) -> Response:
        refused = next((r for r in map(refusal, commands) if r), None)
        if refused:  # Upstash discards a transaction with an unsupported command as a whole
            return self._respond({"error": refused}, 400)
        self.stats.commands += len(commands)
        replies = await self.pool.pipeline([[b"MULTI"], *map(rewrite, commands), [b"EXEC"]])
        queued, result = replies[1:-1], replies[-1]
        if isinstance(result, RespError) or not isinstance(result, list):
            first = next((r.message for r in queued if isinstance(r, RespError)), None)
            reason = f"{result.message if isinstance(result, RespError) else 'ERR transaction aborted'}"
            return self._respond({"error": f"{reason} ({first})" if first else reason}, 400)
        return self._respond([_entry(r, b64) for r in result])

    async def stats_endpoint(self, request: Request) -> Response:
        return JSONResponse({"requests": self.stats.requests, "commands": self.stats.commands})

    async def welcome(self, request: Request) -> Response:
        return JSONResponse("Welcome to the Zapline sandbox Upstash Redis REST bridge")


def build(options: dict[str, Any]) -> Starlette:
    bridge = Bridge(options["redis_url"], options["token"])

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await bridge.pool.close()

    app = Starlette(
        routes=[
            Route("/_sandbox/stats", bridge.stats_endpoint, methods=["GET"]),
            Route("/", bridge.welcome, methods=["GET"]),
            Route("/{path:path}", bridge.handle, methods=["GET", "POST"]),
        ],
        lifespan=lifespan,
    )
    return app

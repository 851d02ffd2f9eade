"""The server HTTP API as Centrifugo serves it: ``POST /api/<method>``, ``/api/batch`` and the legacy
``POST /api`` with ``{"method", "params"}`` commands.

Answers: 405 for anything but POST, 401 with an empty body when the API key is wrong, 400
``Bad Request`` when the body is not JSON of the right shape, and otherwise 200 with
``{"result": ...}`` or ``{"error": {"code", "message"}}`` (104 for an unknown method) — unless the
transport error mode is on (``X-Centrifugo-Error-Mode: transport`` or ``http_api.error_mode``),
where errors become HTTP statuses with ``{"code", "message"}`` bodies.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from zapline.sandbox.centrifugo.errors import ErrorCode, ReplyError
from zapline.sandbox.centrifugo.executor import Call, Executor
from zapline.sandbox.centrifugo.hub import Node
from zapline.sandbox.centrifugo.wire import Fields, Malformed, decode

__all__ = ["ServerApi"]

_TRANSPORT_STATUS = {
    ErrorCode.INTERNAL: 500,
    ErrorCode.UNKNOWN_CHANNEL: 404,
    ErrorCode.METHOD_NOT_FOUND: 404,
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.NOT_AVAILABLE: 400,
    ErrorCode.UNRECOVERABLE_POSITION: 416,
    ErrorCode.CONFLICT: 409,
}
# The legacy endpoint's method numbers (Centrifugo's Command.MethodType).
_LEGACY_METHODS = [
    "publish", "broadcast", "unsubscribe", "disconnect", "presence", "presence_stats", "history",
    "history_remove", "channels", "info", "rpc", "subscribe", "refresh", "", "connections",
    "update_user_status", "get_user_status", "delete_user_status", "block_user", "unblock_user",
    "revoke_token", "invalidate_user_tokens", "device_register", "device_update", "device_remove",
    "device_list", "device_topic_list", "device_topic_update", "user_topic_list", "user_topic_update",
    "send_push_notification", "update_push_status", "cancel_push",
]  # fmt: skip


def _error(exc: ReplyError) -> dict[str, Any]:
    return {"code": int(exc.code), "message": exc.message}


def _bad_request() -> Response:
    return PlainTextResponse("Bad Request", status_code=400)


class ServerApi:
    def __init__(self, node: Node, api_key: str) -> None:
        self.node = node
        self.executor = Executor(node)
        self._api_key = api_key.encode()

    def _key_matches(self, supplied: str) -> bool:
        return bool(supplied) and hmac.compare_digest(supplied.encode(), self._api_key)

    def authorized(self, request: Request) -> bool:
        if self.node.config.api_insecure:
            return True
        if not self._api_key:
            return False
        header = request.headers.get("x-api-key", "")
        if header:
            valid = self._key_matches(header)
        else:
            parts = request.headers.get("authorization", "").split()
            valid = len(parts) == 2 and parts[0].lower() == "apikey" and self._key_matches(parts[1])
        if not valid and request.url.query:
            valid = self._key_matches(request.query_params.get("api_key", ""))
        return valid

    def _transport_errors(self, request: Request) -> bool:
        mode = request.headers.get("x-centrifugo-error-mode", "")
        return self.node.config.api_transport_errors or mode == "transport"

    async def _gate(self, request: Request) -> Response | bytes:
        """The request body, or the response that ends the request before any method runs."""
        if request.method != "POST":
            return Response(status_code=405)
        if not self.authorized(request):
            return Response(status_code=401)
        self.node.stats.api_requests += 1
        body = await request.body()
        return body if body.strip() else _bad_request()

    async def method(self, request: Request) -> Response:
        name = request.path_params["method"]
        body = await self._gate(request)
        if isinstance(body, Response):
            return body
        prepare = self.executor.methods.get(name)
        try:
            if name == "batch":
                return JSONResponse({"replies": self._batch(decode(body))})
            call = prepare(Fields(decode(body))) if prepare else self._method_not_found
        except Malformed:
            return _bad_request()
        try:
            return JSONResponse({"result": call()})
        except ReplyError as exc:
            if self._transport_errors(request):
                return JSONResponse(_error(exc), status_code=_TRANSPORT_STATUS.get(exc.code, 500))
            return JSONResponse({"error": _error(exc)})

    @staticmethod
    def _method_not_found() -> dict[str, Any]:
        # Centrifugo itself has no route for an unknown method (a bare 404); the stand-in answers like
        # any other failed call — error 104, which the transport error mode turns into a 404.
        raise ReplyError(ErrorCode.METHOD_NOT_FOUND)

    def _batch(self, body: Any) -> list[dict[str, Any]]:
        commands = Fields(body).value("commands") or []
        if not isinstance(commands, list):
            raise Malformed("commands must be an array")
        prepared: list[tuple[str, Call | ReplyError]] = []
        for command in commands:  # decode everything first: one malformed command fails the batch
            if command is None:
                prepared.append(("", ReplyError(ErrorCode.BAD_REQUEST)))
                continue
            fields = Fields(command, "command")
            name = next((m for m in self.executor.methods if fields.raw.get(m) is not None), "")
            if not name:
                prepared.append(("", ReplyError(ErrorCode.METHOD_NOT_FOUND)))
                continue
            prepared.append((name, self.executor.methods[name](Fields(fields.raw[name], name))))
        replies: list[dict[str, Any]] = []
        for name, call in prepared:
            try:
                if isinstance(call, ReplyError):
                    raise call
                replies.append({name: call()})
            except ReplyError as exc:
                replies.append({"error": _error(exc)})
        return replies

    async def legacy(self, request: Request) -> Response:
        """``POST /api`` with one or more concatenated ``{"id"?, "method", "params"}`` commands."""
        body = await self._gate(request)
        if isinstance(body, Response):
            return body
        raw = body.decode("utf-8", "replace")
        decoder, pos, replies = json.JSONDecoder(), 0, []
        while True:
            while pos < len(raw) and raw[pos].isspace():
                pos += 1
            if pos >= len(raw):
                break
            try:
                command, pos = decoder.raw_decode(raw, pos)
                reply = self._legacy_command(command)
            except (ValueError, Malformed):
                return _bad_request()
            replies.append(json.dumps(reply, separators=(",", ":"), ensure_ascii=False))
        return Response("\n".join(replies), media_type="application/json")

    def _legacy_command(self, command: Any) -> dict[str, Any]:
        fields = Fields(command, "command")
        cmd_id = fields.integer("id", minimum=0)
        method = fields.value("method")
        if method is None:
            name = "publish"  # Go's zero value for the method number
        elif isinstance(method, str) and method and method.lower() in _LEGACY_METHODS:
            name = method.lower()
        elif isinstance(method, int) and not isinstance(method, bool) and 0 <= method < len(_LEGACY_METHODS):
            name = _LEGACY_METHODS[method]
        else:
            raise Malformed(f"unknown method {method!r}")
        reply: dict[str, Any] = {"id": cmd_id} if cmd_id else {}
        prepare = self.executor.methods.get(name)
        try:
            if prepare is None:
                raise ReplyError(ErrorCode.METHOD_NOT_FOUND)
            try:
                call = prepare(Fields(fields.value("params"), "params"))
            except Malformed:
                raise ReplyError(ErrorCode.BAD_REQUEST) from None
            reply["result"] = call()
        except ReplyError as exc:
            reply["error"] = _error(exc)
        return reply

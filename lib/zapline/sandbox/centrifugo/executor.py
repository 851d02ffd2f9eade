"""The server API methods (``publish``, ``history``, ...), independent of how they arrive over HTTP.

Each method works in two steps, as Centrifugo's typed decoding does: ``prepare`` reads the
parameters into a request record (a wrongly typed field raises :class:`Malformed`, which the HTTP
layer answers with 400), and the returned call runs it (raising :class:`ReplyError` for the
``{"error": ...}`` replies: 107 bad request, 102 unknown channel, 108 not available, ...).
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zapline.sandbox.centrifugo.broker import StreamPosition
from zapline.sandbox.centrifugo.config import ChannelOptions
from zapline.sandbox.centrifugo.errors import ErrorCode, ReplyError
from zapline.sandbox.centrifugo.hub import Node
from zapline.sandbox.centrifugo.wire import Fields, Malformed, decode

__all__ = ["Call", "Executor"]

Call = Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class PublishRequest:
    channels: list[str]
    data: Any
    has_data: bool
    b64data: str
    tags: dict[str, str] | None
    idempotency_key: str
    skip_history: bool


@dataclass(frozen=True)
class HistoryRequest:
    channel: str
    limit: int
    since: StreamPosition | None
    reverse: bool


def _publish_request(params: Fields, channels: list[str]) -> PublishRequest:
    return PublishRequest(
        channels=channels,
        data=params.value("data"),
        has_data="data" in params.raw,
        b64data=params.text("b64data"),
        tags=params.text_map("tags"),
        idempotency_key=params.text("idempotency_key"),
        skip_history=params.flag("skip_history"),
    )


def _payload(req: PublishRequest) -> Any:
    if req.b64data:
        try:
            # JSON-protocol clients receive data embedded as JSON, so the bytes must be JSON.
            return decode(base64.b64decode(req.b64data, validate=True))
        except (binascii.Error, Malformed):
            raise ReplyError(ErrorCode.BAD_REQUEST) from None
    if not req.has_data:
        raise ReplyError(ErrorCode.BAD_REQUEST)  # Centrifugo: "data required"
    return req.data


def _position(position: StreamPosition) -> dict[str, Any]:
    return {"offset": position.offset, "epoch": position.epoch} if position.epoch else {}


class Executor:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.methods: dict[str, Callable[[Fields], Call]] = {
            "publish": self.publish,
            "broadcast": self.broadcast,
            "subscribe": self.subscribe,
            "unsubscribe": self.unsubscribe,
            "disconnect": self.disconnect,
            "history": self.history,
            "history_remove": self.history_remove,
            "presence": self.presence,
            "presence_stats": self.presence_stats,
            "info": self.info,
            "rpc": self.rpc,
            "refresh": self.refresh,
            "channels": self.channels,
        }

    def _options(self, channel: str) -> ChannelOptions:
        if not channel:
            raise ReplyError(ErrorCode.BAD_REQUEST)
        options = self.node.config.channel_options(channel)
        if options is None:
            raise ReplyError(ErrorCode.UNKNOWN_CHANNEL)
        return options

    def publish(self, params: Fields) -> Call:
        return functools.partial(self._publish, _publish_request(params, [params.text("channel")]))

    def _publish(self, req: PublishRequest) -> dict[str, Any]:
        channel = req.channels[0]
        if not channel:
            raise ReplyError(ErrorCode.BAD_REQUEST)
        data = _payload(req)
        return self._publish_one(channel, data, req)

    def _publish_one(self, channel: str, data: Any, req: PublishRequest) -> dict[str, Any]:
        options = self._options(channel)
        position = self.node.publish(
            channel,
            options,
            data,
            tags=req.tags,
            idempotency_key=req.idempotency_key,
            skip_history=req.skip_history,
        )
        return _position(position)

    def broadcast(self, params: Fields) -> Call:
        return functools.partial(self._broadcast, _publish_request(params, params.texts("channels")))

    def _broadcast(self, req: PublishRequest) -> dict[str, Any]:
        if not req.channels:
            raise ReplyError(ErrorCode.BAD_REQUEST)
        data = _payload(req)
        responses: list[dict[str, Any]] = []
        for channel in req.channels:
            try:
                responses.append({"result": self._publish_one(channel, data, req)})
            except ReplyError as exc:
                responses.append({"error": {"code": int(exc.code), "message": exc.message}})
        return {"responses": responses}

    def history(self, params: Fields) -> Call:
        since = params.nested("since")
        req = HistoryRequest(
            channel=params.text("channel"),
            limit=params.integer("limit"),
            since=None if since is None else StreamPosition(since.integer("offset", minimum=0), since.text("epoch")),
            reverse=params.flag("reverse"),
        )
        return functools.partial(self._history, req)

    def _history(self, req: HistoryRequest) -> dict[str, Any]:
        if not self._options(req.channel).history_enabled:
            raise ReplyError(ErrorCode.NOT_AVAILABLE)
        if req.reverse and req.since is not None and req.since.offset == 0:
            raise ReplyError(ErrorCode.BAD_REQUEST)
        limit = req.limit
        if limit < 0:
            limit = self.node.config.client.history_max_publication_limit or -1
        result = self.node.broker.history(req.channel, limit=limit, since=req.since, reverse=req.reverse)
        if req.since is not None and req.since.epoch and req.since.epoch != result.position.epoch:
            raise ReplyError(ErrorCode.UNRECOVERABLE_POSITION)
        return {
            "publications": [pub.to_wire() for pub in result.publications],
            "offset": result.position.offset,
            "epoch": result.position.epoch,
        }

    def history_remove(self, params: Fields) -> Call:
        return functools.partial(self._history_remove, params.text("channel"))

    def _history_remove(self, channel: str) -> dict[str, Any]:
        if not self._options(channel).history_enabled:
            raise ReplyError(ErrorCode.NOT_AVAILABLE)
        self.node.broker.remove_history(channel)
        return {}

    def presence(self, params: Fields) -> Call:
        return functools.partial(self._presence, params.text("channel"), stats=False)

    def presence_stats(self, params: Fields) -> Call:
        return functools.partial(self._presence, params.text("channel"), stats=True)

    def _presence(self, channel: str, *, stats: bool) -> dict[str, Any]:
        if not self._options(channel).presence:
            raise ReplyError(ErrorCode.NOT_AVAILABLE)
        if stats:
            clients, users = self.node.presence_stats(channel)
            return {"num_clients": clients, "num_users": users}
        return {"presence": {cid: info.to_wire() for cid, info in self.node.presence(channel).items()}}

    def info(self, params: Fields) -> Call:
        return lambda: {"nodes": [self.node.info()]}

    def channels(self, params: Fields) -> Call:
        pattern = params.text("pattern")
        return lambda: {"channels": {ch: {"num_clients": n} for ch, n in sorted(self.node.channels(pattern).items())}}

    def rpc(self, params: Fields) -> Call:
        method = params.text("method")

        def call() -> dict[str, Any]:
            # No RPC extensions exist in the stand-in, so every named method is unknown.
            raise ReplyError(ErrorCode.BAD_REQUEST if not method else ErrorCode.METHOD_NOT_FOUND)

        return call

    # Server-side subscription management is accepted and validated but changes nothing: Zapline
    # gives clients their channels in the connection token instead.
    def subscribe(self, params: Fields) -> Call:
        channel, _ = params.text("channel"), params.text("user")
        return lambda: self._accept(channel, required=True)

    def unsubscribe(self, params: Fields) -> Call:
        channel, _ = params.text("channel"), params.text("user")
        return lambda: self._accept(channel, required=False)

    def disconnect(self, params: Fields) -> Call:
        params.text("user")
        return dict

    def refresh(self, params: Fields) -> Call:
        params.text("user")
        return dict

    def _accept(self, channel: str, *, required: bool) -> dict[str, Any]:
        if channel or required:
            self._options(channel)
        return {}

"""One client connection's side of the bidirectional JSON protocol, independent of the transport.

:meth:`ClientSession.handle` takes one decoded command and returns its reply (or None for a pong or
``send``); a :class:`Disconnect` it raises means the transport must close the connection with that
code. Checks follow Centrifugo's client handler: a command before ``connect`` or a missing channel
closes with 3501, an expired token is error 109, a forged one closes with 3500, and permissions come
from the channel's namespace options or a subscription token.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from zapline.sandbox.centrifugo.broker import ClientInfo, StreamPosition
from zapline.sandbox.centrifugo.errors import Disconnect, DisconnectCode, ErrorCode, ReplyError
from zapline.sandbox.centrifugo.hub import VERSION, Node
from zapline.sandbox.centrifugo.subscriptions import SessionSubscriptions
from zapline.sandbox.centrifugo.tokens import ConnectionClaims, InvalidToken, TokenExpired, ttl
from zapline.sandbox.centrifugo.wire import Fields, Malformed

__all__ = ["ClientSession"]

_METHODS = (
    "connect", "subscribe", "unsubscribe", "publish", "presence", "presence_stats", "history", "rpc",
    "send", "refresh", "sub_refresh",
)  # fmt: skip


class ClientSession(SessionSubscriptions):
    def __init__(self, node: Node, deliver: Callable[[str], None]) -> None:
        super().__init__(node)
        self.expire_at = 0
        self.authenticated = False
        self.pongs = 0
        self._deliver = deliver
        self._unusable = False  # a failed connect leaves nothing but closing to do
        self._created = time.monotonic()

    def deliver(self, message: str) -> None:
        self._deliver(message)

    def close(self) -> None:
        if self.authenticated:
            self.node.remove_connection(self)
        self._subs.clear()

    def check_deadlines(self, now: float) -> Disconnect | None:
        """Why the connection must end now (stale, expired), if it must; ``now`` is unix time."""
        client = self.config.client
        if not self.authenticated:
            stale = time.monotonic() - self._created > client.stale_close_delay > 0
            return Disconnect(DisconnectCode.STALE) if stale else None
        if self.expire_at and now > self.expire_at + client.expired_close_delay:
            return Disconnect(DisconnectCode.CONNECTION_EXPIRED)
        if self._expired_subscription(now):
            return Disconnect(DisconnectCode.SUBSCRIPTION_EXPIRED)
        return None

    def handle(self, command: Any) -> dict[str, Any] | None:
        cmd_id = 0
        try:
            fields = Fields(command, "command")
            cmd_id = fields.integer("id", minimum=0)
            method = next((m for m in _METHODS if m in fields.raw), "")
            if self._unusable or (not self.authenticated and method != "connect"):
                raise Disconnect(DisconnectCode.BAD_REQUEST)
            if cmd_id == 0 and method != "send":
                self.pongs += 1  # an empty command answers the server's ping
                self.node.stats.pongs_received += 1
                return None
            if not method:
                raise ReplyError(ErrorCode.METHOD_NOT_FOUND)
            params = Fields(fields.value(method), method)
            if method == "send":
                return None  # asynchronous message to the app; there is no app behind the stand-in
            result = getattr(self, f"_{method}")(params)
            return {"id": cmd_id, method: result}
        except Malformed:
            raise Disconnect(DisconnectCode.BAD_REQUEST) from None
        except ReplyError as exc:
            if not self.authenticated:
                self._unusable = True
            return {"id": cmd_id, "error": exc.to_wire()}

    def _connect(self, params: Fields) -> dict[str, Any]:
        if self.authenticated:
            raise Disconnect(DisconnectCode.BAD_REQUEST)
        token, client = params.text("token"), self.config.client
        if token:
            try:
                claims = self.node.tokens.connection(token)
            except TokenExpired:
                raise ReplyError(ErrorCode.TOKEN_EXPIRED) from None
            except InvalidToken:
                raise Disconnect(DisconnectCode.INVALID_TOKEN) from None
        elif client.allow_anonymous_connect_without_token or client.insecure:
            claims = ConnectionClaims(user="")
        else:
            raise Disconnect(DisconnectCode.BAD_REQUEST)  # no credentials at all
        subs = self._connect_subscriptions(claims, params.nested("subs"))
        now = time.time()
        expire_at = 0 if client.insecure else claims.expire_at
        if expire_at and expire_at < now:
            raise ReplyError(ErrorCode.EXPIRED)
        self.user, self.info, self.expire_at, self.authenticated = claims.user, claims.info, expire_at, True
        self.node.add_connection(self)
        result: dict[str, Any] = {"client": self.client_id, "version": VERSION}
        if expire_at:
            result["expires"], result["ttl"] = True, ttl(expire_at, now)
        if client.ping_interval >= 1:
            result["ping"] = int(client.ping_interval)  # whole seconds: a shorter interval reads as 0, omitted
        if client.ping_interval > 0 and client.pong_timeout > 0:
            result["pong"] = True
        subs_result = {}
        for channel, (options, req) in subs.items():
            subs_result[channel] = self._join(channel, options, req)
        if subs_result:
            result["subs"] = subs_result
        return result

    def _publish(self, params: Fields) -> dict[str, Any]:
        channel = params.text("channel")
        options = self._options(channel)
        if "data" not in params.raw:
            raise ReplyError(ErrorCode.BAD_REQUEST)
        anonymous = options.allow_publish_for_anonymous
        if not self._allowed(
            options.allow_publish_for_client, options.allow_publish_for_subscriber, anonymous, channel, force=False
        ):
            raise ReplyError(ErrorCode.PERMISSION_DENIED)
        sub = self._subs.get(channel)
        info = ClientInfo(self.client_id, self.user, self.info, sub.chan_info if sub else None)
        self.node.publish(channel, options, params.value("data"), info=info)
        return {}

    def _history(self, params: Fields) -> dict[str, Any]:
        channel = params.text("channel")
        options = self._options(channel)
        since_fields = params.nested("since")
        since = (
            None
            if since_fields is None
            else StreamPosition(since_fields.integer("offset", minimum=0), since_fields.text("epoch"))
        )
        limit, reverse = params.integer("limit"), params.flag("reverse")
        if not options.history_enabled:
            raise ReplyError(ErrorCode.NOT_AVAILABLE)
        if not self._history_access(channel, options):
            raise ReplyError(ErrorCode.PERMISSION_DENIED)
        if reverse and since is not None and since.offset == 0:
            raise ReplyError(ErrorCode.BAD_REQUEST)
        cap = self.config.client.history_max_publication_limit
        if cap > 0 and (limit < 0 or limit > cap):
            limit = cap
        result = self.node.broker.history(channel, limit=limit, since=since, reverse=reverse)
        if since is not None and since.epoch and since.epoch != result.position.epoch:
            raise ReplyError(ErrorCode.UNRECOVERABLE_POSITION)
        pubs = [pub.to_wire() for pub in result.publications]
        return {"publications": pubs, "offset": result.position.offset, "epoch": result.position.epoch}

    def _presence_options(self, params: Fields) -> str:
        channel = params.text("channel")
        options = self._options(channel)
        if not options.presence:
            raise ReplyError(ErrorCode.NOT_AVAILABLE)
        anonymous = options.allow_presence_for_anonymous
        if not self._allowed(
            options.allow_presence_for_client, options.allow_presence_for_subscriber, anonymous, channel, force=False
        ):
            raise ReplyError(ErrorCode.PERMISSION_DENIED)
        return channel

    def _presence(self, params: Fields) -> dict[str, Any]:
        presence = self.node.presence(self._presence_options(params))
        return {"presence": {cid: info.to_wire() for cid, info in presence.items()}}

    def _presence_stats(self, params: Fields) -> dict[str, Any]:
        clients, users = self.node.presence_stats(self._presence_options(params))
        return {"num_clients": clients, "num_users": users}

    def _rpc(self, params: Fields) -> dict[str, Any]:
        params.text("method")
        raise ReplyError(ErrorCode.METHOD_NOT_FOUND)  # no RPC proxy behind the stand-in

    def _refresh(self, params: Fields) -> dict[str, Any]:
        token = params.text("token")
        if not token:
            raise Disconnect(DisconnectCode.BAD_REQUEST)
        try:
            claims = self.node.tokens.connection(token)
        except TokenExpired:
            raise Disconnect(DisconnectCode.CONNECTION_EXPIRED) from None
        except InvalidToken:
            raise Disconnect(DisconnectCode.INVALID_TOKEN) from None
        if claims.user != self.user:
            raise Disconnect(DisconnectCode.INVALID_TOKEN)
        now = time.time()
        if claims.expire_at and claims.expire_at <= now:
            raise ReplyError(ErrorCode.EXPIRED)
        self.expire_at = claims.expire_at
        if claims.info is not None:
            self.info = claims.info
        result: dict[str, Any] = {"client": self.client_id, "version": VERSION}
        if claims.expire_at:
            result["expires"], result["ttl"] = True, ttl(claims.expire_at, now)
        return result

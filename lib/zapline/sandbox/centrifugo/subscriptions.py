"""The subscription side of a client session: joining channels, leaving them, and permissions.

Checks follow Centrifugo's client handler. A channel in an unknown namespace is error 102; a private
(``$``) channel needs a subscription token whose ``channel`` and ``sub`` claims match, others need
``allow_subscribe_for_client`` (or a token); a bad or mismatched subscription token is 103 and an
expired one 109. Server-side subscriptions come from the connection token's ``channels`` (or
``subs``) claim and need no permission: the token is the permission.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from zapline.sandbox.centrifugo.broker import ClientInfo
from zapline.sandbox.centrifugo.config import ChannelOptions
from zapline.sandbox.centrifugo.errors import Disconnect, DisconnectCode, ErrorCode, ReplyError
from zapline.sandbox.centrifugo.hub import Node
from zapline.sandbox.centrifugo.recovery import RecoveryRequest, SubscribeOptions, subscribe_result
from zapline.sandbox.centrifugo.tokens import ConnectionClaims, InvalidToken, TokenExpired, ttl
from zapline.sandbox.centrifugo.wire import Fields

__all__ = ["SessionSubscriptions"]


@dataclass
class _Subscription:
    chan_info: Any
    expire_at: int  # unix seconds; 0 = never


class SessionSubscriptions:
    """Identity and channels of one connection; :class:`~.client.ClientSession` adds the rest."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.config = node.config
        self.client_id = str(uuid.uuid4())
        self.user = ""
        self.info: Any = None
        self._subs: dict[str, _Subscription] = {}

    def deliver(self, message: str) -> None:
        raise NotImplementedError

    def _expired_subscription(self, now: float) -> bool:
        delay = self.config.client.expired_sub_close_delay
        return any(sub.expire_at and now > sub.expire_at + delay for sub in self._subs.values())

    def _options(self, channel: str) -> ChannelOptions:
        if not channel:
            raise Disconnect(DisconnectCode.BAD_REQUEST)
        options = self.config.channel_options(channel)
        if options is None:
            raise ReplyError(ErrorCode.UNKNOWN_CHANNEL)
        if not channel.isascii():
            raise ReplyError(ErrorCode.BAD_REQUEST)
        return options

    def _allowed(self, for_client: bool, for_subscriber: bool, anonymous: bool, channel: str, *, force: bool) -> bool:
        if not (self.user or anonymous):
            return self.config.client.insecure
        subscribed = force or channel in self._subs
        return for_client or (for_subscriber and subscribed) or self.config.client.insecure

    def _history_access(self, channel: str, options: ChannelOptions, *, force: bool = False) -> bool:
        return self._allowed(
            options.allow_history_for_client, options.allow_history_for_subscriber,
            options.allow_history_for_anonymous, channel, force=force,
        )  # fmt: skip

    def _connect_subscriptions(
        self, claims: ConnectionClaims, requested: Fields | None
    ) -> dict[str, tuple[SubscribeOptions, RecoveryRequest]]:
        """Server-side subscriptions: the token's channels, then channels the client may join itself."""
        wanted = {
            name: RecoveryRequest.from_fields(Fields(v, name)) for name, v in (requested or Fields({})).raw.items()
        }
        subs: dict[str, tuple[SubscribeOptions, RecoveryRequest]] = {}
        for channel in claims.channels:
            options = self.config.channel_options(channel)
            if options is None:
                raise ReplyError(ErrorCode.UNKNOWN_CHANNEL)
            chan_info = claims.channel_info.get(channel)
            subs[channel] = (SubscribeOptions.forced(options, chan_info), wanted.get(channel, RecoveryRequest()))
        for channel, req in wanted.items():
            options = self.config.channel_options(channel)
            if options is None:
                raise Disconnect(DisconnectCode.BAD_REQUEST)
            free = options.allow_subscribe_for_client and (claims.user or options.allow_subscribe_for_anonymous)
            private = self.config.is_private(channel)
            if channel not in subs and channel.isascii() and not private and (free or self.config.client.insecure):
                subs[channel] = (SubscribeOptions.forced(options), req)
        return subs

    def _join(self, channel: str, options: SubscribeOptions, req: RecoveryRequest) -> dict[str, Any]:
        result = subscribe_result(self.node, channel, options, req)
        presence = ClientInfo(self.client_id, self.user, self.info, options.chan_info) if options.presence else None
        self.node.subscribe(channel, self, presence)
        self._subs[channel] = _Subscription(options.chan_info, options.expire_at)
        if options.expire_at:
            result["expires"], result["ttl"] = True, ttl(options.expire_at)
        return result

    def _subscribe(self, params: Fields) -> dict[str, Any]:
        channel = params.text("channel")
        if not channel:
            raise Disconnect(DisconnectCode.BAD_REQUEST)
        if len(channel) > self.config.channel_max_length > 0:
            raise ReplyError(ErrorCode.BAD_REQUEST)
        if channel in self._subs:
            raise ReplyError(ErrorCode.ALREADY_SUBSCRIBED)
        if len(self._subs) >= self.config.client.channel_limit > 0:
            raise ReplyError(ErrorCode.LIMIT_EXCEEDED)
        ns = self._options(channel)
        options = SubscribeOptions.forced(ns)
        token = params.text("token")
        if self.config.is_private(channel) and not token:
            raise ReplyError(ErrorCode.PERMISSION_DENIED)
        if token:
            options = self._subscription_token(channel, token, options)
        elif not self._allowed(
            ns.allow_subscribe_for_client, False, ns.allow_subscribe_for_anonymous, channel, force=True
        ):
            raise ReplyError(ErrorCode.PERMISSION_DENIED)
        history_access = self._history_access(channel, ns, force=True)
        positioning = options.positioning or (params.flag("positioned") and (ns.allow_positioning or history_access))
        recovery = options.recovery or (params.flag("recoverable") and (ns.allow_recovery or history_access))
        options = SubscribeOptions(
            options.presence, recovery, positioning, options.cache_recovery, options.chan_info, options.expire_at
        )
        if options.expire_at and options.expire_at < time.time():
            raise ReplyError(ErrorCode.EXPIRED)
        return self._join(channel, options, RecoveryRequest.from_fields(params))

    def _subscription_token(self, channel: str, token: str, base: SubscribeOptions) -> SubscribeOptions:
        try:
            claims = self.node.tokens.subscription(token)
        except TokenExpired:
            raise ReplyError(ErrorCode.TOKEN_EXPIRED) from None
        except InvalidToken:
            raise ReplyError(ErrorCode.PERMISSION_DENIED) from None
        mismatch = claims.channel != channel or claims.user != self.user
        if mismatch or (claims.client and claims.client != self.client_id):
            raise ReplyError(ErrorCode.PERMISSION_DENIED)
        override = claims.overrides
        return SubscribeOptions(
            presence=override.get("presence", base.presence),
            recovery=override.get("force_recovery", base.recovery),
            positioning=override.get("force_positioning", base.positioning),
            cache_recovery=base.cache_recovery,
            chan_info=claims.info,
            expire_at=claims.expire_at,
        )

    def _unsubscribe(self, params: Fields) -> dict[str, Any]:
        channel = params.text("channel")
        if not channel:
            raise Disconnect(DisconnectCode.BAD_REQUEST)
        if self._subs.pop(channel, None) is not None:
            self.node.unsubscribe(channel, self.client_id)
        return {}

    def _sub_refresh(self, params: Fields) -> dict[str, Any]:
        channel, token = params.text("channel"), params.text("token")
        if not channel:
            raise Disconnect(DisconnectCode.BAD_REQUEST)
        sub = self._subs.get(channel)
        if sub is None:
            raise ReplyError(ErrorCode.PERMISSION_DENIED)
        if not token:
            raise ReplyError(ErrorCode.BAD_REQUEST)
        try:
            claims = self.node.tokens.subscription(token)
        except TokenExpired:
            raise Disconnect(DisconnectCode.SUBSCRIPTION_EXPIRED) from None
        except InvalidToken:
            raise Disconnect(DisconnectCode.INVALID_TOKEN) from None
        if claims.channel != channel or claims.user != self.user:
            raise Disconnect(DisconnectCode.INVALID_TOKEN)
        if claims.client and claims.client != self.client_id:
            raise Disconnect(DisconnectCode.INVALID_TOKEN)
        now = time.time()
        if claims.expire_at and claims.expire_at < now:
            raise ReplyError(ErrorCode.EXPIRED)
        sub.expire_at, sub.chan_info = claims.expire_at, claims.info
        return {"expires": True, "ttl": ttl(claims.expire_at, now)} if claims.expire_at else {}

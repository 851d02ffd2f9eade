"""Connection and subscription JWTs, checked the way Centrifugo checks them (HS256/384/512).

Like Centrifugo, ``exp`` and ``nbf`` make a token *expired* (the client may fetch another one)
while anything else wrong — signature, shape, claim types, audience — makes it *invalid*.
``iat`` is not checked, ``aud``/``iss`` only when configured. ``expire_at`` overrides ``exp`` as
the moment the connection (or subscription) expires; ``expire_at: 0`` means never.
"""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass, field
from typing import Any

import jwt

from zapline.sandbox.centrifugo.wire import Fields, Malformed, decode

__all__ = ["ConnectionClaims", "InvalidToken", "SubscriptionClaims", "TokenExpired", "TokenVerifier"]

_ALGORITHMS = ["HS256", "HS384", "HS512"]


class TokenExpired(Exception):
    """The token's exp (or nbf) says it cannot be used now; a new token may be."""


class InvalidToken(Exception):
    """The token is forged, malformed or meant for something else."""


@dataclass(frozen=True)
class ConnectionClaims:
    user: str
    expire_at: int = 0  # unix seconds; 0 = the connection never expires
    info: Any = None
    channels: tuple[str, ...] = ()  # server-side subscriptions, in claim order
    channel_info: dict[str, Any] = field(default_factory=dict)  # `subs` claim: per-channel info


@dataclass(frozen=True)
class SubscriptionClaims:
    user: str
    channel: str
    client: str = ""
    expire_at: int = 0
    info: Any = None
    overrides: dict[str, bool] = field(default_factory=dict)  # presence, force_recovery, ...


def _info(claims: Fields, raw_name: str, b64_name: str) -> Any:
    encoded = claims.text(b64_name)
    if not encoded:
        return claims.value(raw_name)
    try:
        return decode(base64.b64decode(encoded, validate=True))
    except (binascii.Error, Malformed):
        # JSON clients receive info embedded as JSON; bytes that are not JSON cannot travel.
        raise InvalidToken(f"{b64_name} must be base64 of JSON") from None


def _expire_at(claims: Fields) -> int:
    if "expire_at" in claims:
        return max(claims.integer("expire_at"), 0)
    exp = claims.value("exp")  # PyJWT has checked that it is a number
    return int(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else 0


def _overrides(claims: Fields) -> dict[str, bool]:
    override = claims.nested("override")
    if override is None:
        return {}
    result: dict[str, bool] = {}
    for name in ("presence", "join_leave", "force_push_join_leave", "force_recovery", "force_positioning"):
        option = override.nested(name)
        if option is not None:
            result[name] = option.flag("value")
    return result


class TokenVerifier:
    def __init__(self, secret: str, *, subscription_secret: str = "", audience: str = "", issuer: str = "") -> None:
        if not secret:
            raise ValueError("an HMAC secret is required to check connection tokens")
        self._secret = secret
        self._subscription_secret = subscription_secret or secret
        self._audience = audience or None
        self._issuer = issuer or None

    def _claims(self, token: str, secret: str) -> Fields:
        try:
            payload = jwt.decode(
                token,
                secret,
                algorithms=_ALGORITHMS,
                audience=self._audience,
                issuer=self._issuer,
                options={"verify_aud": self._audience is not None, "verify_iat": False},
            )
        except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError):
            raise TokenExpired() from None
        except jwt.InvalidTokenError as exc:
            raise InvalidToken(str(exc)) from None
        return Fields(payload, "token")

    def connection(self, token: str) -> ConnectionClaims:
        claims = self._claims(token, self._secret)
        try:
            if claims.text("channel"):
                raise InvalidToken("a connection token cannot carry a channel claim")
            subs = claims.nested("subs")
            channel_info: dict[str, Any] = {}
            if subs is not None:
                for name in subs.raw:
                    channel_info[name] = _info(Fields(subs.raw[name], f"subs.{name}"), "info", "b64info")
                channels = tuple(channel_info)
            else:
                channels = tuple(dict.fromkeys(claims.texts("channels")))
            return ConnectionClaims(
                user=claims.text("sub"),
                expire_at=_expire_at(claims),
                info=_info(claims, "info", "b64info"),
                channels=channels,
                channel_info=channel_info,
            )
        except Malformed as exc:
            raise InvalidToken(str(exc)) from None

    def subscription(self, token: str) -> SubscriptionClaims:
        claims = self._claims(token, self._subscription_secret)
        try:
            channel = claims.text("channel")
            if not channel:
                raise InvalidToken("a subscription token needs a channel claim")
            return SubscriptionClaims(
                user=claims.text("sub"),
                channel=channel,
                client=claims.text("client"),
                expire_at=_expire_at(claims),
                info=_info(claims, "info", "b64info"),
                overrides=_overrides(claims),
            )
        except Malformed as exc:
            raise InvalidToken(str(exc)) from None


def ttl(expire_at: int, now: float | None = None) -> int:
    """Whole seconds until ``expire_at``, as the ``ttl`` field of connect and subscribe results."""
    return max(int(expire_at - (time.time() if now is None else now)), 0)

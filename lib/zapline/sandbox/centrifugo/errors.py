"""Centrifugo's two kinds of failure: an error reply, and a disconnect that ends the connection.

Codes and texts are Centrifugo's own (https://centrifugal.dev/docs/server/codes), so SDKs react to
them exactly as they do against the real server: 109 makes centrifuge-python fetch a new token,
3500-3999 close codes stop it from reconnecting, and so on.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

__all__ = ["Disconnect", "DisconnectCode", "ErrorCode", "ReplyError"]


class ErrorCode(IntEnum):
    INTERNAL = 100
    UNAUTHORIZED = 101
    UNKNOWN_CHANNEL = 102
    PERMISSION_DENIED = 103
    METHOD_NOT_FOUND = 104
    ALREADY_SUBSCRIBED = 105
    LIMIT_EXCEEDED = 106
    BAD_REQUEST = 107
    NOT_AVAILABLE = 108
    TOKEN_EXPIRED = 109
    EXPIRED = 110
    TOO_MANY_REQUESTS = 111
    UNRECOVERABLE_POSITION = 112
    CONFLICT = 113


_ERROR_MESSAGES = {
    ErrorCode.INTERNAL: "internal server error",
    ErrorCode.UNAUTHORIZED: "unauthorized",
    ErrorCode.UNKNOWN_CHANNEL: "unknown channel",
    ErrorCode.PERMISSION_DENIED: "permission denied",
    ErrorCode.METHOD_NOT_FOUND: "method not found",
    ErrorCode.ALREADY_SUBSCRIBED: "already subscribed",
    ErrorCode.LIMIT_EXCEEDED: "limit exceeded",
    ErrorCode.BAD_REQUEST: "bad request",
    ErrorCode.NOT_AVAILABLE: "not available",
    ErrorCode.TOKEN_EXPIRED: "token expired",
    ErrorCode.EXPIRED: "expired",
    ErrorCode.TOO_MANY_REQUESTS: "too many requests",
    ErrorCode.UNRECOVERABLE_POSITION: "unrecoverable position",
    ErrorCode.CONFLICT: "conflict",
}
_TEMPORARY = frozenset({ErrorCode.INTERNAL, ErrorCode.TOO_MANY_REQUESTS})


class ReplyError(Exception):
    """A command failed; the reply carries ``{"code", "message", "temporary"?}``."""

    def __init__(self, code: ErrorCode) -> None:
        super().__init__(f"{int(code)}: {_ERROR_MESSAGES[code]}")
        self.code = code
        self.message = _ERROR_MESSAGES[code]
        self.temporary = code in _TEMPORARY

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"code": int(self.code), "message": self.message}
        if self.temporary:
            wire["temporary"] = True
        return wire


class DisconnectCode(IntEnum):
    CONNECTION_CLOSED = 3000
    SHUTDOWN = 3001
    INTERNAL = 3004
    CONNECTION_EXPIRED = 3005
    SUBSCRIPTION_EXPIRED = 3006
    SLOW = 3008
    NO_PONG = 3012
    INVALID_TOKEN = 3500
    BAD_REQUEST = 3501
    STALE = 3502


_DISCONNECT_REASONS = {
    DisconnectCode.CONNECTION_CLOSED: "connection closed",
    DisconnectCode.SHUTDOWN: "shutdown",
    DisconnectCode.INTERNAL: "internal server error",
    DisconnectCode.CONNECTION_EXPIRED: "connection expired",
    DisconnectCode.SUBSCRIPTION_EXPIRED: "subscription expired",
    DisconnectCode.SLOW: "slow",
    DisconnectCode.NO_PONG: "no pong",
    DisconnectCode.INVALID_TOKEN: "invalid token",
    DisconnectCode.BAD_REQUEST: "bad request",
    DisconnectCode.STALE: "stale",
}


class Disconnect(Exception):
    """The connection must be closed with this WebSocket close code and reason."""

    def __init__(self, code: DisconnectCode) -> None:
        super().__init__(f"{int(code)}: {_DISCONNECT_REASONS[code]}")
        self.code = code
        self.reason = _DISCONNECT_REASONS[code]

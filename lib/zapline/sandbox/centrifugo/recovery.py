"""The subscribe result: stream position, and recovery of what a resubscribing client missed.

Shared by client-side subscriptions (the ``subscribe`` command) and server-side ones (the connection
token's ``channels``), which Centrifugo builds the same way. With ``recover: true`` the result
carries the publications the client missed since its ``offset`` in the same ``epoch`` and
``recovered: true`` — or ``recovered: false`` when the epoch changed or the stream no longer holds
the whole gap (trimmed, expired, or more than ``client.recovery_max_publication_limit``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zapline.sandbox.centrifugo.broker import Publication, StreamPosition
from zapline.sandbox.centrifugo.config import ChannelOptions
from zapline.sandbox.centrifugo.errors import ErrorCode, ReplyError
from zapline.sandbox.centrifugo.hub import Node
from zapline.sandbox.centrifugo.wire import Fields

__all__ = ["RecoveryRequest", "SubscribeOptions", "subscribe_result"]

REJECT_UNRECOVERED_FLAG = 2  # the client asks for error 112 instead of recovered: false


@dataclass(frozen=True)
class SubscribeOptions:
    presence: bool = False
    recovery: bool = False
    positioning: bool = False
    cache_recovery: bool = False
    chan_info: Any = None
    expire_at: int = 0  # unix seconds, from a subscription token; 0 = never

    @classmethod
    def forced(cls, options: ChannelOptions, chan_info: Any = None) -> SubscribeOptions:
        """What the namespace gives every subscriber, before anything the client asks for."""
        return cls(
            presence=options.presence,
            recovery=options.force_recovery,
            positioning=options.force_positioning,
            cache_recovery=options.force_recovery_mode == "cache",
            chan_info=chan_info,
        )


@dataclass(frozen=True)
class RecoveryRequest:
    recover: bool = False
    offset: int = 0
    epoch: str = ""
    flag: int = 0

    @classmethod
    def from_fields(cls, fields: Fields) -> RecoveryRequest:
        return cls(
            recover=fields.flag("recover"),
            offset=fields.integer("offset", minimum=0),
            epoch=fields.text("epoch"),
            flag=fields.integer("flag", minimum=0),
        )


def _recover_stream(node: Node, channel: str, req: RecoveryRequest) -> tuple[list[Publication], StreamPosition, bool]:
    limit = node.config.client.recovery_max_publication_limit or -1
    result = node.broker.history(channel, limit=limit, since=StreamPosition(req.offset, req.epoch))
    position, pubs = result.position, result.publications
    if req.epoch and req.epoch != position.epoch:
        return [], position, False
    if not pubs:
        return [], position, position.offset == req.offset
    recovered = pubs[0].offset == req.offset + 1 and pubs[-1].offset == position.offset
    return (pubs if recovered else []), position, recovered


def _recover_cache(node: Node, channel: str, req: RecoveryRequest) -> tuple[list[Publication], StreamPosition, bool]:
    result = node.broker.history(channel, limit=1, reverse=True)
    position = result.position
    same_state = req.offset > 0 and req.offset == position.offset and req.epoch == position.epoch
    if not result.publications:
        return [], position, same_state
    latest = result.publications[0]
    recovered = latest.offset == position.offset
    return ([latest] if recovered and not same_state else []), position, recovered


def subscribe_result(node: Node, channel: str, options: SubscribeOptions, req: RecoveryRequest) -> dict[str, Any]:
    """The subscribe result; raises 112 before anything changes if the client wants that."""
    result: dict[str, Any] = {}
    if options.positioning or options.recovery:
        result["positioned"] = True
        if options.recovery:
            result["recoverable"] = True
        if options.recovery and req.recover:
            recover = _recover_cache if options.cache_recovery else _recover_stream
            pubs, position, recovered = recover(node, channel, req)
            if not recovered and req.flag & REJECT_UNRECOVERED_FLAG:
                raise ReplyError(ErrorCode.UNRECOVERABLE_POSITION)
            result["epoch"] = position.epoch
            # Recovered: the client's own offset; the publications carry it forward from there.
            result["offset"] = req.offset if recovered else position.offset
            result["recovered"] = recovered
            if recovered:
                result["publications"] = [pub.to_wire() for pub in pubs]
        else:
            position = node.broker.position(channel)
            result["epoch"], result["offset"] = position.epoch, position.offset
    if req.recover:
        result["was_recovering"] = True
        result.setdefault("recovered", False)
    return result

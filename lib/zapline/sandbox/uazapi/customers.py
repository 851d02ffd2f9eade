"""Simulated customers (``POST /_sandbox/customers/message``): one request, one ``messages`` webhook.

``{"instance", "from", "name", "kind", "text"?, "reply_to"?, "vote"?, "option_id"?, "file_name"?,
"id"?, "file_base64"?}`` becomes the webhook a customer's phone would cause, built with :mod:`payloads`. ``reply_to``
names a message the customer answers: a quoted reply for ``text``, the target of a ``reaction``,
``edit`` or ``revoke``, the poll of a ``poll_vote`` or the list of a ``list_response``.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from zapline.sandbox.uazapi.instances import Instance, KnownMessage
from zapline.sandbox.uazapi.numbers import recipient
from zapline.sandbox.uazapi.payloads import Uazapi

__all__ = ["KINDS", "CustomerError", "build_customer_message"]

KINDS = (
    "text", "image", "audio", "video", "document", "sticker", "location", "contact", "reaction", "poll_vote",
    "list_response", "edit", "revoke",
)  # fmt: skip
_NEEDS_TARGET = ("reaction", "poll_vote", "list_response", "edit", "revoke")
_MIMETYPES = {
    "image": "image/jpeg",
    "audio": "audio/ogg; codecs=opus",
    "video": "video/mp4",
    "document": "application/pdf",
    "sticker": "image/webp",
}


class CustomerError(ValueError):
    """The request does not describe a message a customer could send."""


@dataclass(frozen=True)
class _Request:
    number: str
    name: str
    kind: str
    text: str
    reply_to: str
    vote: str
    option_id: str
    file_name: str
    message_id: str | None
    data: bytes | None = None  # the file itself (``file_base64``): what /message/download then serves


def _field(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise CustomerError(f"{key} must be a string")
    return str(value)


MAX_FILE = 5 * 1024 * 1024


def _file(body: dict[str, Any]) -> bytes | None:
    raw = _field(body, "file_base64")
    if not raw:
        return None
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise CustomerError("file_base64 must be base64") from None
    if len(data) > MAX_FILE:
        raise CustomerError(f"file_base64 holds at most {MAX_FILE} bytes")
    return data


def _parse(body: dict[str, Any], instance: Instance) -> _Request:
    # Any well-formed number may write, even one the "not on WhatsApp" rule refuses as a recipient:
    # tests use such a customer to see Zapline's replies to it fail.
    found = recipient(_field(body, "from"))
    if not 10 <= len(found.digits) <= 15:
        raise CustomerError("from must be a phone number: 10 to 15 digits with the country code, e.g. 5511987650001")
    kind = _field(body, "kind") or "text"
    if kind not in KINDS:
        raise CustomerError(f"unknown kind {kind!r}; choices are: {', '.join(KINDS)}")
    request = _Request(
        number=found.digits,
        name=_field(body, "name") or instance.contacts.get(found.digits, ""),
        kind=kind,
        text=_field(body, "text"),
        reply_to=_field(body, "reply_to"),
        vote=_field(body, "vote"),
        option_id=_field(body, "option_id"),
        file_name=_field(body, "file_name"),
        message_id=_field(body, "id") or None,
        data=_file(body),
    )
    if kind in _NEEDS_TARGET and not request.reply_to:
        raise CustomerError(f"a {kind} needs reply_to: the messageid it refers to")
    if kind in ("text", "edit") and not request.text:
        raise CustomerError(f"a {kind} needs text")
    if kind in ("poll_vote", "list_response") and not request.vote:
        raise CustomerError(f"a {kind} needs vote: the option text chosen")
    return request


def _check_vote(request: _Request, target: KnownMessage | None) -> None:
    if target is None or request.kind not in ("poll_vote", "list_response"):
        return
    if target.options and request.vote not in target.options:
        raise CustomerError(f"vote must be one of the options of {request.reply_to}: {', '.join(target.options)}")


def _payload(builder: Uazapi, request: _Request, target: KnownMessage | None) -> dict[str, Any]:
    kw: dict[str, Any] = {"contact": request.number, "name": request.name}
    if request.message_id:
        kw["message_id"] = request.message_id
    kind, text, target_id = request.kind, request.text, request.reply_to
    if kind == "text":
        if target_id:
            return builder.quoted_reply(text, target_id, target.text if target else "", **kw)
        return builder.text(text, **kw)
    if kind == "image":
        return builder.image(text, **kw)
    if kind == "audio":
        return builder.audio(ptt=True, **kw)
    if kind == "video":
        return builder.video(**kw)
    if kind == "document":
        content = {"mimetype": "application/pdf", "fileName": request.file_name or "Orçamento.pdf",
                   "fileLength": 120345, "pageCount": 2}  # fmt: skip
        return builder.media("DocumentMessage", "document", text, content, **kw)
    if kind == "sticker":
        return builder.sticker(**kw)
    if kind == "location":
        return builder.location(**kw)
    if kind == "contact":
        return builder.contact_card(**kw)
    if kind == "reaction":
        return builder.reaction(target_id, text or "👍", target_from_me=target.from_me if target else True, **kw)
    if kind == "poll_vote":
        return builder.poll_vote(target_id, request.vote, **kw)
    if kind == "list_response":
        return builder.list_response(target_id, request.vote, request.option_id, **kw)
    if kind == "edit":
        return builder.edited(target_id, text, **kw)
    return builder.deleted(target_id, **kw)


def build_customer_message(instance: Instance, builder: Uazapi, body: Any) -> tuple[dict[str, Any], KnownMessage]:
    """The webhook for the customer's message, and what the simulator remembers of it."""
    if not isinstance(body, dict):
        raise CustomerError('send {"instance", "from", "name", "kind", "text"?, "reply_to"?, "vote"?}')
    request = _parse(body, instance)
    target = instance.find(request.reply_to) if request.reply_to else None
    _check_vote(request, target)
    payload = _payload(builder, request, target)
    message = payload["message"]
    content = message.get("content") if isinstance(message.get("content"), dict) else {}
    known = KnownMessage(
        messageid=message["messageid"],
        contact=request.number,
        from_me=False,
        kind=request.kind,
        text=message.get("text", ""),
        mimetype=str(content.get("mimetype") or _MIMETYPES.get(request.kind, "")),
        file_name=str(content.get("fileName", "")),
        transcript=request.text if request.kind == "audio" else "",
        data=request.data,
    )
    if request.name:
        instance.contacts[request.number] = request.name
    return payload, known

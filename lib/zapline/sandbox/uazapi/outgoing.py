"""The bodies of ``/send/text``, ``/send/media`` and ``/send/menu``, validated into one record.

Errors carry the status and JSON UAZAPI answers: 400 ``{"error": "Missing number or text"}`` and
the like, 400 for a number that is not on WhatsApp, 413 for a file that is too large.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from zapline.sandbox.uazapi.numbers import Recipient, recipient

__all__ = ["MEDIA_TYPES", "MENU_TYPES", "Outgoing", "SendError", "parse_media", "parse_menu", "parse_text"]

MEDIA_TYPES = ("image", "video", "document", "audio", "myaudio", "ptt", "ptv", "sticker")
MENU_TYPES = ("button", "list", "poll", "carousel")
MAX_FILE_BYTES = 16 * 1024 * 1024  # WhatsApp's limit for most media
MAX_POLL_OPTIONS = 12  # WhatsApp's limit

_MIMETYPES = {
    "image": "image/jpeg", "video": "video/mp4", "document": "application/pdf", "audio": "audio/mpeg",
    "myaudio": "audio/ogg; codecs=opus", "ptt": "audio/ogg; codecs=opus", "ptv": "video/mp4",
    "sticker": "image/webp",
}  # fmt: skip
_DOC_MIMETYPES = {
    "pdf": "application/pdf", "txt": "text/plain", "csv": "text/csv", "png": "image/png", "jpg": "image/jpeg",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}  # fmt: skip


class SendError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Outgoing:
    endpoint: str  # /send/text, /send/media or /send/menu
    kind: str  # text, media or menu
    to: Recipient
    text: str
    track_source: str = ""
    track_id: str = ""
    reply_id: str = ""
    delay_ms: int = 0
    is_async: bool = False
    media_type: str = ""  # image, video, document, audio, myaudio, ptt, ptv, sticker
    file: str = ""  # as given: a URL, or base64 (then ``data`` holds the bytes)
    data: bytes | None = None
    mimetype: str = ""
    doc_name: str = ""
    menu_type: str = ""  # button, list, poll, carousel
    choices: list[str] = field(default_factory=list)
    footer_text: str = ""
    list_button: str = ""
    selectable_count: int = 1
    payload: dict[str, Any] = field(default_factory=dict)  # the request, big files elided

    @property
    def file_is_url(self) -> bool:
        return self.file.startswith(("http://", "https://"))


def _str(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise SendError(f"Invalid {key}: must be a string")
    return str(value)


def _common(body: dict[str, Any]) -> dict[str, Any]:
    delay = body.get("delay", 0) or 0
    if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
        raise SendError("Invalid delay: must be milliseconds (a number >= 0)")
    return {
        "track_source": _str(body, "track_source"),
        "track_id": _str(body, "track_id"),
        "reply_id": _str(body, "replyid"),
        "delay_ms": int(delay),
        "is_async": body.get("async") is True,
        "payload": {k: (v if k != "file" or len(str(v)) <= 256 else f"<{len(str(v))} chars>") for k, v in body.items()},
    }


def _to(number: str) -> Recipient:
    found = recipient(number)
    if not found.on_whatsapp:
        raise SendError(f"the number {number} is not on WhatsApp (check it with /chat/check)")
    return found


def parse_text(body: dict[str, Any]) -> Outgoing:
    number, text = _str(body, "number"), _str(body, "text")
    if not number or not text:
        raise SendError("Missing number or text")
    return Outgoing("/send/text", "text", _to(number), text, **_common(body))


def _decode(file: str) -> bytes:
    encoded = file.partition("base64,")[2] if file.startswith("data:") else file
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise SendError("Invalid file: send an http(s) URL or base64 data") from None


def parse_media(body: dict[str, Any]) -> Outgoing:
    number, media_type, file = _str(body, "number"), _str(body, "type"), _str(body, "file")
    if not number or not file:
        raise SendError("Missing number or file")
    if media_type not in MEDIA_TYPES:
        raise SendError(f"Invalid media type: {media_type or '(none)'} (use {', '.join(MEDIA_TYPES)})")
    data = None if file.startswith(("http://", "https://")) else _decode(file)
    if data is not None and len(data) > MAX_FILE_BYTES:
        raise SendError("File too large", 413)
    doc_name = _str(body, "docName")
    mimetype = _str(body, "mimetype")
    if not mimetype and file.startswith("data:"):
        mimetype = file[5:].partition(";")[0]
    if not mimetype and media_type == "document" and "." in doc_name:
        mimetype = _DOC_MIMETYPES.get(doc_name.rsplit(".", 1)[1].lower(), "application/octet-stream")
    mimetype = mimetype or _MIMETYPES[media_type]
    if media_type == "video" and not mimetype.startswith("video/mp4"):
        raise SendError("Unsupported video format: send MP4", 415)
    return Outgoing(
        "/send/media", "media", _to(number), _str(body, "text"), media_type=media_type, file=file, data=data,
        mimetype=mimetype, doc_name=doc_name or ("Documento.pdf" if media_type == "document" else ""),
        **_common(body),
    )  # fmt: skip


def parse_menu(body: dict[str, Any]) -> Outgoing:
    number, menu_type, text = _str(body, "number"), _str(body, "type"), _str(body, "text")
    if not number or not text:
        raise SendError("Missing number or text")
    if menu_type not in MENU_TYPES:
        raise SendError(f"Invalid menu type: {menu_type or '(none)'} (use {', '.join(MENU_TYPES)})")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not all(isinstance(c, str) and c for c in choices):
        raise SendError("Missing choices: send a non-empty array of strings")
    if menu_type == "poll" and not 2 <= len(choices) <= MAX_POLL_OPTIONS:
        raise SendError(f"A poll needs 2 to {MAX_POLL_OPTIONS} choices")
    count = body.get("selectableCount", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= len(choices):
        raise SendError("Invalid selectableCount")
    return Outgoing(
        "/send/menu", "menu", _to(number), text, menu_type=menu_type, choices=list(choices),
        footer_text=_str(body, "footerText"), list_button=_str(body, "listButton"), selectable_count=count,
        **_common(body),
    )  # fmt: skip

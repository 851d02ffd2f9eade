"""``POST /message/download``: a public file link (and base64, transcription) for a known message.

UAZAPI decrypts WhatsApp's CDN media and serves it for ~2 days at a public ``fileURL``. Here the
file is what the send carried when it was base64, else a small deterministic placeholder with the
right magic bytes for its type (not playable media): the same bytes every time for one message.
"""

from __future__ import annotations

import base64
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from zapline.sandbox.uazapi.instances import KnownMessage

__all__ = ["DownloadError", "StoredFile", "answer", "prepare"]

_DEFAULT_MIMETYPES = {
    "image": "image/jpeg",
    "audio": "audio/ogg; codecs=opus",
    "video": "video/mp4",
    "document": "application/pdf",
    "sticker": "image/webp",
}
_EXTENSIONS = {
    "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "audio/ogg": "ogg", "audio/mpeg": "mp3",
    "audio/mp4": "m4a", "video/mp4": "mp4", "application/pdf": "pdf", "text/plain": "txt",
}  # fmt: skip
_DEFAULT_TRANSCRIPT = "Oi, tudo bem? Queria saber o valor e se vocês entregam hoje."

_JPEG = (
    base64.b64decode(
        "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////"
        "////////////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA="
    )
    + b"\xff\xd9"
)


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0\xff\xff\xff"))


def _pdf(label: str) -> bytes:
    text = f"BT /F1 12 Tf 20 40 Td (Zapline sandbox {label}) Tj ET".encode()
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 80]/Contents 4 0 R>>endobj\n"
        + f"4 0 obj<</Length {len(text)}>>stream\n".encode()
        + text
        + b"\nendstream endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )


def _placeholder(mimetype: str, label: str) -> bytes:
    base = mimetype.split(";")[0].strip()
    if base == "image/png":
        return _png()
    if base.startswith("image/webp"):
        return b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"
    if base.startswith("image/"):
        return _JPEG
    if base == "audio/mpeg":
        return b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + b"\x00" * 413
    if base.startswith("audio/"):
        return b"OggS\x00\x02" + b"\x00" * 20 + b"\x01\x13OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00\x00\x00\x00"
    if base.startswith("video/"):
        return struct.pack(">I", 24) + b"ftypisom\x00\x00\x02\x00isomiso2" + struct.pack(">I", 8) + b"free"
    if base == "application/pdf":
        return _pdf(label)
    return f"Zapline sandbox file for message {label}\n".encode()


@dataclass(frozen=True)
class StoredFile:
    name: str  # <messageid>.<ext>
    mimetype: str
    data: bytes


class DownloadError(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def prepare(message: KnownMessage, *, generate_mp3: bool) -> StoredFile:
    """The file ``/message/download`` links to for ``message``."""
    if message.kind not in _DEFAULT_MIMETYPES:
        raise DownloadError(f"Message {message.messageid} has no media to download", 400)
    mimetype = message.mimetype or _DEFAULT_MIMETYPES[message.kind]
    data = message.data if message.data is not None else _placeholder(mimetype, message.messageid)
    if message.kind == "audio" and generate_mp3 and not mimetype.startswith("audio/mpeg"):
        mimetype, data = "audio/mpeg", _placeholder("audio/mpeg", message.messageid)
    extension = _EXTENSIONS.get(mimetype.split(";")[0].strip(), "bin")
    return StoredFile(f"{message.messageid}.{extension}", mimetype, data)


def answer(message: KnownMessage, stored: StoredFile, file_url: str, body: dict[str, Any]) -> dict[str, Any]:
    """The JSON ``/message/download`` answers, as asked by ``return_link``/``return_base64``/``transcribe``."""
    out: dict[str, Any] = {"mimetype": stored.mimetype}
    if body.get("return_link", True):
        out["fileURL"] = file_url
    if body.get("return_base64", False):
        out["base64Data"] = base64.b64encode(stored.data).decode()
    if body.get("transcribe", False) and message.kind == "audio":
        out["transcription"] = message.transcript or _DEFAULT_TRANSCRIPT
    return out

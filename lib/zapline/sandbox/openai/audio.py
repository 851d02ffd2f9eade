"""``POST /v1/audio/transcriptions``: a multipart upload checked, recorded and answered with a transcript.

The audio is not listened to: the transcript is the scripted ``text`` or a sentence naming the
file and its size. ``response_format`` ``json`` (default) and ``text`` are served; ``usage`` bills
an estimated duration of one second per 4,000 bytes (about 32 kbit/s, a WhatsApp voice note).
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message
from typing import Any

from zapline.sandbox.openai.errors import OpenAIError, invalid, missing

__all__ = ["Upload", "parse_multipart", "parse_transcription", "transcription"]

FORMATS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")
MAX_FILE = 25 * 1024 * 1024  # OpenAI's limit for an audio file


@dataclass(frozen=True)
class Upload:
    name: str
    content_type: str
    data: bytes


@dataclass
class TranscriptionRequest:
    model: str
    file: Upload
    language: str | None
    response_format: str
    summary: dict[str, Any]


def parse_multipart(content_type: str, body: bytes) -> dict[str, str | Upload]:
    """The fields of a ``multipart/form-data`` body (files as :class:`Upload`)."""
    header = Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    if header.get_content_type() != "multipart/form-data" or not isinstance(boundary, str) or not boundary:
        raise OpenAIError(400, "Invalid Content-Type header (expected multipart/form-data with a boundary).")
    fields: dict[str, str | Upload] = {}
    for chunk in body.split(b"--" + boundary.encode())[1:]:
        if chunk.startswith(b"--"):
            break  # the closing delimiter
        head, sep, content = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            raise OpenAIError(400, "Could not parse multipart form.")
        part = Message()
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            part[name.strip()] = value.strip()
        field = part.get_param("name", header="content-disposition")
        filename = part.get_param("filename", header="content-disposition")
        data = content.removesuffix(b"\r\n")
        if not isinstance(field, str):
            continue
        if isinstance(filename, str):
            fields[field] = Upload(filename, part.get_content_type(), data)
        else:
            fields[field] = data.decode("utf-8", "replace")
    return fields


def parse_transcription(fields: dict[str, str | Upload]) -> TranscriptionRequest:
    upload = fields.get("file")
    if not isinstance(upload, Upload):
        raise missing("file")
    model = fields.get("model")
    if not isinstance(model, str) or not model:
        raise missing("model")
    extension = upload.name.rpartition(".")[2].lower() if "." in upload.name else ""
    if extension not in FORMATS:
        raise invalid(None, f"Invalid file format. Supported formats: {list(FORMATS)}", None)
    if len(upload.data) > MAX_FILE:
        raise OpenAIError(413, f"Maximum content size limit ({MAX_FILE}) exceeded ({len(upload.data)} bytes read)")
    response_format = fields.get("response_format") or "json"
    if response_format not in ("json", "text"):
        raise invalid(
            "response_format", f"The sandbox OpenAI answers response_format json or text, not {response_format!r}."
        )
    language = fields.get("language")
    language = language if isinstance(language, str) and language else None
    summary = {
        "model": model,
        "file": {"name": upload.name, "bytes": len(upload.data), "mime": upload.content_type},
        "language": language,
        "response_format": response_format,
    }
    return TranscriptionRequest(model, upload, language, str(response_format), summary)


def transcription(request: TranscriptionRequest, answer: dict[str, Any] | None) -> str | dict[str, Any]:
    """The text (``response_format=text``) or the transcription object."""
    scripted = (answer or {}).get("text") or (answer or {}).get("content")
    size = len(request.file.data)
    text = scripted or f"Sandbox transcript of {request.file.name} ({size} bytes)."
    if request.response_format == "text":
        return text + "\n"
    return {"text": text, "usage": {"type": "duration", "seconds": max(1, -(-size // 4000))}}

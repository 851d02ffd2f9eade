"""What the operator API accepts: one pydantic model per request body, with its documented limits.

Limits follow WhatsApp's own: a text message holds at most 4,096 characters and a media caption
1,024. A media URL is fetched by UAZAPI, so it must be http(s) and, outside the sandbox, not point
at loopback, private or link-local addresses (``ZAPLINE_ALLOW_PRIVATE_MEDIA_URLS``).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StrictStr, model_validator

from zapline.config import get_settings
from zapline.outbound import MAX_TEXT_CHARS

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_CAPTION_CHARS",
    "MAX_TEXT_CHARS",
    "FollowupStep",
    "FollowupSteps",
    "SendMessage",
    "SubscriptionRequest",
]

MAX_CAPTION_CHARS = 1024  # and for a media caption
MAX_BODY_BYTES = 64 * 1024  # an operator request never needs more
MediaType = Literal["image", "video", "audio", "ptt", "myaudio", "ptv", "document", "sticker"]
_PRIVATE_NAMES = ("localhost", "localhost.localdomain")
_PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa")


def _public_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL")
    if get_settings().allow_private_media_urls:
        return value
    host = parts.hostname.lower().rstrip(".")
    if host in _PRIVATE_NAMES or host.endswith(_PRIVATE_SUFFIXES):
        raise ValueError(f"host {host!r} is not public")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:  # the legacy spellings an HTTP client still resolves: 2130706433, 127.1, 0x7f.1
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return value  # a name: UAZAPI resolves it
    if not address.is_global or address.is_multicast:
        raise ValueError(f"address {host} is not public (loopback, private, link-local or reserved)")
    return value


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)


class SendMessage(_Body):
    """``{"text"}``, or ``{"media_url", "media_type", "caption"?, "file_name"?}``."""

    text: StrictStr | None = Field(None, min_length=1, max_length=MAX_TEXT_CHARS)
    media_url: Annotated[StrictStr, AfterValidator(_public_http_url)] | None = Field(None, max_length=2048)
    media_type: MediaType = "image"
    caption: StrictStr | None = Field(None, max_length=MAX_CAPTION_CHARS)
    file_name: StrictStr | None = Field(None, min_length=1, max_length=255)

    @model_validator(mode="after")
    def _one_of(self) -> SendMessage:
        if (self.text is None) == (self.media_url is None):
            raise ValueError('send {"text": "..."} or {"media_url": "https://...", "media_type": "image"}')
        if self.text is not None and not self.text.strip():
            raise ValueError("text must not be blank")
        return self

    @property
    def kind(self) -> str:
        if self.media_url is None:
            return "text"
        kinds = {"ptt": "audio", "myaudio": "audio", "ptv": "video"}
        return kinds.get(self.media_type, str(self.media_type))


class FollowupStep(_Body):
    after_seconds: StrictInt = Field(gt=0, le=90 * 24 * 3600, description="seconds after the previous step")
    text: StrictStr = Field(min_length=1, max_length=MAX_TEXT_CHARS, description="{name}: the lead's first name")


class FollowupSteps(_Body):
    steps: list[FollowupStep] = Field(max_length=10)

    @model_validator(mode="after")
    def _increasing(self) -> FollowupSteps:
        delays = [s.after_seconds for s in self.steps]
        if delays != sorted(set(delays)):
            raise ValueError("after_seconds must increase from one step to the next")
        if any(not s.text.strip() for s in self.steps):
            raise ValueError("each step needs a non-blank text")
        return self


class SubscriptionRequest(_Body):
    conversation_id: StrictStr = Field(max_length=64)

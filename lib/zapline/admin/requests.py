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

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    model_validator,
)

from zapline.campaigns.templates import Template
from zapline.campaigns.timing import parse_clock
from zapline.config import get_settings
from zapline.outbound import MAX_CAPTION_CHARS, MAX_TEXT_CHARS, media_kind

__all__ = [
    "CAMPAIGN_BODY_BYTES",
    "MAX_BODY_BYTES",
    "MAX_RECIPIENTS",
    "AudienceFilter",
    "CampaignMedia",
    "CampaignRecipient",
    "CreateCampaign",
    "MAX_CAPTION_CHARS",
    "MAX_TEXT_CHARS",
    "FollowupStep",
    "FollowupSteps",
    "RetentionSettings",
    "SendMessage",
    "SendWindow",
    "SubscriptionRequest",
]

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
        return media_kind(str(self.media_type))


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


class RetentionSettings(_Body):
    """``PUT /api/v1/retention``: how long the organisation keeps messages."""

    message_days: StrictInt = Field(ge=7, le=3650, description="days a message is kept (by its WhatsApp time)")


class KnowledgeDecision(_Body):
    answer: str | None = Field(None, min_length=1, max_length=2000, description="a corrected answer to approve instead")


# --- campaigns (admin/campaigns.py; campaigns/templates.py says what a template may hold) ---------

MAX_RECIPIENTS = 10_000
CAMPAIGN_BODY_BYTES = 4 * 1024 * 1024  # POST /api/v1/campaigns only: 10,000 recipients with names and fields
FieldKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,39}$")]
Tag = Annotated[StrictStr, StringConstraints(min_length=1, max_length=40)]


def _template(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    Template.parse(value)  # a TemplateError (a ValueError) names the syntax it cannot read
    return value


def _clock(value: str) -> str:
    parse_clock(value)
    return value


class CampaignMedia(_Body):
    url: Annotated[StrictStr, AfterValidator(_public_http_url)] = Field(max_length=2048)
    media_type: MediaType = "image"
    file_name: StrictStr | None = Field(None, min_length=1, max_length=255)


class CampaignRecipient(_Body):
    phone: StrictStr = Field(
        min_length=1, max_length=64, description="E.164, or national in the organisation's country"
    )
    name: StrictStr | None = Field(None, max_length=100)
    fields: dict[FieldKey, Annotated[StrictStr, StringConstraints(max_length=500)]] | None = Field(None, max_length=30)


class AudienceFilter(_Body):
    """Leads with any / all of these tags, active (a message either way) within N days or not for N
    days, who ever replied (or never did). Every criterion given must hold; ``{}`` is every lead."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    tags_any: list[Tag] | None = Field(None, max_length=20)
    tags_all: list[Tag] | None = Field(None, max_length=20)
    active_within_days: StrictInt | None = Field(None, ge=1, le=3650)
    inactive_for_days: StrictInt | None = Field(None, ge=1, le=3650)
    has_replied: StrictBool | None = None


class SendWindow(_Body):
    """Local times of day (``HH:MM``, the organisation's timezone); ``from`` after ``to`` spans midnight."""

    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True, populate_by_name=True)

    start: Annotated[StrictStr, AfterValidator(_clock)] = Field(alias="from", max_length=5, examples=["09:00"])
    end: Annotated[StrictStr, AfterValidator(_clock)] = Field(alias="to", max_length=5, examples=["20:00"])

    @model_validator(mode="after")
    def _not_empty(self) -> SendWindow:
        if self.start == self.end:
            raise ValueError("window: from and to must differ")
        return self


class CreateCampaign(_Body):
    """A campaign: ``recipients`` (at most 10,000) or a ``filter`` over the organisation's leads."""

    name: StrictStr = Field(min_length=1, max_length=100)
    instance_id: StrictStr = Field(pattern=r"^inst_[0-9a-z]{10}$", description="the instance that sends it")
    template: Annotated[StrictStr, AfterValidator(_template)] = Field(
        min_length=1, max_length=MAX_TEXT_CHARS, description="{{name}}, {{first_name}}, {{<field>}}, {{name|fallback}}"
    )
    media: CampaignMedia | None = None
    recipients: list[CampaignRecipient] | None = Field(None, min_length=1, max_length=MAX_RECIPIENTS)
    filter: AudienceFilter | None = None
    start_at: StrictStr | None = Field(
        None, max_length=40, description="local date and time in the organisation's timezone, e.g. 2026-12-01T09:00"
    )
    window: SendWindow | None = None

    @model_validator(mode="after")
    def _audience(self) -> CreateCampaign:
        if (self.recipients is None) == (self.filter is None):
            raise ValueError('give the audience as "recipients": [{"phone"}, ...] or as a "filter": {...}, not both')
        if self.media is not None and len(self.template) > MAX_CAPTION_CHARS:
            raise ValueError(f"template: a media caption holds at most {MAX_CAPTION_CHARS} characters")
        return self

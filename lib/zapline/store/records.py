"""Typed records as stored and as the operator API returns them."""

from __future__ import annotations

import json
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = ["Conversation", "Lead", "Message", "Page"]


def _none_if_empty(value: Any) -> Any:
    return None if value == "" else value


def _flag(value: Any) -> Any:
    return value in (True, 1, "1", "true", "True")


Opt = Annotated[str | None, BeforeValidator(_none_if_empty)]
OptInt = Annotated[int | None, BeforeValidator(_none_if_empty)]
Flag = Annotated[bool, BeforeValidator(_flag)]


def _json_list(value: Any) -> Any:
    if value in (None, "", "{}"):  # "{}": an empty list as Lua's cjson writes it
        return []
    return json.loads(value) if isinstance(value, str) else value


def _json_fields(value: Any) -> Any:
    if value in (None, "", "[]"):
        return {}
    loaded = json.loads(value) if isinstance(value, str) else value
    return dict(sorted(loaded.items())) if isinstance(loaded, dict) else loaded


JsonList = Annotated[list[str], BeforeValidator(_json_list)]
JsonFields = Annotated[dict[str, str], BeforeValidator(_json_fields)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Lead(_Record):
    id: str
    phone: Opt = Field(None, description="E.164, e.g. +5511999990001; None when WhatsApp only gave a LID")
    lid: Opt = None
    name: Opt = None
    instance_id: Opt = None
    chat_jid: Opt = None
    created_at: int
    opted_out: Flag = False
    email: Opt = None
    birthday: Opt = Field(None, description="YYYY-MM-DD, or --MM-DD when the year is unknown")
    tags: JsonList = Field(default_factory=list, description="stored as a JSON list in field tags")
    fields: JsonFields = Field(default_factory=dict, description="custom fields, stored as JSON in field fields")
    labels: JsonList = Field(default_factory=list, description="the chat's WhatsApp labels (contact sync)")
    profile_picture: Opt = Field(None, description="URL of the WhatsApp profile picture (contact sync)")
    edited: JsonList = Field(
        default_factory=list, description="fields an operator set (fields.<key>: a custom field): AI, sync skip them"
    )
    updated_at: OptInt = None


class Conversation(_Record):
    id: str
    lead_id: Opt = None
    instance_id: str
    chat_jid: str
    is_group: Flag = False
    status: str = Field(description="open, closed or awaiting_nps")
    title: Opt = None
    unread: int = 0
    message_count: int = 0
    opened_at: int
    closed_at: OptInt = None
    last_message_at: OptInt = None
    last_inbound_at: OptInt = None
    last_outbound_at: OptInt = None
    last_direction: Opt = None
    preview: Opt = None
    nps_score: OptInt = None
    nps_state: Opt = Field(None, description="scheduled, sending, sent, answered, expired or skipped")
    ai_paused: Opt = Field(None, description="why the AI stays out: operator, phone, handoff, takeover; unset: answers")
    ai_summary: Opt = Field(None, description="the AI's summary of the closed conversation")
    ai_outcome: Opt = Field(None, description="sale, no_sale, resolved, unresolved or other (the AI's reading)")
    ai_intent: Opt = Field(None, description="what the lead wanted, in a few words (the AI's reading)")


class Message(_Record):
    id: str
    conversation_id: str
    lead_id: str | None = None
    instance_id: str
    wa_id: str | None = None
    direction: str = Field(description="in (from the lead) or out (from us)")
    kind: str
    text: str = ""
    timestamp: int = Field(description="WhatsApp's timestamp, ms")
    status: str = Field(description="received, pending, sent, delivered, read, played or failed")
    sent_by_api: bool = False
    media: dict[str, Any] | None = None
    quoted: str | None = None
    target: str | None = None
    vote: str | None = None
    option_id: str | None = None
    sender_phone: str | None = None
    sender_name: str | None = None
    reactions: dict[str, str] | None = None
    tally: dict[str, int] | None = Field(None, description="a poll: votes per option, each voter's latest vote")
    edits: list[dict[str, Any]] | None = None
    edited_at: int | None = None
    deleted: bool = False
    error: str | None = None
    author: str | None = Field(
        None, description="who wrote an outbound message: ai, nps, campaign, automation; unset: operator or phone"
    )
    campaign_id: str | None = Field(None, description="the campaign an outbound message (author campaign) belongs to")
    ai: dict[str, Any] | None = Field(
        None,
        description="what the AI read in it: transcript (voice notes), analysis (images: document type, boleto "
        "fields and their check), document (PDFs: pages, text layer, summary, fields)",
    )


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(None, description="pass as ?cursor= for the next page; None at the end")

"""Typed records as stored and as the operator API returns them."""

from __future__ import annotations

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


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(None, description="pass as ?cursor= for the next page; None at the end")

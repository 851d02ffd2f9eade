"""UAZAPI webhook payloads as typed models, parsed leniently where UAZAPI is loose.

Real traffic is a flat envelope (``EventType``, ``token``, ``owner``, ``instanceName``, ``BaseUrl``)
plus ``chat``/``message`` (messages), ``event``/``state`` (receipts), ``instance`` (connection) or
``event`` (groups). Booleans sometimes arrive as ``"True"``/``"False"``, receipt timestamps as
strings in seconds, group ones as ISO-8601, message ones as integers in milliseconds; every field we
do not use is ignored.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from zapline.errors import InvalidPayload
from zapline.jsonsafe import JSONTooDeep, loads_limited

__all__ = [
    "ChatInfo",
    "ConnectionEvent",
    "Envelope",
    "GroupEvent",
    "GroupInfo",
    "MessageInfo",
    "MessagesEvent",
    "Receipt",
    "ReceiptEvent",
    "UazapiEvent",
    "parse_event",
]


def _bool(value: Any) -> Any:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no", ""):
            return False
    return False if value is None else value


# The timestamps we accept: from WhatsApp's launch to a day ahead of our clock. Outside that, a
# value is junk (Infinity, 1e400, a year-5000 or negative one) that would break dates and order.
EARLIEST_MS = 1_230_768_000_000  # 2009-01-01T00:00:00Z
AHEAD_MS = 86_400_000


def _epoch_ms(value: Any) -> Any:
    """Seconds or milliseconds, as a number or a numeric string, to milliseconds; 0 when absent.

    An ISO-8601 string (``groups`` events) is read too. Anything else, or a time outside
    2009-01-01 .. now + 1 day, is refused (``ValueError``: pydantic names the field).
    """
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise ValueError("a timestamp is a number, not a boolean")
    if not isinstance(value, int | float | str):
        return value  # let pydantic report it
    if isinstance(value, str):
        value = _number_or_iso(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("timestamp is not a finite number")
    if value == 0:
        return 0
    ms = value * 1000 if 0 < value < 100_000_000_000 else value
    if not EARLIEST_MS <= ms <= time.time() * 1000 + AHEAD_MS:
        raise ValueError("timestamp is outside 2009-01-01 .. now + 1 day")
    return int(ms)


def _number_or_iso(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("not a timestamp (epoch seconds, milliseconds or ISO-8601)") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _id_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


Bool = Annotated[bool, BeforeValidator(_bool)]
EpochMs = Annotated[int, BeforeValidator(_epoch_ms)]


class _Model(BaseModel):
    """Lenient input: a JSON ``null`` means "absent" (the field's default), as UAZAPI uses it."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _nulls_are_absent(cls, data: Any) -> Any:
        return {k: v for k, v in data.items() if v is not None} if isinstance(data, dict) else data


class Envelope(_Model):
    event_type: str = Field(alias="EventType", min_length=1)
    token: str = ""
    owner: str = ""
    instance_name: str = Field("", alias="instanceName")
    base_url: str = Field("", alias="BaseUrl")


class ChatInfo(_Model):
    wa_chatid: str = ""
    wa_chatlid: str = ""
    name: str = ""
    wa_name: str = ""
    wa_contact_name: str = Field("", alias="wa_contactName")
    phone: str = ""
    wa_is_group: Bool = Field(False, alias="wa_isGroup")


class MessageInfo(_Model):
    id: str = ""
    messageid: str = Field(min_length=1)
    chatid: str = ""
    chatlid: str = ""
    from_me: Bool = Field(False, alias="fromMe")
    is_group: Bool = Field(False, alias="isGroup")
    group_name: str = Field("", alias="groupName")
    message_type: str = Field("", alias="messageType")
    type: str = ""
    media_type: str = Field("", alias="mediaType")
    timestamp: EpochMs = Field(0, alias="messageTimestamp")
    text: str = ""
    content: Any = None
    sender: str = ""
    sender_pn: str = ""
    sender_lid: str = ""
    sender_name: str = Field("", alias="senderName")
    quoted: str = ""
    reaction: str = ""
    edited: str = ""
    vote: str = ""
    button_or_list_id: str = Field("", alias="buttonOrListid")
    convert_options: str = Field("", alias="convertOptions")
    track_id: str = ""
    track_source: str = ""
    was_sent_by_api: Bool = Field(False, alias="wasSentByApi")
    source: str = ""


class MessagesEvent(Envelope):
    chat: ChatInfo | None = None
    message: MessageInfo


class Receipt(_Model):
    message_ids: Annotated[list[str], BeforeValidator(_id_list)] = Field(default_factory=list, alias="MessageIDs")
    chat: str = Field("", alias="Chat")
    sender: str = Field("", alias="Sender")
    is_from_me: Bool = Field(False, alias="IsFromMe")
    is_group: Bool = Field(False, alias="IsGroup")
    timestamp: EpochMs = Field(0, alias="Timestamp")
    type: str = Field("", alias="Type")


class ReceiptEvent(Envelope):
    event: Receipt
    type: str = ""
    state: str = ""

    @property
    def status(self) -> str | None:
        """The delivery status this receipt reports: delivered, read or played (None: ignore)."""
        if not self.event.message_ids:  # an update about something other than messages we know
            return None
        for candidate in (self.state, self.event.type, self.type):
            status = _RECEIPT_STATUS.get(candidate.strip().lower())
            if status:
                return status
        return None


_RECEIPT_STATUS = {
    "sent": "sent",
    "server": "sent",
    "delivered": "delivered",
    "deliveredreceipt": "delivered",
    "read": "read",
    "readself": "read",
    "read-self": "read",
    "played": "played",
    "playedself": "played",
}


class InstanceState(_Model):
    name: str = ""
    status: str = ""
    last_disconnect: str = Field("", alias="lastDisconnect")
    last_disconnect_reason: str = Field("", alias="lastDisconnectReason")


class ConnectionEvent(Envelope):
    instance: InstanceState | None = None
    type: str = ""


JidList = Annotated[list[str], BeforeValidator(_id_list)]


class GroupInfo(_Model):
    """whatsmeow's ``events.GroupInfo``: one change to a group (members, name, settings...)."""

    jid: str = Field("", alias="JID")
    sender: str = Field("", alias="Sender")
    sender_pn: str = Field("", alias="SenderPN")
    timestamp: EpochMs = Field(0, alias="Timestamp")  # ISO-8601 here, unlike every other event
    join: JidList = Field(default_factory=list, alias="Join")
    leave: JidList = Field(default_factory=list, alias="Leave")
    join_reason: str = Field("", alias="JoinReason")
    participant_version: str = Field("", alias="ParticipantVersionID")


class GroupEvent(Envelope):
    event: GroupInfo
    type: str = ""

    @property
    def change_id(self) -> str:
        """A stable id for this change (it has no WhatsApp id): the same webhook twice, the same id."""
        e = self.event
        parts = [e.jid, e.participant_version, str(e.timestamp), ",".join(e.join), "|", ",".join(e.leave)]
        return "group-" + hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24].upper()


UazapiEvent = MessagesEvent | ReceiptEvent | ConnectionEvent | GroupEvent | Envelope

_MODELS: dict[str, type[Envelope]] = {
    "messages": MessagesEvent,
    "messages_update": ReceiptEvent,
    "connection": ConnectionEvent,
    "groups": GroupEvent,
}


def parse_event(body: bytes) -> UazapiEvent:
    """The typed event in a webhook body; ``InvalidPayload`` naming the field when it is malformed.

    Unknown ``EventType`` values parse as a bare :class:`Envelope`: acknowledged, never failed.
    """
    try:
        data = loads_limited(body)
    except JSONTooDeep as exc:
        raise InvalidPayload(f"body is {exc}: not a UAZAPI webhook", field="body") from None
    except ValueError as exc:
        raise InvalidPayload(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidPayload("body must be a JSON object")
    event_type = data.get("EventType")
    if not isinstance(event_type, str) or not event_type:
        raise InvalidPayload("EventType is missing: not a UAZAPI webhook", field="EventType")
    model = _MODELS.get(event_type, Envelope)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        what = f"{event_type} event" if event_type in _MODELS else "webhook"  # never echo an unknown type
        raise InvalidPayload.from_validation(what, exc) from None

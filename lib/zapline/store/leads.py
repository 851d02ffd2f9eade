"""Leads' profile fields, who may change them, and reads over every lead of an organisation.

Three sources change a lead (:func:`update_lead`): an ``operator`` (the API), the ``ai`` and the
contact ``sync``. A field an operator set joins the lead's ``edited`` list, and from then on the AI
and the sync leave it alone (``fields.<key>`` for one custom field): what a person typed wins over
what a model guessed or WhatsApp says. The AI's tags join the lead's rather than replace them.
One script applies a change atomically and writes nothing when no value changes.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr, StringConstraints

from zapline.clients import redis_client
from zapline.errors import InvalidPayload, RecordMissing
from zapline.store.clock import now_ms
from zapline.store.keys import OrgKeys
from zapline.store.records import Lead
from zapline.store.scripts import Script, run_redis, script_json

__all__ = [
    "BIRTHDAY",
    "Activity",
    "LeadChanges",
    "LeadUpdate",
    "Source",
    "apply_lead_changes",
    "iter_leads",
    "lead_activity",
    "update_lead",
]

Source = Literal["operator", "ai", "sync"]

MAX_TAGS = 20  # as leads.lua's MAX_TAGS
MAX_FIELDS = 30  # as leads.lua's MAX_FIELDS
MAX_CONVERSATIONS_READ = 50  # a lead's latest conversations lead_activity reads
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")
BIRTHDAY = re.compile(r"^(\d{4}|-)-(\d{2})-(\d{2})$")  # YYYY-MM-DD, or --MM-DD without the year


def _stripped(value: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise ValueError("must not be blank")
    return value


def _email(value: str) -> str:
    value = value.strip()
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("must be an email address such as ana@example.com")
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


def _birthday(value: str) -> str:
    """``YYYY-MM-DD`` or ``--MM-DD`` (year unknown), a day that exists (29 February without a year)."""
    match = BIRTHDAY.match(value)
    if not match:
        raise ValueError("must be YYYY-MM-DD, or --MM-DD when the year is unknown")
    known = match.group(1) != "-"
    year = int(match.group(1)) if known else 2000  # a leap year: --02-29 exists
    try:
        date(year, int(match.group(2)), int(match.group(3)))
    except ValueError:
        raise ValueError(f"{value} is not a real date") from None
    if known and not 1900 <= year <= date.today().year:
        raise ValueError("the year must be between 1900 and this year")
    return value


def _http_url(value: str) -> str:
    if not value.startswith(("https://", "http://")):
        raise ValueError("must be an http(s) URL")
    return value


Name = Annotated[StrictStr, StringConstraints(max_length=100), AfterValidator(_stripped)]
Tag = Annotated[StrictStr, StringConstraints(max_length=40), AfterValidator(_stripped)]
Label = Annotated[StrictStr, StringConstraints(max_length=60), AfterValidator(_stripped)]
FieldKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
FieldValue = Annotated[StrictStr, StringConstraints(max_length=200)]


def _unique(values: list[str] | None) -> list[str] | None:
    return None if values is None else list(dict.fromkeys(values))


class LeadChanges(BaseModel):
    """The fields to change; a field left out stays as it is, ``null`` clears it. ``fields`` changes
    the named custom fields only (``null`` as a value removes that one)."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    name: Name | None = None
    email: Annotated[StrictStr, AfterValidator(_email)] | None = Field(None, max_length=254)
    birthday: Annotated[StrictStr, AfterValidator(_birthday)] | None = Field(
        None, max_length=10, description="YYYY-MM-DD, or --MM-DD when the year is unknown"
    )
    tags: Annotated[list[Tag], AfterValidator(_unique)] | None = Field(None, max_length=MAX_TAGS)
    fields: dict[FieldKey, FieldValue | None] | None = Field(None, max_length=MAX_FIELDS)
    labels: Annotated[list[Label], AfterValidator(_unique)] | None = Field(None, max_length=50)
    profile_picture: Annotated[StrictStr, AfterValidator(_http_url)] | None = Field(None, max_length=2048)


@dataclass(frozen=True)
class LeadUpdate:
    lead: Lead
    changed: list[str]  # the fields whose value changed: empty when the update wrote nothing


_SCALARS = ("name", "email", "birthday", "profile_picture")


def _script_args(changes: LeadChanges) -> dict[str, Any]:
    given = changes.model_fields_set
    args: dict[str, Any] = {"set": {name: getattr(changes, name) or "" for name in _SCALARS if name in given}}
    for name in ("tags", "labels"):
        if name in given:
            args[name] = getattr(changes, name) or []
    if "fields" in given:
        if changes.fields is None:
            args["fields_clear"] = True
        else:
            args["fields_set"] = [[k, v] for k, v in changes.fields.items() if v is not None]
            args["fields_del"] = [k for k, v in changes.fields.items() if v is None]
    return args


async def apply_lead_changes(org_id: str, lead_id: str, changes: LeadChanges, *, source: Source) -> LeadUpdate:
    """:func:`update_lead`, also saying which fields changed."""
    payload = {"lead_id": lead_id, "source": source, "now": now_ms(), **_script_args(changes)}
    raw = await Script.load("leads").run([OrgKeys(org_id).org], ["update", script_json(payload)])
    result: dict[str, Any] = json.loads(raw)
    if result.get("error") == "no_lead":
        raise RecordMissing("lead", lead_id, org=org_id)
    if result.get("error") == "too_many_fields":
        raise InvalidPayload(f"a lead holds at most {MAX_FIELDS} custom fields", field="fields", org=org_id)
    if result.get("error"):
        raise InvalidPayload(f"lead update refused: {result['error']}", org=org_id)
    changed = result.get("changed") or []
    return LeadUpdate(Lead.model_validate(result["lead"]), list(changed) if isinstance(changed, list) else [])


async def update_lead(org_id: str, lead_id: str, changes: LeadChanges, *, source: Source) -> Lead:
    """Apply the given fields of ``changes`` to the lead, atomically, and answer the lead.

    ``operator``: its fields join ``edited``. ``ai`` / ``sync``: fields in ``edited`` are left
    alone; the AI's tags are added to the lead's (at most 20). ``RecordMissing`` for no such lead.
    """
    return (await apply_lead_changes(org_id, lead_id, changes, source=source)).lead


async def iter_leads(org_id: str, *, batch: int = 200) -> AsyncIterator[list[Lead]]:
    """Every lead of the organisation, ``batch`` at a time (HSCAN of the lead index, then one pipelined
    HGETALL per batch). A lead changed meanwhile may show either version, as HSCAN promises."""
    redis = redis_client()
    keys = OrgKeys(org_id)
    seen: set[str] = set()  # a lead is indexed by its phone and by its LID
    pending: list[str] = []
    cursor = 0
    while True:
        cursor, page = await run_redis(redis.hscan(keys.lead_index, cursor, count=batch))
        for lead_id in page.values():
            if lead_id not in seen:
                seen.add(lead_id)
                pending.append(lead_id)
        while len(pending) >= batch or (cursor == 0 and pending):
            chunk, pending = pending[:batch], pending[batch:]
            leads = await _load(keys, chunk)
            if leads:
                yield leads
        if cursor == 0:
            return


async def _load(keys: OrgKeys, lead_ids: list[str]) -> list[Lead]:
    pipe = redis_client().pipeline()
    for lead_id in lead_ids:
        pipe.hgetall(keys.lead(lead_id))
    records = await run_redis(pipe.exec())
    return [Lead.model_validate(record) for record in records if record]


@dataclass(frozen=True)
class Activity:
    last_inbound_at: int | None = None  # ms: the lead's latest message to us
    last_outbound_at: int | None = None  # ms: our latest message to the lead
    replied: bool = False  # the lead ever wrote


async def lead_activity(org_id: str, lead_ids: Iterable[str]) -> dict[str, Activity]:
    """Each lead's latest messages either way, over its conversations (two pipelined round trips).
    An unknown lead, or one without a conversation, has an empty ``Activity``."""
    ids = list(dict.fromkeys(lead_ids))
    if not ids:
        return {}
    keys = OrgKeys(org_id)
    redis = redis_client()
    pipe = redis.pipeline()
    for lead_id in ids:
        pipe.zrange(keys.lead_conversations(lead_id), -MAX_CONVERSATIONS_READ, -1)
    conversations: list[list[str]] = await run_redis(pipe.exec())
    pairs = [(lead_id, conv_id) for lead_id, convs in zip(ids, conversations, strict=True) for conv_id in convs]
    activity = dict.fromkeys(ids, Activity())
    if not pairs:
        return activity
    pipe = redis.pipeline()
    for _, conv_id in pairs:
        pipe.hmget(keys.conversation(conv_id), "last_inbound_at", "last_outbound_at")
    times: list[list[str | None]] = await run_redis(pipe.exec())
    for (lead_id, _), (inbound, outbound) in zip(pairs, times, strict=True):
        seen = activity[lead_id]
        last_in = _later(seen.last_inbound_at, inbound)
        activity[lead_id] = Activity(last_in, _later(seen.last_outbound_at, outbound), last_in is not None)
    return activity


def _later(current: int | None, raw: str | None) -> int | None:
    value = int(raw) if raw else None
    if value is None:
        return current
    return value if current is None else max(current, value)

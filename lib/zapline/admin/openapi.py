"""The operator API's OpenAPI 3.1 document (``GET /api/v1/openapi.json``), built from the pydantic
models that validate its requests and shape its answers.

Each route of ``ROUTES`` (``admin/api.py``) has one :class:`Operation` here, keyed by (method, path):
its summary, body and answer models, and its parameters with the limits the handlers enforce. Tags
and the 403 come from the route's role. A route without an entry fails :func:`document`, and
``tests/openapi`` (CI) with it; ``tests/openapi`` also runs schemathesis against a served API, so a
model that no longer matches its handler's answers fails too.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from zapline import __version__, qstash
from zapline.admin import api, automations, keys, operations
from zapline.admin import campaigns as campaign_api
from zapline.admin import responses as out
from zapline.admin.requests import (
    CreateCampaign,
    FollowupSteps,
    KnowledgeDecision,
    RetentionSettings,
    SendMessage,
    SubscriptionRequest,
)
from zapline.ai.settings import AiSettings
from zapline.store import leads
from zapline.store.records import Conversation, Lead, Message, Page

__all__ = ["OPERATIONS", "PATH", "Operation", "Param", "document", "missing"]

PATH = "/api/v1/openapi.json"
RouteSpec = tuple[str, Callable[..., Awaitable[Any]], str, str]  # as ROUTES has them: (path, handler, method, role)
_REF = "#/components/schemas/{model}"


@dataclass(frozen=True)
class Param:
    name: str
    where: Literal["query", "path", "header"]
    schema: dict[str, Any]
    description: str
    required: bool = False

    def render(self) -> dict[str, Any]:
        return {"name": self.name, "in": self.where, "required": self.required or self.where == "path",
                "description": self.description, "schema": self.schema}  # fmt: skip


@dataclass(frozen=True)
class Operation:
    summary: str
    answer: type[BaseModel] | None  # None: Prometheus' text format
    body: type[BaseModel] | None = None
    params: tuple[Param, ...] = ()
    errors: frozenset[int] = frozenset()  # beyond those every route may answer and those its inputs imply


def _path_id(name: str, pattern: str, what: str) -> Param:
    return Param(name, "path", {"type": "string", "pattern": pattern}, f"a {what} id as this API issued it")


CONVERSATION = _path_id("conversation_id", api._IDS["conversation_id"].pattern, "conversation")
LEAD = _path_id("lead_id", api._IDS["lead_id"].pattern, "lead")
DLQ = _path_id("dlq_id", operations._ID.pattern, "dead letter")
KEY = _path_id("key_id", keys.KEY_ID.pattern, "API key")
CAMPAIGN = _path_id("campaign_id", campaign_api.CAMPAIGN_ID.pattern, "campaign")
LIMIT = Param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}, "page size")
CURSOR = Param("cursor", "query", {"type": "string", "maxLength": 256}, "the previous page's next_cursor")
_DAY = r"^\d{4}-\d{2}-\d{2}$"
_DATE = {"type": "string", "format": "date", "pattern": _DAY}
DAY = Param("day", "query", _DATE, "YYYY-MM-DD; default: today in the organisation's timezone")
_PHONE = {"type": "string", "minLength": 1, "maxLength": 64}
PHONE = Param("phone", "query", _PHONE, "any spelling; a national number is read in the organisation's country", True)
_IDEMPOTENCY = {"type": "string", "minLength": 1, "maxLength": 255}
IDEMPOTENCY_KEY = Param("Idempotency-Key", "header", _IDEMPOTENCY, "the same key twice is one message, sent once")
_INSTANT = {"type": "string", "pattern": r"^(\d{4}-\d{2}-\d{2}|\d{1,15})$"}
DEAD_LETTER_FILTERS = (
    Param("job", "query", {"type": "string", "enum": list(operations.JOB_NAMES)}, "only this job kind"),
    Param("reason", "query", {"type": "string", "maxLength": 200}, "a substring of the reason"),
    Param("since", "query", _INSTANT, "YYYY-MM-DD (the organisation's timezone, inclusive) or epoch ms"),
    Param("until", "query", _INSTANT, "YYYY-MM-DD (the organisation's timezone, inclusive) or epoch ms"),
)
KNOWLEDGE = _path_id("entry_id", r"^kn_[0-9a-f]{12}$", "knowledge entry")
KNOWLEDGE_STATUS = Param("status", "query", {"type": "string", "enum": ["pending", "approved", "rejected"]}, "filter")
LANE = Param("lane", "path", {"type": "string", "enum": list(qstash.LANES)}, "a send lane")
SCHEDULE = Param("name", "path", {"type": "string", "pattern": r"^[a-z][a-z0-9-]{0,40}$"}, "a declared schedule")
RANGE = (
    Param("from", "query", _DATE, "the first local day, YYYY-MM-DD", required=True),
    Param("to", "query", _DATE, "the last local day (at most 92 days on); default: from"),
)

V1 = "/api/v1"
OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", f"{V1}/conversations"): Operation(
        "Conversations, last activity first", Page[Conversation], params=(LIMIT, CURSOR)
    ),
    ("GET", f"{V1}/conversations/{{conversation_id}}"): Operation(
        "One conversation", Conversation, params=(CONVERSATION,)
    ),
    ("GET", f"{V1}/conversations/{{conversation_id}}/messages"): Operation(
        "A conversation's messages, in WhatsApp order", Page[Message], params=(CONVERSATION, LIMIT, CURSOR)
    ),
    ("POST", f"{V1}/conversations/{{conversation_id}}/messages"): Operation(
        "Send a reply through the realtime lane",
        out.SentMessage,
        SendMessage,
        (CONVERSATION, IDEMPOTENCY_KEY),
        errors=frozenset({409}),
    ),  # fmt: skip
    ("POST", f"{V1}/conversations/{{conversation_id}}/close"): Operation(
        "Close it and schedule its NPS survey", out.ClosedConversation, params=(CONVERSATION,), errors=frozenset({409})
    ),
    ("GET", f"{V1}/leads"): Operation("A lead by its phone", Lead, params=(PHONE,), errors=frozenset({404})),
    ("GET", f"{V1}/leads/{{lead_id}}"): Operation("One lead", Lead, params=(LEAD,)),
    ("PATCH", f"{V1}/leads/{{lead_id}}"): Operation(
        "Change a lead's profile; what an operator sets, the AI and the sync leave alone",
        Lead,
        leads.LeadChanges,
        (LEAD,),
    ),  # fmt: skip
    ("POST", f"{V1}/leads/{{lead_id}}/opt-out"): Operation("No more messages to this lead", Lead, params=(LEAD,)),
    ("GET", f"{V1}/followups"): Operation("The organisation's follow-up steps", FollowupSteps),
    ("PUT", f"{V1}/followups"): Operation("Replace the follow-up steps", FollowupSteps, FollowupSteps),
    ("GET", f"{V1}/stats/daily"): Operation("One day's counters and NPS", out.DailyStats, params=(DAY,)),
    ("GET", f"{V1}/dead-letters"): Operation(
        "Dead letters, newest first", out.DeadLetterList, params=(*DEAD_LETTER_FILTERS, LIMIT)
    ),
    ("POST", f"{V1}/dead-letters/retry"): Operation(
        "Retry dead letters by id or by job kind", out.BulkRetry, operations.RetryRequest
    ),
    ("POST", f"{V1}/dead-letters/clean"): Operation(
        "Delete older dead letters", out.CleanedDeadLetters, operations.CleanRequest
    ),
    ("POST", f"{V1}/dead-letters/{{dlq_id}}/retry"): Operation(
        "QStash delivers it again", out.RetriedDeadLetter, params=(DLQ,), errors=frozenset({409})
    ),
    ("DELETE", f"{V1}/dead-letters/{{dlq_id}}"): Operation(
        "Delete it, from QStash's DLQ too", out.DeletedDeadLetter, params=(DLQ,), errors=frozenset({409})
    ),
    ("POST", f"{V1}/realtime/token"): Operation("A Centrifugo connection token for the inbox", out.RealtimeToken),
    ("POST", f"{V1}/realtime/subscription"): Operation(
        "A subscription token for a conversation's channel",
        out.SubscriptionToken,
        SubscriptionRequest,
        errors=frozenset({404}),
    ),  # fmt: skip
    ("GET", f"{V1}/keys"): Operation("Every API key, by prefix", out.KeyList),
    ("POST", f"{V1}/keys"): Operation("Create a key (shown once)", out.IssuedKey, keys.CreateKey),
    ("POST", f"{V1}/keys/{{key_id}}/rotate"): Operation(
        "A new secret (shown once); the old one stops", out.IssuedKey, params=(KEY,), errors=frozenset({409})
    ),
    ("DELETE", f"{V1}/keys/{{key_id}}"): Operation(
        "Revoke it (not the last owner key)", out.RevokedKey, params=(KEY,), errors=frozenset({409})
    ),
    ("GET", f"{V1}/metrics"): Operation("The organisation's counters for Prometheus", None),
    ("GET", f"{V1}/schedules"): Operation("The schedules as the organisation sees them", out.OrgSchedules),
    ("GET", f"{V1}/automations"): Operation("The automations: on or off, texts, next runs", automations.Automations),
    ("PUT", f"{V1}/automations"): Operation(
        "Change automations (what is left out stays)", automations.Automations, automations.AutomationsUpdate
    ),
    ("POST", f"{V1}/schedules/{{name}}/pause"): Operation(
        "Pause a per-organisation schedule for the organisation", out.OrgScheduleChange, params=(SCHEDULE,)
    ),
    ("POST", f"{V1}/schedules/{{name}}/resume"): Operation(
        "Resume a per-organisation schedule for the organisation", out.OrgScheduleChange, params=(SCHEDULE,)
    ),
    ("POST", f"{V1}/schedules/{{name}}/run"): Operation(
        "Run a per-organisation schedule's job for the organisation now", out.OrgScheduleRun, params=(SCHEDULE,)
    ),
    ("GET", f"{V1}/retention"): Operation(
        "How long messages are kept, and the retention job's latest run", out.Retention
    ),
    ("PUT", f"{V1}/retention"): Operation(
        "Set how many days messages are kept (7..3650)", out.Retention, RetentionSettings
    ),
    ("GET", f"{V1}/lanes"): Operation("Each send lane: paused or running, and its backlog", out.LaneStates),
    ("POST", f"{V1}/lanes/pause"): Operation("Pause every send lane", out.LaneChanges),
    ("POST", f"{V1}/lanes/resume"): Operation("Resume every send lane", out.LaneChanges),
    ("POST", f"{V1}/lanes/{{lane}}/pause"): Operation("Pause one send lane", out.LaneChanges, params=(LANE,)),
    ("POST", f"{V1}/lanes/{{lane}}/resume"): Operation("Resume one send lane", out.LaneChanges, params=(LANE,)),
    ("GET", f"{V1}/stats"): Operation("Counters and NPS per day over a range of days", out.StatsRange, params=RANGE),
    ("GET", f"{V1}/campaigns"): Operation("Campaigns, newest first", out.CampaignList, params=(LIMIT,)),
    ("POST", f"{V1}/campaigns"): Operation(
        "Create a campaign and schedule it", out.Campaign, CreateCampaign, errors=frozenset({404})
    ),
    ("GET", f"{V1}/campaigns/{{campaign_id}}"): Operation(
        "One campaign: status and counters", out.Campaign, params=(CAMPAIGN,)
    ),
    ("POST", f"{V1}/campaigns/{{campaign_id}}/pause"): Operation(
        "Hold a campaign's sends", out.CampaignChange, params=(CAMPAIGN,), errors=frozenset({409})
    ),
    ("POST", f"{V1}/campaigns/{{campaign_id}}/resume"): Operation(
        "Send a paused campaign again (or hand a draft to QStash)",
        out.CampaignChange,
        params=(CAMPAIGN,),
        errors=frozenset({409}),
    ),
    ("POST", f"{V1}/campaigns/{{campaign_id}}/cancel"): Operation(
        "Stop a campaign for good", out.CampaignChange, params=(CAMPAIGN,), errors=frozenset({409})
    ),
    ("GET", f"{V1}/ai"): Operation("The organisation's AI settings", AiSettings),
    ("PUT", f"{V1}/ai"): Operation("Replace the AI settings", AiSettings, AiSettings),
    ("POST", f"{V1}/conversations/{{conversation_id}}/ai/pause"): Operation(
        "Take the conversation over: the AI stops answering it", out.ConversationAi, params=(CONVERSATION,)
    ),
    ("POST", f"{V1}/conversations/{{conversation_id}}/ai/resume"): Operation(
        "Let the AI answer the conversation again", out.ConversationAi, params=(CONVERSATION,)
    ),
    ("GET", f"{V1}/ai/knowledge"): Operation(
        "Knowledge the AI proposed from closed conversations", out.KnowledgeList, params=(KNOWLEDGE_STATUS,)
    ),
    ("POST", f"{V1}/ai/knowledge/{{entry_id}}/approve"): Operation(
        "Let the AI use this answer (optionally corrected)", out.KnowledgeEntry, KnowledgeDecision, (KNOWLEDGE,)
    ),
    ("POST", f"{V1}/ai/knowledge/{{entry_id}}/reject"): Operation(
        "Never use this answer", out.KnowledgeEntry, params=(KNOWLEDGE,)
    ),
    ("GET", f"{V1}/owner/messages"): Operation(
        "The last messages sent to the owner's WhatsApp", out.OwnerMessages, params=(LIMIT,)
    ),
}

_ERRORS = {
    400: ("BadRequest", "a parameter or the body is wrong; error names it", out.Error),
    401: ("Unauthorized", "no API key, or one not recognised", out.Error),
    403: ("Forbidden", "the key's role may not make this call", out.ForbiddenError),
    404: ("NotFound", "no such record in this organisation", out.Error),
    405: ("MethodNotAllowed", "the path exists, not with this method", out.Error),
    409: ("Conflict", "the record's state forbids it (opted out, already retried, last owner key, …)", out.Error),
    413: ("PayloadTooLarge", "the body (64 KiB) or a field over its limit", out.Error),
    503: ("Unavailable", "a dependency (Redis, QStash, Centrifugo) is down: try again", out.Error),
}


def missing(routes: Sequence[RouteSpec]) -> list[str]:
    """Routes without an operation here, and operations for no route: both must be empty."""
    served = {(method, path) for path, _, method, _ in routes}
    return [f"{m} {p}: no OpenAPI metadata" for m, p in sorted(served - OPERATIONS.keys())] + [
        f"{m} {p}: metadata for no route" for m, p in sorted(OPERATIONS.keys() - served)
    ]


def _json(ref: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": ref}}


Refs = dict[tuple[Any, JsonSchemaMode], dict[str, Any]]  # (model, mode) → its $ref


def _operation(op: Operation, handler: Callable[..., Any], role: str, refs: Refs) -> dict[str, Any]:
    statuses = {401, 405, 503} | op.errors
    statuses |= {403} if role == "owner" else set()
    statuses |= {404} if any(p.where == "path" for p in op.params) else set()
    statuses |= {400} if op.body or any(p.where != "path" for p in op.params) else set()
    statuses |= {400, 413} if op.body else set()
    ok = _json(refs[op.answer, "serialization"]) if op.answer else {"text/plain": {"schema": {"type": "string"}}}
    rendered: dict[str, Any] = {
        "operationId": handler.__name__,
        "summary": op.summary,
        "tags": [role],
        "parameters": [p.render() for p in op.params],
        "responses": {"200": {"description": "OK", "content": ok}}
        | {str(s): {"$ref": f"#/components/responses/{_ERRORS[s][0]}"} for s in sorted(statuses)},
    }
    if handler.__doc__:
        rendered["description"] = " ".join(handler.__doc__.split())
    if op.body:
        rendered["requestBody"] = {"required": True, "content": _json(refs[op.body, "validation"])}
    return rendered


def _schemas() -> tuple[Refs, dict[str, Any]]:
    """Every model once, in the mode it is used in: bodies as validated, answers as serialised."""
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (out.Error, "serialization"),
        (out.ForbiddenError, "serialization"),
    ]
    for op in OPERATIONS.values():
        models += [(op.body, "validation")] if op.body else []
        models += [(op.answer, "serialization")] if op.answer else []
    refs, top = models_json_schema(list(dict.fromkeys(models)), ref_template=_REF)
    return dict(refs), top.get("$defs", {})


@functools.cache
def document(routes: tuple[RouteSpec, ...]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes`` (``ROUTES``); LookupError names a route without metadata."""
    if problems := missing(routes):
        raise LookupError("; ".join(problems) + " (admin/openapi.py OPERATIONS)")
    refs, schemas = _schemas()
    paths: dict[str, dict[str, Any]] = {}
    for path, handler, method, role in routes:
        paths.setdefault(path, {})[method.lower()] = _operation(OPERATIONS[method, path], handler, role, refs)
    responses = {name: {"description": text, "content": _json(refs[model, "serialization"])}
                 for name, text, model in _ERRORS.values()}  # fmt: skip
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Zapline operator API",
            "version": __version__,
            "description": "Every call is scoped to the organisation of its API key.",
        },  # fmt: skip
        "tags": [
            {"name": "agent", "description": "an agent or an owner key: reading, replying, closing, live updates"},
            {"name": "owner", "description": "an owner key only; an agent key gets 403"},
        ],
        "security": [{"apiKey": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "zk_<org_id>_<key_id>_<secret>"}
            },
            "schemas": schemas,
            "responses": responses,
        },
    }

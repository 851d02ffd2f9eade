"""UAZAPI's chat and label reads, as the spec (uazapiGO v2.0) documents them, and the sandbox's way
to set what they answer.

- ``POST /chat/find {operator?, sort?, limit?, offset?, <chat field>: <filter>…}`` →
  ``{"chats": [Chat], "totalChatsStats": {…}, "pagination": {totalRecords, pageSize, currentPage,
  totalPages}}``. A filter on a text field is ``~x`` (contains, also without an operator), ``!~x``,
  ``!=x`` or ``>=``/``>``/``<=``/``<`` on numbers; booleans match exactly; ``sort`` is ``+field`` or
  ``-field`` (default ``-wa_lastMsgTimestamp``); ``limit`` defaults to 2000.
- ``POST /chat/details {number, preview?}`` → the Chat with ``image`` (or ``imagePreview`` with ``preview``).
- ``GET /labels`` → ``[{id, name, color, colorHex, createdAt}]``.
- Sandbox only: ``POST /_sandbox/contacts {"instance", "contacts": [{"number", "name"?, "agenda_name"?,
  "picture"?, "labels"?: [label names]}]}`` sets contacts (a field left out stays; labels are created
  by name); ``GET /_sandbox/contacts?instance=`` lists the chats, the labels and the ``/chat/find``
  calls answered (``find_calls``: offset, limit, status).

``POST /_sandbox/faults`` with ``"endpoint": "/chat/find"`` (or ``/chat/details``, ``/labels``) makes
those fail too: only faults naming the endpoint apply to these reads; ``"offset": N`` fails only the
``/chat/find`` page at that offset.
"""

from __future__ import annotations

import math
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from zapline.sandbox.callers import from_loopback
from zapline.sandbox.uazapi import contacts as book_of
from zapline.sandbox.uazapi.common import ApiError, base_url, instance_endpoint, json_body, reply, simulator
from zapline.sandbox.uazapi.instances import Instance
from zapline.sandbox.uazapi.numbers import recipient
from zapline.sandbox.uazapi.payloads import now_ms

__all__ = ["routes"]

_ERRORS = {429: "Rate limit exceeded", 500: "Internal server error"}


def _fault(request: Request, instance: Instance, endpoint: str, offset: int | None = None) -> None:
    """Fail like UAZAPI if a fault naming this endpoint (and this page) is pending (one of its count is used)."""
    faults = simulator(request).faults
    for fault in list(faults.faults):
        if fault.offset not in (None, offset):
            continue
        if fault.endpoint == endpoint and fault.instance in (None, instance.token):
            fault.remaining -= 1
            if fault.remaining <= 0:
                faults.faults.remove(fault)
            raise ApiError(fault.status, _ERRORS.get(fault.status, "Internal server error"), fault.headers)


def _count(body: dict[str, Any], key: str, default: int) -> int:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ApiError(400, f"Invalid {key}: must be a whole number >= 0")
    return value


def _matches(chat: dict[str, Any], name: str, wanted: Any) -> bool:
    value = chat.get(name)
    if isinstance(wanted, bool) or isinstance(value, bool):
        return bool(value == wanted)
    text = str(wanted)
    for prefix in (">=", "<=", ">", "<"):
        if text.startswith(prefix):
            try:
                left, right = float(value or 0), float(text[len(prefix) :])
            except ValueError:
                return False
            return {">=": left >= right, "<=": left <= right, ">": left > right, "<": left < right}[prefix]
    have = (", ".join(map(str, value)) if isinstance(value, list) else str(value or "")).lower()
    if text.startswith("!~"):
        return text[2:].lower() not in have
    if text.startswith("!="):
        return have != text[2:].lower()
    return text.removeprefix("~").lower() in have


def _sort_key(field: str) -> Any:
    def key(chat: dict[str, Any]) -> tuple[float, str, str]:
        value = chat.get(field)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return (float(value), "", str(chat["wa_chatid"]))
        return (0.0, str(value if value is not None else ""), str(chat["wa_chatid"]))

    return key


async def chat_find(request: Request, instance: Instance) -> Response:
    body = await json_body(request)
    limit, offset = _count(body, "limit", 2000), _count(body, "offset", 0)
    found = await book_of.book(simulator(request), instance)
    try:
        _fault(request, instance, "/chat/find", offset)
    except ApiError as exc:
        found.find_calls.append({"offset": offset, "limit": limit, "status": exc.status})
        raise
    operator = str(body.get("operator") or "AND").upper()
    if operator not in ("AND", "OR"):
        raise ApiError(400, "Invalid operator: AND or OR")
    sort = str(body.get("sort") or "-wa_lastMsgTimestamp")
    filters = {k: v for k, v in body.items() if k not in ("operator", "sort", "limit", "offset") and v is not None}
    every = book_of.chats(instance, found, base_url(request))
    combine = all if operator == "AND" else any
    chosen = [c for c in every if not filters or combine(_matches(c, k, v) for k, v in filters.items())]
    field = sort.lstrip("+-")
    chosen.sort(key=_sort_key(field), reverse=sort.startswith("-"))
    page = chosen[offset : offset + limit]
    found.find_calls.append({"offset": offset, "limit": limit, "status": 200})
    pages = math.ceil(len(chosen) / limit) if limit else 0
    return reply({
        "chats": page,
        "totalChatsStats": {"total": len(every), "groups": 0, "unread": 0},
        "pagination": {"totalRecords": len(chosen), "pageSize": limit,
                       "currentPage": offset // limit + 1 if limit else 1, "totalPages": pages},
    })  # fmt: skip


async def chat_details(request: Request, instance: Instance) -> Response:
    _fault(request, instance, "/chat/details")
    body = await json_body(request)
    number = body.get("number")
    if not isinstance(number, str | int) or isinstance(number, bool) or not str(number).strip():
        raise ApiError(400, "Invalid request payload")
    found = recipient(str(number))
    if not found.digits or found.is_group:
        raise ApiError(400, "Invalid request payload")
    chat = book_of.chat_object(instance, await book_of.book(simulator(request), instance), found.digits,
                               base_url(request))  # fmt: skip
    if body.get("preview") is True:
        chat["image"] = ""
    else:
        chat["imagePreview"] = ""
    return reply({**chat, "wa_common_groups": ""})


async def labels(request: Request, instance: Instance) -> Response:
    _fault(request, instance, "/labels")
    found = await book_of.book(simulator(request), instance)
    return reply(sorted(found.labels.values(), key=lambda label: int(label["id"])))


def _instance(request: Request, token_or_name: object) -> Instance:
    if not from_loopback(request):
        raise ApiError(403, "sandbox endpoints answer loopback callers only")
    if not isinstance(token_or_name, str) or not token_or_name:
        raise ApiError(400, "instance must be the instance's token or name")
    found = simulator(request).registry.lookup(token_or_name)
    if len(found) != 1:
        raise ApiError(404 if not found else 409, "no such instance" if not found else "several: pass the token")
    return found[0]


def _text(entry: dict[str, Any], key: str, limit: int) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise ApiError(400, f"{key} must be a string of at most {limit} characters")
    return value


async def set_contacts(request: Request) -> Response:
    body = await json_body(request)
    instance = _instance(request, body.get("instance"))
    entries = body.get("contacts", [body])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries) or len(entries) > 5000:
        raise ApiError(400, 'send {"instance", "contacts": [{"number", "name"?, "picture"?, "labels"?, …}]}')
    sim = simulator(request)
    found = await book_of.book(sim, instance)
    numbers: list[str] = []
    for entry in entries:
        digits = recipient(str(entry.get("number", ""))).digits
        if not 10 <= len(digits) <= 15:
            raise ApiError(400, "number must be a phone number: 10 to 15 digits with the country code")
        profile = found.profiles.setdefault(digits, book_of.Profile())
        if (name := _text(entry, "name", 200)) is not None:
            instance.contacts[digits] = name
        if (agenda := _text(entry, "agenda_name", 200)) is not None:
            profile.agenda_name = agenda
        if (picture := _text(entry, "picture", 2048)) is not None:
            profile.picture = picture
        if "labels" in entry:
            names = entry["labels"]
            if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
                raise ApiError(400, "labels must be a list of label names")
            profile.labels = list(dict.fromkeys(found.label_id(n.strip(), now_ms()) for n in names))
        numbers.append(digits)
    await book_of.save(sim, instance, found, numbers)
    return reply({"contacts": len(numbers), "labels": {v["name"]: k for k, v in found.labels.items()}})


async def list_contacts(request: Request) -> Response:
    instance = _instance(request, request.query_params.get("instance"))
    found = await book_of.book(simulator(request), instance)
    return reply({
        "chats": book_of.chats(instance, found, base_url(request)),
        "labels": list(found.labels.values()),
        "find_calls": found.find_calls,
    })  # fmt: skip


routes = [
    Route("/chat/find", instance_endpoint(chat_find), methods=["POST"]),
    Route("/chat/details", instance_endpoint(chat_details), methods=["POST"]),
    Route("/labels", instance_endpoint(labels), methods=["GET"]),
    Route("/_sandbox/contacts", set_contacts, methods=["POST"]),
    Route("/_sandbox/contacts", list_contacts, methods=["GET"]),
]

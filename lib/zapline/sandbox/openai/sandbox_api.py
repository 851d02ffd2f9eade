"""Sandbox-only endpoints under ``/_sandbox/openai`` (no key; loopback callers only).

- ``POST /_sandbox/openai/script`` — add rules (see :mod:`.script`); answers ``{"rules": [...]}`` with their ids.
- ``GET /_sandbox/openai/script`` — the live rules, in the order they are tried.
- ``DELETE /_sandbox/openai/script`` — forget every rule; ``DELETE /_sandbox/openai/script/<id>`` one.
- ``GET /_sandbox/openai/requests[?since=<seq>][&limit=N][&model=][&endpoint=]`` — every request
  received, newest last: ``{"requests": [...], "last_seq": N}``; ``DELETE`` empties the log
  (sequence numbers keep growing, so a ``since`` taken before stays valid).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from zapline.sandbox.callers import from_loopback
from zapline.sandbox.openai.api import json_body, reply, service
from zapline.sandbox.openai.errors import OpenAIError, invalid
from zapline.sandbox.openai.script import ScriptError

__all__ = ["routes"]


def _local(request: Request) -> None:
    if not from_loopback(request):
        raise OpenAIError(403, "sandbox endpoints answer loopback callers only", type="permission_error")


async def add_rules(request: Request) -> Response:
    _local(request)
    try:
        rules = await service(request).add_rules(await json_body(request))
    except ScriptError as exc:
        raise invalid(None, str(exc), None) from None
    return reply({"rules": [rule.to_json() for rule in rules]}, 201)


async def list_rules(request: Request) -> Response:
    _local(request)
    return reply({"rules": service(request).script.to_json()})


async def reset_rules(request: Request) -> Response:
    _local(request)
    await service(request).reset_script()
    return reply({"rules": []})


async def remove_rule(request: Request) -> Response:
    _local(request)
    rule_id = request.path_params["rule"]
    if not await service(request).remove_rule(rule_id):
        raise OpenAIError(404, f"no rule {rule_id!r} (it was removed, or its times are used)")
    return reply({"removed": rule_id})


def _int(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    if not value.isdigit():
        raise invalid(name, f"{name} must be a whole number", None)
    return int(value)


async def requests(request: Request) -> Response:
    _local(request)
    svc = service(request)
    found = svc.requests(
        since=_int(request, "since") or 0,
        limit=_int(request, "limit"),
        model=request.query_params.get("model"),
        endpoint=request.query_params.get("endpoint"),
    )
    return reply({"requests": found, "last_seq": svc.seq})


async def clear_requests(request: Request) -> Response:
    _local(request)
    await service(request).clear_requests()
    return reply({"requests": [], "last_seq": service(request).seq})


routes = [
    Route("/_sandbox/openai/script", add_rules, methods=["POST"]),
    Route("/_sandbox/openai/script", list_rules, methods=["GET"]),
    Route("/_sandbox/openai/script", reset_rules, methods=["DELETE"]),
    Route("/_sandbox/openai/script/{rule}", remove_rule, methods=["DELETE"]),
    Route("/_sandbox/openai/requests", requests, methods=["GET"]),
    Route("/_sandbox/openai/requests", clear_requests, methods=["DELETE"]),
]

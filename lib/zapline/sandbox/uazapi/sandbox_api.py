"""Sandbox-only endpoints under ``/_sandbox`` (no token; loopback callers only).

- ``POST /_sandbox/instances {"token", "owner"?, "name"?}`` — register an instance (idempotent).
- ``GET /_sandbox/sent[?instance=<token or name>][&since=<ms>]`` — every accepted send, in order.
- ``POST /_sandbox/faults {"status": 429|500, "count", "retry_after"?, "endpoint"?, "instance"?}``,
  ``DELETE /_sandbox/faults`` — make the next N matching sends fail; forget pending faults.
- ``GET /_sandbox/stats[?instance=<token or name>]`` — request, send and webhook counters
  (``pending``: sends whose echo and receipts are still to come).
- ``POST /_sandbox/customers/message`` — a customer writes to an instance (see :mod:`customers`).
- ``GET /_sandbox/files/<messageid>.<ext>`` — the public files ``/message/download`` links to.
"""

from __future__ import annotations

from dataclasses import asdict

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from zapline.sandbox.callers import from_loopback
from zapline.sandbox.uazapi.common import ApiError, base_url, json_body, reply, simulator
from zapline.sandbox.uazapi.customers import CustomerError
from zapline.sandbox.uazapi.faults import FaultError
from zapline.sandbox.uazapi.instances import Instance

__all__ = ["routes"]


def _local(request: Request) -> None:
    if not from_loopback(request):
        raise ApiError(403, "sandbox endpoints answer loopback callers only")


def _one(request: Request, token_or_name: object) -> Instance:
    if not isinstance(token_or_name, str) or not token_or_name:
        raise ApiError(400, "instance must be the instance's token or name")
    found = simulator(request).registry.lookup(token_or_name)
    if not found:
        raise ApiError(404, "no such instance (register it with POST /_sandbox/instances)")
    if len(found) > 1:
        raise ApiError(409, "several instances have that name: pass the token instead")
    return found[0]


async def add_instance(request: Request) -> Response:
    _local(request)
    body = await json_body(request)
    token, owner, name = body.get("token"), body.get("owner", ""), body.get("name", "")
    if not isinstance(token, str) or not token or not isinstance(owner, str) or not isinstance(name, str):
        raise ApiError(400, 'send {"token": "...", "owner"?: "<digits>", "name"?: "..."}')
    digits = "".join(ch for ch in owner if ch.isdigit())
    instance, created = await simulator(request).add_instance(token, name=name, owner=digits or "5511999990000")
    info = {k: v for k, v in instance.info().items() if k != "token"}
    return reply(info, 201 if created else 200)


async def sent(request: Request) -> Response:
    _local(request)
    which = request.query_params.get("instance")
    since = request.query_params.get("since")
    if since is not None and not since.isdigit():
        raise ApiError(400, "since must be a time in milliseconds since the epoch")
    instances = simulator(request).registry.lookup(which) if which else None
    records = simulator(request).sent_since(instances=instances, since=int(since) if since else None)
    return reply(records)


async def add_fault(request: Request) -> Response:
    _local(request)
    body = await json_body(request)
    token = _one(request, body["instance"]).token if body.get("instance") is not None else None
    try:
        fault = simulator(request).faults.add(body, token)
    except FaultError as exc:
        raise ApiError(400, str(exc)) from None
    return reply(fault.to_json(), 201)


async def clear_faults(request: Request) -> Response:
    _local(request)
    simulator(request).faults.clear()
    return reply({"pending": 0})


async def stats(request: Request) -> Response:
    _local(request)
    which = request.query_params.get("instance")
    return reply(asdict(_one(request, which).stats if which else simulator(request).stats))


async def customer_message(request: Request) -> Response:
    _local(request)
    body = await json_body(request)
    instance = _one(request, body.get("instance"))
    try:
        result = await simulator(request).customer_message(instance, body, base_url(request))
    except CustomerError as exc:
        raise ApiError(400, str(exc)) from None
    return reply(result)


async def file(request: Request) -> Response:
    stored = simulator(request).stored_file(request.path_params["name"])
    if stored is None:
        raise ApiError(404, "File not found or expired")
    return Response(stored.data, media_type=stored.mimetype.split(";")[0].strip())


routes = [
    Route("/_sandbox/instances", add_instance, methods=["POST"]),
    Route("/_sandbox/sent", sent, methods=["GET"]),
    Route("/_sandbox/faults", add_fault, methods=["POST"]),
    Route("/_sandbox/faults", clear_faults, methods=["DELETE"]),
    Route("/_sandbox/stats", stats, methods=["GET"]),
    Route("/_sandbox/customers/message", customer_message, methods=["POST"]),
    Route("/_sandbox/files/{name}", file, methods=["GET"]),
]

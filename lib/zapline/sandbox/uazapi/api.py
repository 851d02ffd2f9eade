"""UAZAPI's own endpoints, as the reference (§3–§4) documents them.

Instance endpoints take header ``token``; ``/instance/init`` and ``/instance/all`` take
``admintoken``. Sends answer 200 with the stored Message object, or ``{"error": ...}`` with 400,
401, 413, 415, 429 (with ``Retry-After``) or 500. ``/message/find`` searches what the simulator
sent and received (UAZAPI keeps 7 days; the simulator, the last 5,000 per instance, across restarts
when it has Redis).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from zapline.sandbox.uazapi import numbers
from zapline.sandbox.uazapi.common import (
    ApiError,
    InstanceHandler,
    base_url,
    instance_endpoint,
    json_body,
    reply,
    simulator,
)
from zapline.sandbox.uazapi.contacts_api import routes as contact_routes
from zapline.sandbox.uazapi.files import DownloadError, answer, prepare
from zapline.sandbox.uazapi.instances import Instance
from zapline.sandbox.uazapi.outgoing import Outgoing, SendError, parse_media, parse_menu, parse_text
from zapline.sandbox.uazapi.webhooks import WebhookConfigError, configure

__all__ = ["routes"]

Parser = Callable[[dict[str, Any]], Outgoing]


def _send(endpoint: str, parse: Parser) -> InstanceHandler:
    async def send(request: Request, instance: Instance) -> Response:
        sim = simulator(request)
        fault = sim.faults.take(instance.token, endpoint)
        if fault is not None:
            raise ApiError(fault.status, fault.body["error"], fault.headers)
        try:
            out = parse(await json_body(request))
        except SendError as exc:
            raise ApiError(exc.status, exc.message) from None
        return reply(await sim.send(instance, out, base_url(request)))

    send.__name__ = f"send_{endpoint.rsplit('/', 1)[1]}"
    return send


async def chat_check(request: Request, instance: Instance) -> Response:
    found = (await json_body(request)).get("numbers")
    if not isinstance(found, list) or not found or not all(isinstance(n, str | int) for n in found):
        raise ApiError(400, "Missing numbers: send an array of phone numbers")
    return reply([numbers.check(str(n)) for n in found])


async def message_download(request: Request, instance: Instance) -> Response:
    body = await json_body(request)
    message_id = body.get("id")
    if not isinstance(message_id, str) or not message_id:
        raise ApiError(400, "Missing id")
    message = instance.find(message_id)
    if message is None:
        raise ApiError(404, "Message not found")
    try:
        stored = prepare(message, generate_mp3=body.get("generate_mp3", True) is True)
    except DownloadError as exc:
        raise ApiError(exc.status, exc.message) from None
    sim = simulator(request)
    return reply(answer(message, stored, sim.file_url(base_url(request), stored), body))


def _count(body: dict[str, Any], key: str, default: int) -> int:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ApiError(400, f"Invalid {key}: must be a whole number >= 0")
    return value


async def message_find(request: Request, instance: Instance) -> Response:
    """Messages the instance knows (sent or received), newest first, filtered like UAZAPI's."""
    body = await json_body(request)
    limit, offset = _count(body, "limit", 100), _count(body, "offset", 0)
    chat = numbers.recipient(str(body["chatid"])).jid if body.get("chatid") else ""
    exact = {k: str(body[k]) for k in ("track_id", "track_source", "messageType", "id") if body.get(k)}
    if "id" in exact:
        exact["messageid"] = exact.pop("id").rpartition(":")[2]
    from_me = body.get("fromMe")

    def wanted(message: dict[str, Any]) -> bool:
        if chat and message.get("chatid") != chat:
            return False
        if isinstance(from_me, bool) and bool(message.get("fromMe")) != from_me:
            return False
        return all(str(message.get(k, "")) == v for k, v in exact.items())

    found = [m.wire for m in instance.messages.values() if m.wire and wanted(m.wire)]
    found.sort(key=lambda m: int(m.get("messageTimestamp") or 0), reverse=True)
    page = found[offset : offset + limit]
    return reply(
        {
            "messages": page,
            "returnedMessages": len(page),
            "limit": limit,
            "offset": offset,
            "nextOffset": offset + len(page),
            "hasMore": offset + len(page) < len(found),
        }
    )


async def webhook_get(request: Request, instance: Instance) -> Response:
    return reply([hook.to_json(instance.id) for hook in instance.webhooks])


async def webhook_set(request: Request, instance: Instance) -> Response:
    try:
        configure(instance, await json_body(request))
    except WebhookConfigError as exc:
        raise ApiError(exc.status, exc.message) from None
    await simulator(request).store.instance(instance)
    return reply([hook.to_json(instance.id) for hook in instance.webhooks])


async def webhook_errors(request: Request, instance: Instance) -> Response:
    started = str(instance.errors_since)
    errors = [error.to_json() for error in reversed(instance.errors)]
    return reply(errors, headers={"X-Webhook-Error-Capture-Started-At": started})


async def instance_status(request: Request, instance: Instance) -> Response:
    jid = f"{instance.owner}@s.whatsapp.net"
    return reply({"instance": instance.info(), "status": {"connected": True, "loggedIn": True, "jid": jid}})


def _check_admin(request: Request) -> None:
    sim = simulator(request)
    sim.stats.add("api_requests")
    expected = sim.options.admin_token
    supplied = request.headers.get("admintoken", "")
    if not expected or not supplied or not hmac.compare_digest(supplied.encode(), expected.encode()):
        raise ApiError(401, "Invalid admin token")


async def instance_init(request: Request) -> Response:
    """Create an instance. The sandbox pairs it at once: it is ``connected`` and can send right away."""
    _check_admin(request)
    body = await json_body(request)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400, "Missing name")
    instance, _ = await simulator(request).add_instance(secrets.token_hex(18), name=name.strip())
    return reply(
        {
            "response": "Instance created successfully",
            "instance": instance.info(),
            "connected": True,
            "loggedIn": True,
            "name": instance.name,
            "token": instance.token,
            "info": "The sandbox instance is connected already: no QR code needed.",
        }
    )


async def instance_all(request: Request) -> Response:
    _check_admin(request)
    return reply([instance.info() for instance in simulator(request).registry.all()])


routes = [
    Route("/send/text", instance_endpoint(_send("/send/text", parse_text)), methods=["POST"]),
    Route("/send/media", instance_endpoint(_send("/send/media", parse_media)), methods=["POST"]),
    Route("/send/menu", instance_endpoint(_send("/send/menu", parse_menu)), methods=["POST"]),
    Route("/chat/check", instance_endpoint(chat_check), methods=["POST"]),
    Route("/message/download", instance_endpoint(message_download), methods=["POST"]),
    Route("/message/find", instance_endpoint(message_find), methods=["POST"]),
    Route("/webhook", instance_endpoint(webhook_get), methods=["GET"]),
    Route("/webhook", instance_endpoint(webhook_set), methods=["POST"]),
    Route("/webhook/errors", instance_endpoint(webhook_errors), methods=["GET"]),
    Route("/instance/status", instance_endpoint(instance_status), methods=["GET"]),
    Route("/instance/init", instance_init, methods=["POST"]),
    Route("/instance/all", instance_all, methods=["GET"]),
    *contact_routes,  # /chat/find, /chat/details, /labels and /_sandbox/contacts
]

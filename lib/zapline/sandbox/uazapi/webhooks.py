"""Webhook configuration (``POST /webhook``) and delivery: filters, URL suffixes, retries, errors.

Delivery follows what is known of UAZAPI: a JSON POST per event, about three attempts on a non-2xx
answer or a timeout, the last 20 failures kept in memory for ``GET /webhook/errors``. No signature
(UAZAPI signs nothing). Backoff is undocumented; here retry *n* waits ``n * webhook_retry_ms``.

Filters, where the documentation is silent: an empty ``events`` list means every event;
``excludeMessages`` applies to ``messages`` events only, so excluding ``wasSentByApi`` drops the
echoes of API sends but not their receipts (reports conflict; this keeps delivered/read ticks).
With ``addUrlEvents`` the event name is appended to the URL's path (``/messages``), and with
``addUrlTypesMessages`` also the message type, lower-camel-cased (``/messages/extendedTextMessage``).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from zapline.sandbox.uazapi.config import Options
from zapline.sandbox.uazapi.instances import Instance, Webhook, WebhookError
from zapline.sandbox.uazapi.payloads import now_ms
from zapline.sandbox.uazapi.stats import Stats

__all__ = ["EVENTS", "EXCLUDES", "Delivery", "Dispatcher", "WebhookConfigError", "configure"]

EVENTS = frozenset(
    {
        "connection", "history", "messages", "messages_update", "call", "contacts", "presence", "groups",
        "labels", "chats", "chat_labels", "blocks", "leads", "sender",
    }
)  # fmt: skip
EXCLUDES = frozenset({"wasSentByApi", "wasNotSentByApi", "fromMeYes", "fromMeNo", "isGroupYes", "isGroupNo"})


class WebhookConfigError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _strings(body: dict[str, Any], key: str, allowed: frozenset[str], what: str) -> list[str] | None:
    if key not in body or body[key] is None:
        return None
    value = body[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise WebhookConfigError(f"{key} must be an array of strings")
    for item in value:
        if item not in allowed:
            raise WebhookConfigError(f"Invalid {what}: {item} (choices are: {', '.join(sorted(allowed))})")
    return list(value)


def _apply(hook: Webhook, body: dict[str, Any]) -> None:
    if "url" in body:
        url = body["url"]
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise WebhookConfigError("Invalid webhook URL: use an http:// or https:// URL")
        hook.url = url
    if hook.url == "":
        raise WebhookConfigError("Missing webhook url")
    for key, attr in (("enabled", "enabled"), ("addUrlEvents", "add_url_events"),
                      ("addUrlTypesMessages", "add_url_types_messages")):  # fmt: skip
        if key in body:
            if not isinstance(body[key], bool):
                raise WebhookConfigError(f"{key} must be true or false")
            setattr(hook, attr, body[key])
    events = _strings(body, "events", EVENTS, "event")
    if events is not None:
        hook.events = events
    excludes = _strings(body, "excludeMessages", EXCLUDES, "excludeMessages value")
    if excludes is not None:
        hook.exclude_messages = excludes
    hook.updated = now_ms()


def configure(instance: Instance, body: dict[str, Any]) -> None:
    """Apply ``POST /webhook``: simple mode upserts the one webhook; ``action`` add/update/delete."""
    action = body.get("action")
    if action in (None, ""):
        hook = instance.webhooks[0] if instance.webhooks else Webhook(id=f"w{secrets.token_hex(6)}", url="")
        _apply(hook, body)
        instance.webhooks = [hook]
    elif action == "add":
        hook = Webhook(id=f"w{secrets.token_hex(6)}", url="")
        _apply(hook, body)
        instance.webhooks.append(hook)
    elif action in ("update", "delete"):
        found = [h for h in instance.webhooks if h.id == body.get("id")]
        if not found:
            raise WebhookConfigError("Webhook not found", 404)
        if action == "update":
            _apply(found[0], body)
        else:
            instance.webhooks.remove(found[0])
    else:
        raise WebhookConfigError("Invalid action: use add, update or delete (or none for simple mode)")


def _wanted(hook: Webhook, event: str, message: dict[str, Any] | None) -> bool:
    if not hook.enabled or (hook.events and event not in hook.events):
        return False
    if event != "messages" or message is None:
        return True
    flags = {
        "wasSentByApi": bool(message.get("wasSentByApi")),
        "wasNotSentByApi": not message.get("wasSentByApi"),
        "fromMeYes": bool(message.get("fromMe")),
        "fromMeNo": not message.get("fromMe"),
        "isGroupYes": bool(message.get("isGroup")),
        "isGroupNo": not message.get("isGroup"),
    }
    return not any(flags[name] for name in hook.exclude_messages)


def _url(hook: Webhook, event: str, message: dict[str, Any] | None) -> str:
    if not hook.add_url_events:
        return hook.url
    suffix = f"/{event}"
    message_type = str((message or {}).get("messageType") or "")
    if hook.add_url_types_messages and message_type:
        suffix += f"/{message_type[0].lower()}{message_type[1:]}"
    parts = urlsplit(hook.url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + suffix))


@dataclass(frozen=True)
class Delivery:
    """What posting one event to one webhook came to."""

    url: str
    status: int  # the last answer's status; 0 when no answer came
    attempts: int
    error: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class Dispatcher:
    def __init__(self, options: Options, stats: Stats) -> None:
        self.options = options
        self.stats = stats
        self.client = httpx.AsyncClient(timeout=options.webhook_timeout_s, follow_redirects=False)
        self.tasks: set[asyncio.Task[None]] = set()

    async def deliver(self, instance: Instance, payload: dict[str, Any]) -> list[Delivery]:
        """POST ``payload`` to every webhook of ``instance`` that wants it, retrying each a few times."""
        event = str(payload.get("EventType", ""))
        message = payload.get("message") if isinstance(payload.get("message"), dict) else None
        hooks = [h for h in instance.webhooks if _wanted(h, event, message)]
        body = json.dumps(payload, ensure_ascii=False).encode()
        results = await asyncio.gather(*(self._post(instance, _url(h, event, message), body, payload) for h in hooks))
        return list(results)

    async def _post(self, instance: Instance, url: str, body: bytes, payload: dict[str, Any]) -> Delivery:
        headers = {"Content-Type": "application/json", "User-Agent": "uazapiGO-webhook (zapline sandbox)"}
        status, error, attempt = 0, "", 0
        for attempt in range(1, self.options.webhook_attempts + 1):
            if attempt > 1:
                await asyncio.sleep((attempt - 1) * self.options.webhook_retry_ms / 1000)
            self._count(instance, "webhook_attempts")
            try:
                response = await self.client.post(url, content=body, headers=headers)
            except httpx.TimeoutException:
                status, error = 0, "webhook timed out"
                continue
            except httpx.HTTPError as exc:
                status, error = 0, f"webhook request failed: {type(exc).__name__}"
                continue
            status = response.status_code
            if 200 <= status < 300:
                self._count(instance, "webhooks_posted")
                return Delivery(url, status, attempt)
            error = f"webhook returned non-success status: {status} {response.reason_phrase}".rstrip()
        self._count(instance, "webhook_failures")
        message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
        instance.errors.append(
            WebhookError(
                created=now_ms(),
                url=url,
                event=str(payload.get("EventType", "")),
                message_type=str((message or {}).get("messageType", "")),
                status_code=status,
                attempts=attempt,
                error=error,
                payload=payload,
            )
        )
        return Delivery(url, status, attempt, error)

    def _count(self, instance: Instance, name: str) -> None:
        self.stats.add(name)
        instance.stats.add(name)

    def spawn(self, work: Any) -> None:
        """Run a coroutine in the background, kept referenced until it ends."""
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def aclose(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.client.aclose()

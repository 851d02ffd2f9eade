"""The simulator's state and its two behaviours: accepting a send, and a customer writing in.

After every accepted send, in the background and in this order: the echo (``messages``, fromMe,
sent by the API), then a ``Delivered`` receipt, then a ``Read`` receipt, at ``echo_delay_ms``,
``delivered_delay_ms`` and ``read_delay_ms`` after the send, each POSTed (with retries) to the
instance's webhooks that want it. No webhook configured: nothing is posted.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import Any

from zapline.sandbox.uazapi.config import Options
from zapline.sandbox.uazapi.customers import build_customer_message
from zapline.sandbox.uazapi.echo import api_response, echo_webhook, known_message, sent_record
from zapline.sandbox.uazapi.faults import FaultBook
from zapline.sandbox.uazapi.files import DownloadError, StoredFile, prepare
from zapline.sandbox.uazapi.instances import Instance, Registry
from zapline.sandbox.uazapi.outgoing import Outgoing
from zapline.sandbox.uazapi.payloads import now_ms, wa_id
from zapline.sandbox.uazapi.stats import Stats
from zapline.sandbox.uazapi.store import Store
from zapline.sandbox.uazapi.webhooks import Delivery, Dispatcher

__all__ = ["Simulator"]

MAX_FILES = 2_000  # download links kept; older ones answer 404


class Simulator:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.registry = Registry()
        self.default, _ = self.registry.add(options.instance_token, name=options.instance_name, owner=options.owner)
        self.stats = Stats()
        self.faults = FaultBook()
        self.sent: deque[tuple[str, dict[str, Any]]] = deque(maxlen=options.max_sent)  # (instance id, record)
        self.files: dict[str, StoredFile] = {}
        self.dispatcher = Dispatcher(options, self.stats)
        self.store = Store(options.redis_url, max_sent=options.max_sent)

    async def start(self) -> None:
        """Take back what the simulator knew before a restart (nothing without Redis)."""
        saved = await self.store.load()
        for instance in saved.instances:
            self.registry.restore(instance)
        self.sent.extend(saved.sent)
        if self.registry.by_token(self.options.instance_token) is self.default:
            await self.store.instance(self.default)

    async def add_instance(self, token: str, *, name: str = "", owner: str = "") -> tuple[Instance, bool]:
        """The instance with this token, created (and stored) if new; ``(instance, created)``."""
        instance, created = self.registry.add(token, name=name, owner=owner)
        if created:
            await self.store.instance(instance)
        return instance, created

    def base_url(self, request_base: str) -> str:
        return (self.options.public_url or request_base).rstrip("/")

    def file_url(self, base_url: str, stored: StoredFile) -> str:
        """Serve ``stored`` at a public link (the oldest links expire, as UAZAPI's do after ~2 days)."""
        self.files.pop(stored.name, None)
        self.files[stored.name] = stored
        while len(self.files) > MAX_FILES:
            del self.files[next(iter(self.files))]
        return f"{base_url}/_sandbox/files/{stored.name}"

    def stored_file(self, name: str) -> StoredFile | None:
        """The file behind a link; after a restart, made again from the message it belongs to."""
        found = self.files.get(name)
        if found is not None:
            return found
        message_id, _, extension = name.rpartition(".")
        for instance in self.registry.all():
            message = instance.find(message_id)
            if message is None:
                continue
            with contextlib.suppress(DownloadError):
                again = prepare(message, generate_mp3=extension == "mp3")
                if again.name == name:
                    return again
        return None

    async def send(self, instance: Instance, out: Outgoing, base_url: str) -> dict[str, Any]:
        """Accept a validated send: record it, answer with the stored Message, echo it later."""
        received = now_ms()
        delay = min(out.delay_ms, self.options.max_send_delay_ms) / 1000
        if delay and not out.is_async:
            await asyncio.sleep(delay)  # UAZAPI shows "typing..." for ``delay`` ms, then sends
        message_id = wa_id()
        known = known_message(out, message_id)
        file_url = ""
        if out.kind == "media":
            file_url = out.file if out.file_is_url else self.file_url(base_url, prepare(known, generate_mp3=False))
        echo = echo_webhook(
            instance.builder(base_url),
            out,
            message_id=message_id,
            timestamp=now_ms(),
            contact_name=instance.contacts.get(out.to.digits, ""),
            file_url=file_url,
        )
        known.wire = echo["message"]
        record = sent_record(out, instance=instance.name, message_id=message_id, received_ms=received)
        await self.store.message(instance, known, instance.remember(known), sent=record)
        self.sent.append((instance.id, record))
        for stats in (self.stats, instance.stats):
            stats.add("sends")
            stats.add("pending")
        lead = delay if out.is_async else 0.0
        self.dispatcher.spawn(self._after_send(instance, out, echo, base_url, lead))
        return api_response(echo, out, file_url)

    async def _after_send(
        self, instance: Instance, out: Outgoing, echo: dict[str, Any], base_url: str, lead: float
    ) -> None:
        try:
            await self._echo_and_receipts(instance, out, echo, base_url, lead)
        finally:
            for stats in (self.stats, instance.stats):
                stats.add("pending", -1)

    async def _echo_and_receipts(
        self, instance: Instance, out: Outgoing, echo: dict[str, Any], base_url: str, lead: float
    ) -> None:
        start = time.monotonic() + lead
        options = self.options

        async def at(ms: int) -> None:
            await asyncio.sleep(max(0.0, start + ms / 1000 - time.monotonic()))

        await at(options.echo_delay_ms)
        await self.dispatcher.deliver(instance, echo)
        if out.to.is_group:
            return  # receipts in groups come per participant; the sandbox sends none
        builder = instance.builder(base_url)
        message_id = echo["message"]["messageid"]
        for state, ms in (("Delivered", options.delivered_delay_ms), ("Read", options.read_delay_ms)):
            await at(ms)
            receipt = builder.receipt([message_id], state, contact=out.to.contact)
            await self.dispatcher.deliver(instance, receipt)

    async def customer_message(self, instance: Instance, body: Any, base_url: str) -> dict[str, Any]:
        """Build a customer's message, POST it to the instance's webhooks now, report what came of it."""
        payload, known = build_customer_message(instance, instance.builder(base_url), body)
        known.wire = payload["message"]
        await self.store.message(instance, known, instance.remember(known))
        self.stats.add("customer_messages")
        instance.stats.add("customer_messages")
        deliveries: list[Delivery] = await self.dispatcher.deliver(instance, payload)
        first = deliveries[0] if deliveries else None
        answer: dict[str, Any] = {
            "messageid": known.messageid,
            "status": first.status if first else None,
            "attempts": first.attempts if first else 0,
            "webhooks": len(deliveries),
        }
        if first and first.error:
            answer["error"] = first.error
        return answer

    def sent_since(self, *, instances: list[Instance] | None, since: int | None) -> list[dict[str, Any]]:
        ids = {i.id for i in instances} if instances is not None else None
        return [r for i, r in self.sent if (ids is None or i in ids) and (since is None or r["time"] >= since)]

    async def aclose(self) -> None:
        await self.dispatcher.aclose()
        await self.store.close()

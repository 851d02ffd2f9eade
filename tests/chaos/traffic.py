"""What UAZAPI sends in a chaos run, and UAZAPI itself sending it to the relay.

N distinct inbound text messages from a few hundred contacts, each published 1–3 times (UAZAPI
re-sends the same body), and for a share of them 1–3 receipts (Delivered / Read, in any order),
the first one sometimes sent before its message. UAZAPI retries a webhook the relay did not
answer 2xx (as the real one does), a bounded number of times within a bounded time.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from zapline.sandbox.uazapi.payloads import Uazapi, body

__all__ = ["Expected", "Plan", "Sender", "Webhook", "plan"]

RANK = {"received": 1, "delivered": 2, "read": 3}
RECEIPT_STATES = {"Delivered": "delivered", "Read": "read"}
COPIES = ([1, 2, 3], [50, 30, 20])  # how many times UAZAPI publishes one message, and how often
RECEIPT_SHARE = 0.3  # messages that get receipts
EARLY_SHARE = 0.3  # of those, the first receipt is sent before the message


@dataclass(frozen=True)
class Webhook:
    kind: str  # message, copy, receipt, early_receipt
    wa_id: str
    body: bytes


@dataclass
class Expected:
    contact: str
    timestamp: int
    status: str = "received"  # the highest receipt sent for it, else received
    receipts: list[str] = field(default_factory=list)  # "<state>" or "<state> (before the message)", in sending order


@dataclass
class Plan:
    messages: dict[str, Expected]
    webhooks: list[Webhook]
    contacts: int
    doomed: set[str] = field(default_factory=set)

    def count(self, kind: str) -> int:
        return sum(1 for w in self.webhooks if w.kind == kind)


def plan(n: int, *, token: str, seed: int, doomed: int = 0) -> Plan:
    rng = random.Random(seed)
    uazapi = Uazapi(token=token)
    contacts = [str(5511970000000 + k) for k in range(min(300, max(20, n // 4)))]
    base = int(time.time() * 1000) - 3_600_000 - n * 10  # an hour ago, 10 ms apart, in WhatsApp order
    messages: dict[str, Expected] = {}
    keyed: list[tuple[float, int, Webhook]] = []
    seq = 0

    def put(position: float, webhook: Webhook) -> None:
        nonlocal seq
        seq += 1
        keyed.append((position, seq, webhook))

    for i in range(n):
        wa = f"{rng.getrandbits(128):032X}"
        contact = contacts[rng.randrange(len(contacts))]
        expected = messages[wa] = Expected(contact, base + i * 10)
        raw = body(uazapi.text(f"mensagem {i}", contact=contact, name=f"Cliente {contact[-4:]}",
                               message_id=wa, timestamp=expected.timestamp))  # fmt: skip
        put(i, Webhook("message", wa, raw))
        for _ in range(rng.choices(*COPIES)[0] - 1):
            put(i + rng.uniform(1, 150), Webhook("copy", wa, raw))
        if rng.random() < RECEIPT_SHARE:
            states = [rng.choice(list(RECEIPT_STATES)) for _ in range(rng.randint(1, 3))]
            expected.status = max((RECEIPT_STATES[s] for s in states), key=RANK.__getitem__)
            early = rng.random() < EARLY_SHARE
            for j, state in enumerate(states):
                expected.receipts.append(f"{state} (before the message)" if early and j == 0 else state)
                receipt = body(uazapi.receipt([wa], state, contact=contact))
                if early and j == 0:
                    put(i - rng.uniform(20, 100), Webhook("early_receipt", wa, receipt))
                else:
                    put(i + rng.uniform(1, 200), Webhook("receipt", wa, receipt))
    keyed.sort(key=lambda item: (item[0], item[1]))
    chosen = set(rng.sample(sorted(messages), min(doomed, n)))
    return Plan(messages, [w for _, _, w in keyed], len(contacts), chosen)


@dataclass
class Sender:
    """UAZAPI posting webhooks to the relay with ``concurrency`` connections."""

    url: str
    concurrency: int = 16
    attempts: int = 40  # per webhook
    per_webhook_s: float = 90.0
    accepted: int = 0
    refused_answers: int = 0  # non-2xx answers or failed connections, each retried
    abandoned: list[str] = field(default_factory=list)  # wa ids of webhooks never accepted
    message_ids: list[str] = field(default_factory=list)  # QStash's ids, from the relay's answers
    done: int = 0
    last_accepted: float = field(default_factory=time.monotonic)  # when the relay last answered 2xx
    last_refusal: str = ""  # the relay's last non-2xx answer (or the connection error)

    async def run(self, webhooks: list[Webhook], progress: Callable[[int], None], go: asyncio.Event) -> None:
        """Send every webhook; before each one, wait for ``go`` (cleared while a fault is being put in place)."""
        queue = list(reversed(webhooks))
        connector = aiohttp.TCPConnector(limit=self.concurrency)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

            async def worker() -> None:
                while queue:
                    await go.wait()
                    if not queue:
                        return
                    webhook = queue.pop()
                    await self._send(session, webhook)
                    self.done += 1
                    progress(self.done)

            await asyncio.gather(*(worker() for _ in range(self.concurrency)))

    async def _send(self, session: aiohttp.ClientSession, webhook: Webhook) -> None:
        deadline = time.monotonic() + self.per_webhook_s
        for attempt in range(self.attempts):
            try:
                async with session.post(
                    self.url, data=webhook.body, headers={"Content-Type": "application/json"}
                ) as response:
                    answer = await response.read()
                    if 200 <= response.status < 300:
                        self.accepted += 1
                        self.last_accepted = time.monotonic()
                        self.message_ids.append(_message_id(answer))
                        return
                    self.last_refusal = f"{response.status} {answer[:160].decode(errors='replace')}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                self.last_refusal = f"{type(exc).__name__}: {exc}"
            self.refused_answers += 1
            if time.monotonic() > deadline:
                break
            # UAZAPI's own retry policy (a backoff, not a synchronisation): 50 ms doubling, at most 1 s
            await asyncio.sleep(min(1.0, 0.05 * 2**attempt))
        self.abandoned.append(webhook.wa_id)


def _message_id(answer: bytes) -> str:
    import json

    try:
        return str(json.loads(answer).get("messageId") or "")
    except ValueError:
        return ""

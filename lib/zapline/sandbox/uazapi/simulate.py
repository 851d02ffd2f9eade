"""``zapline simulate``: simulated customers writing to an instance through the sandbox UAZAPI.

N customers write M messages in all, through ``POST /_sandbox/customers/message`` (so each one
becomes the webhook UAZAPI would post, through QStash, to Zapline): mostly text, some images,
voice notes, documents, locations, stickers and reactions, in bursts of a few messages from one
customer. Customers answer what was sent to them (``GET /_sandbox/sent``): an NPS poll gets a
vote, a "reply 0–10" text gets a digit, other messages sometimes a quoted reply or a reaction.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from zapline.sandbox.uazapi.people import Customer, make_customers, pick_text

__all__ = ["SimulateError", "Simulation", "Summary", "simulate_command"]

_KIND_WEIGHTS = {"text": 55, "image": 10, "audio": 10, "document": 5, "location": 4, "sticker": 5, "reaction": 6,
                 "video": 3, "contact": 2}  # fmt: skip
_NPS_WEIGHTS = (1, 1, 1, 1, 1, 2, 3, 5, 10, 12, 13)  # scores 0..10
_SURVEY = re.compile(r"\b0\s*(?:a|até|to|-|–|—|e)\s*10\b", re.IGNORECASE)
_BURSTS = (0, 0, 0, 1, 1, 2, 3)  # extra messages in a row from the same customer
_LOOK_BACK_MS = 10_000  # longer than the simulator's longest send delay


Progress = Callable[[int, "Summary"], None]  # (messages done, summary so far)


class SimulateError(Exception):
    """The simulation cannot run (or stopped): the message says what to do."""


@dataclass
class Summary:
    instance: str
    customers: list[Customer]
    by_kind: Counter[str] = field(default_factory=Counter)
    accepted: int = 0  # webhooks QStash accepted (2xx)
    failures: int = 0
    votes: int = 0
    survey_answers: int = 0
    quoted_replies: int = 0
    errors: list[str] = field(default_factory=list)  # the first few, for the report

    @property
    def messages(self) -> int:
        return sum(self.by_kind.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "instance": self.instance,
            "customers": [{"phone": f"+{c.phone}", "name": c.name, "messages": c.sent} for c in self.customers],
            "messages": self.messages,
            "by_kind": dict(self.by_kind),
            "accepted": self.accepted,
            "failures": self.failures,
            "votes": self.votes,
            "survey_answers": self.survey_answers,
            "quoted_replies": self.quoted_replies,
            "errors": self.errors,
        }

    def lines(self) -> list[str]:
        kinds = ", ".join(f"{k} {n}" for k, n in self.by_kind.most_common())
        return [
            f"simulate: {self.messages} messages from {len(self.customers)} customers to instance {self.instance}",
            f"  by kind: {kinds or '-'}",
            f"  answers to our sends: {self.votes} poll/list votes, {self.survey_answers} survey scores, "
            f"{self.quoted_replies} quoted replies",
            f"  webhooks accepted by QStash: {self.accepted}/{self.messages}; failures: {self.failures}",
            *(f"  error: {e}" for e in self.errors),
        ]


def _is_choice(sent: dict[str, Any]) -> bool:
    """A poll or list a customer answers by picking an option."""
    return sent.get("menu_type") in ("poll", "list") and bool(sent.get("choices"))


def _pick(rng: random.Random, choices: list[str]) -> str:
    nps = choices == [str(i) for i in range(11)]  # an NPS scale: most customers are happy
    return rng.choices(choices, weights=_NPS_WEIGHTS if nps else None)[0]


class Simulation:
    def __init__(
        self, client: httpx.Client, *, token: str, instance: str, customers: int, messages: int, seed: int | None
    ) -> None:
        self.client = client
        self.token = token
        self.rng = random.Random(seed)
        self.people = make_customers(self.rng, customers)
        self.total = messages
        self.summary = Summary(instance, self.people)
        self.sent: dict[str, dict[str, Any]] = {}  # our sends to these customers, by message id
        self._sent_since = 0

    def _refresh_sent(self) -> None:
        params = {"instance": self.token, "since": str(self._sent_since)}
        response = self.client.get("/_sandbox/sent", params=params)
        response.raise_for_status()
        phones = {c.phone for c in self.people}
        for record in response.json():
            # ``time`` is when a send arrived; one held by its ``delay`` is listed later: look back a bit
            self._sent_since = max(self._sent_since, int(record["time"]) - _LOOK_BACK_MS)
            if record["number"] in phones:
                self.sent[record["message_id"]] = record

    def _pending(self, customer: Customer) -> list[dict[str, Any]]:
        return [
            s for s in self.sent.values() if s["number"] == customer.phone and s["message_id"] not in customer.answered
        ]

    def _answer(self, customer: Customer) -> tuple[dict[str, Any], str] | None:
        """An answer to something we sent this customer, if it has anything to answer."""
        pending = self._pending(customer)
        for sent in pending:
            if _is_choice(sent):
                customer.answered.add(sent["message_id"])
                kind = "poll_vote" if sent["menu_type"] == "poll" else "list_response"
                return {"kind": kind, "reply_to": sent["message_id"], "vote": _pick(self.rng, sent["choices"])}, "vote"
        for sent in pending:
            if _SURVEY.search(sent.get("text") or ""):
                customer.answered.add(sent["message_id"])
                score = str(self.rng.choices(range(11), weights=_NPS_WEIGHTS)[0])
                return {"kind": "text", "text": score}, "survey"
        if pending and self.rng.random() < 0.5:
            latest = pending[-1]
            customer.answered.add(latest["message_id"])
            if self.rng.random() < 0.25:
                return {"kind": "reaction", "reply_to": latest["message_id"], "text": pick_text(self.rng, "emoji")}, ""
            return {"kind": "text", "reply_to": latest["message_id"], "text": pick_text(self.rng, "reply")}, "quoted"
        return None

    def _new_message(self, customer: Customer) -> dict[str, Any]:
        if customer.sent == 0:
            return {"kind": "text", "text": pick_text(self.rng, "greeting")}
        kind = self.rng.choices(list(_KIND_WEIGHTS), weights=list(_KIND_WEIGHTS.values()))[0]
        ours = [s for s in self.sent.values() if s["number"] == customer.phone]
        if kind == "reaction" and ours:  # customers react to what we sent them
            return {"kind": "reaction", "reply_to": ours[-1]["message_id"], "text": pick_text(self.rng, "emoji")}
        if kind in ("text", "reaction"):
            return {"kind": "text", "text": pick_text(self.rng, self.rng.choice(("question", "question", "follow_up")))}
        if kind == "image":
            return {"kind": "image", "text": pick_text(self.rng, "caption")}
        if kind == "audio":
            return {"kind": "audio", "text": pick_text(self.rng, "question")}  # what the voice note says
        return {"kind": kind}

    def _post(self, customer: Customer, message: dict[str, Any], answer_kind: str) -> None:
        body = {"instance": self.token, "from": customer.phone, "name": customer.name, **message}
        try:
            response = self.client.post("/_sandbox/customers/message", json=body)
        except httpx.HTTPError as exc:
            raise SimulateError(f"the sandbox UAZAPI did not answer: {exc}") from None
        if response.status_code == 404:
            raise SimulateError("the sandbox UAZAPI does not know this instance's token: is it the same sandbox?")
        result = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        if response.status_code == 200 and result.get("webhooks") == 0:
            raise SimulateError("the instance has no webhook in the sandbox UAZAPI: configure it (POST /webhook)")
        self.summary.by_kind[message["kind"]] += 1
        customer.sent += 1
        status = result.get("status") if response.status_code == 200 else None
        if isinstance(status, int) and 200 <= status < 300:
            self.summary.accepted += 1
            self.summary.votes += answer_kind == "vote"
            self.summary.survey_answers += answer_kind == "survey"
            self.summary.quoted_replies += answer_kind == "quoted"
            return
        self.summary.failures += 1
        if len(self.summary.errors) < 5:
            reason = result.get("error") or f"webhook answered {status}"
            self.summary.errors.append(
                f"{message['kind']} from +{customer.phone}: HTTP {response.status_code}, {reason}"
            )

    def run(self, *, rate: float, progress: Progress | None = None) -> Summary:
        queue = list(self.people) if self.total >= len(self.people) else self.rng.sample(self.people, self.total)
        self.rng.shuffle(queue)
        customer, burst = None, 0
        for done in range(self.total):
            started = time.monotonic()
            if burst > 0 and customer is not None:
                burst -= 1
            else:  # a new burst; leave enough messages for everyone still waiting to write
                customer = queue.pop() if queue else self.rng.choice(self.people)
                burst = min(self.rng.choice(_BURSTS), max(0, self.total - done - 1 - len(queue)))
            self._refresh_sent()
            answered = self._answer(customer)
            message, answer_kind = answered if answered else (self._new_message(customer), "")
            self._post(customer, message, answer_kind)
            if progress is not None:
                progress(done + 1, self.summary)
            if rate > 0:
                time.sleep(max(0.0, 1 / rate - (time.monotonic() - started)))  # pacing, not synchronisation
        return self.summary


def _default_org(env_file: str | None) -> str:
    candidates = [Path(env_file).parent / "sandbox.json"] if env_file else []
    candidates.append(Path(".zapline/sandbox.json"))
    for path in candidates:
        try:
            org = json.loads(path.read_text())["demo"]["org_id"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        return str(org)
    raise SimulateError("no --org given and no demo organisation in .zapline/sandbox.json (run zapline dev first)")


def _instance_token(org_id: str, name: str) -> str:
    from zapline.clients import aclose_clients
    from zapline.errors import ZaplineError
    from zapline.store.registry import get_instance

    async def lookup() -> str:
        try:
            return str((await get_instance(org_id, name))["token"])
        finally:
            await aclose_clients()

    try:
        return asyncio.run(lookup())
    except ZaplineError as exc:
        raise SimulateError(exc.message) from None


def _progress(total: int) -> Progress:
    tty = sys.stderr.isatty()

    def show(done: int, summary: Summary) -> None:
        line = (
            f"simulate: {done}/{total} messages · {sum(1 for c in summary.customers if c.sent)} customers · "
            f"{summary.accepted} accepted · {summary.failures} failed"
        )
        if tty:
            print(f"\r{line}", end="\n" if done == total else "", file=sys.stderr, flush=True)
        elif done == total or done % -(-total // 10) == 0:  # about every tenth
            print(line, file=sys.stderr, flush=True)

    return show


def simulate_command(
    *, org: str | None, instance: str, customers: int, messages: int, seed: int | None, rate: float,
    env_file: str | None, as_json: bool,
) -> int:  # fmt: skip
    """Run ``zapline simulate`` with the settings already in the environment; exit status."""
    if customers < 1 or messages < 1:
        raise SystemExit("zapline simulate: --customers and --messages must be at least 1")
    url = os.environ.get("UAZAPI_URL")
    if not url:
        raise SystemExit("zapline simulate: UAZAPI_URL is not set (run zapline dev, or pass --env-file)")
    try:
        token = _instance_token(org or _default_org(env_file), instance)
        with httpx.Client(base_url=url, timeout=30) as client:
            simulation = Simulation(
                client, token=token, instance=instance, customers=customers, messages=messages, seed=seed
            )
            summary = simulation.run(rate=rate, progress=_progress(messages))
    except SimulateError as exc:
        raise SystemExit(f"zapline simulate: {exc}") from None
    for line in summary.lines():
        print(line, file=sys.stderr)
    if as_json:
        print(json.dumps(summary.to_json(), ensure_ascii=False))
    return 1 if summary.failures else 0

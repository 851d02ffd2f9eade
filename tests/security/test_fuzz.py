"""Fuzzing every door from outside: signed webhook bodies to inbound, bodies to the relay, operator
query strings, bodies and path ids. Whatever comes in: no 5xx, no traceback, no secret in any answer
or in the app's log file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.sandbox.qstash_helpers import client as qstash_client
from tests.security.helpers import Stack, leaked, tenant_secrets
from tests.security.strategies import DEEP, JSON, LEAVES, ODD_TEXT, cursor_like, dumps, mutated
from tests.support import Tenant, deliver, qstash_signature, wait_until

URL_TEXT = st.text(st.characters(codec="utf-8"), max_size=100)  # what a URL can carry (no lone surrogates)
ATTEMPTED = {"DELIVERED", "ERROR", "RETRY", "FAILED"}  # a QStash delivery that reached the app


class Fuzz:
    def __init__(self, stack: Stack, tenant: Tenant, conversation: str, lead: str) -> None:
        self.stack, self.tenant, self.conversation, self.lead = stack, tenant, conversation, lead
        self.secrets = [*stack.deployment_secrets(), *tenant_secrets(tenant)]
        self.http = httpx.Client(base_url=stack.app.url, timeout=30)

    def check(self, response: httpx.Response) -> None:
        assert response.status_code < 500, (response.status_code, response.text[:500])
        assert not leaked(response.text, self.secrets), leaked(response.text, self.secrets)
        assert not leaked(str(response.headers), self.secrets)

    def operator(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tenant.api_key}", **kwargs.pop("headers", {})}
        response = self.http.request(method, path, headers=headers, **kwargs)
        self.check(response)
        return response

    def check_logs(self) -> None:
        logs = self.stack.app.logs()
        assert not [s for s in self.secrets if s in logs], "a secret in the app's logs"
        crashed = [line for line in logs.splitlines() if "crashed" in line]
        assert not crashed, crashed[:3]


@pytest.fixture(scope="module")
def fuzz(stack: Stack) -> Iterator[Fuzz]:
    tenant = stack.tenant("Fuzz")
    raw = json.dumps(__import__("tests.security.strategies", fromlist=["payload"]).payload("text", tenant.token))
    stored = deliver(stack.app.url, tenant.inbound_path, raw.encode(), key=stack.sandbox["QSTASH_CURRENT_SIGNING_KEY"])
    assert stored.status_code == 200, stored.text
    conv = tenant.api("/conversations").json()["items"][0]
    f = Fuzz(stack, tenant, conv["id"], conv["lead_id"])
    yield f
    f.http.close()


def encodable(text: str) -> bool:
    return text == text.encode("utf-8", "replace").decode("utf-8")


def signed_post(f: Fuzz, raw: bytes) -> httpx.Response:
    url = f.stack.app.url + f.tenant.inbound_path
    signature = qstash_signature(url, raw, f.stack.sandbox["QSTASH_CURRENT_SIGNING_KEY"])
    headers = {"Upstash-Signature": signature, "Content-Type": "application/json", "Upstash-Retried": "0"}
    return f.http.post(f.tenant.inbound_path, content=raw, headers=headers)


def test_inbound_takes_any_json_signed(fuzz: Fuzz) -> None:
    @given(value=st.one_of(JSON, DEEP, st.dictionaries(st.sampled_from(["EventType", "token", "type"]), JSON)))
    def run(value: Any) -> None:
        fuzz.check(signed_post(fuzz, dumps(value)))

    run()
    fuzz.check_logs()


def test_a_lone_surrogate_in_a_webhook_is_refused_with_a_reason(fuzz: Fuzz) -> None:
    # found by the fuzzer: the event type was echoed in the error, whose JSON could then not be encoded
    for value in ({"EventType": "\ud800"}, {"EventType": "messages", "message": {"\udfff": 1}, "token": "\ud800"}):
        answer = signed_post(fuzz, dumps(value))
        assert answer.status_code == 489 and answer.json()["error_type"] == "invalid_payload", answer.text
    fuzz.check_logs()


def test_inbound_takes_bent_uazapi_webhooks_signed(fuzz: Fuzz) -> None:
    @given(raw=mutated(fuzz.tenant.token))
    def run(raw: bytes) -> None:
        fuzz.check(signed_post(fuzz, raw))

    run()
    fuzz.check_logs()


def test_the_relay_takes_bent_webhooks_and_inbound_their_deliveries(fuzz: Fuzz) -> None:
    relayed: list[str] = []

    @given(raw=st.one_of(mutated(fuzz.tenant.token), JSON.map(dumps), st.binary(max_size=200)))
    def run(raw: bytes) -> None:
        answer = fuzz.http.post(fuzz.tenant.webhook_url, content=raw, headers={"Content-Type": "application/json"})
        fuzz.check(answer)
        if answer.status_code == 200:
            relayed.append(answer.json()["messageId"])

    run()
    qstash = qstash_client(fuzz.stack.sandbox)
    waiting = set(relayed)

    def all_attempted() -> bool:
        cursor: str | None = None
        for _ in range(100):  # pages of the sandbox's event log, newest first
            page = qstash.log.list(cursor=cursor, count=1000)
            for entry in page.logs:
                if entry.message_id in waiting and entry.state.value in ATTEMPTED:
                    assert (entry.response_status or 0) < 500, (entry.state, entry.response_status, entry.response_body)
                    waiting.discard(entry.message_id)
            cursor = page.cursor
            if not cursor or not waiting:
                break
        return not waiting

    wait_until(all_attempted, timeout=45, interval=0.2, what=f"QStash to deliver {len(relayed)} relayed webhooks")
    fuzz.check_logs()


def test_operator_query_strings(fuzz: Fuzz) -> None:
    conv = fuzz.conversation
    routes = ["/api/v1/conversations", f"/api/v1/conversations/{conv}", f"/api/v1/conversations/{conv}/messages",
              "/api/v1/leads", "/api/v1/stats/daily", "/api/v1/dead-letters", "/api/v1/followups"]  # fmt: skip
    values = st.one_of(URL_TEXT, ODD_TEXT.filter(encodable), st.integers().map(str), cursor_like())
    params = st.fixed_dictionaries(
        {}, optional={"limit": values, "cursor": values, "phone": values, "day": values, "x": values}
    )

    @given(path=st.sampled_from(routes), query=params)
    def run(path: str, query: dict[str, str]) -> None:
        fuzz.operator("GET", path, params=query)

    run()
    fuzz.check_logs()


def test_operator_bodies(fuzz: Fuzz) -> None:
    conv = fuzz.conversation
    text = st.one_of(st.text(max_size=50), ODD_TEXT, LEAVES)
    send = st.one_of(
        JSON,
        st.fixed_dictionaries(
            {}, optional={"text": text, "media_url": text, "media_type": text, "caption": text, "file_name": text}
        ),  # fmt: skip
    )
    steps = st.one_of(JSON, st.fixed_dictionaries({"steps": st.one_of(JSON, st.lists(
        st.fixed_dictionaries({}, optional={"after_seconds": st.one_of(LEAVES, st.integers()), "text": text}),
        max_size=12))}))  # fmt: skip
    subscription = st.one_of(JSON, st.fixed_dictionaries({"conversation_id": st.one_of(text, st.just(conv))}))
    calls = st.one_of(
        st.tuples(st.just(("POST", f"/api/v1/conversations/{conv}/messages")), send),
        st.tuples(st.just(("PUT", "/api/v1/followups")), steps),
        st.tuples(st.just(("POST", "/api/v1/realtime/subscription")), subscription),
    )
    idempotency = st.one_of(
        st.none(), st.text(max_size=300).filter(lambda k: k.isprintable() and k.isascii() and k == k.strip())
    )

    @given(call=calls, key=idempotency)
    def run(call: tuple[tuple[str, str], Any], key: str | None) -> None:
        (method, path), value = call
        headers = {"Content-Type": "application/json", **({"Idempotency-Key": key} if key is not None else {})}
        fuzz.operator(method, path, content=dumps(value), headers=headers)

    run()
    fuzz.check_logs()


def test_operator_path_ids(fuzz: Fuzz) -> None:
    templates = [("GET", "/api/v1/conversations/{}"), ("GET", "/api/v1/conversations/{}/messages"),
                 ("POST", "/api/v1/conversations/{}/close"), ("GET", "/api/v1/leads/{}"),
                 ("POST", "/api/v1/leads/{}/opt-out"), ("POST", "/api/v1/conversations/{}/messages")]  # fmt: skip
    ids = st.one_of(
        URL_TEXT.filter(bool),
        ODD_TEXT.filter(lambda s: bool(s) and encodable(s)),
        st.from_regex(r"(conv|lead|msg)_[0-9a-f]{12}", fullmatch=True),
    )

    @given(template=st.sampled_from(templates), value=ids)
    def run(template: tuple[str, str], value: str) -> None:
        method, path = template
        body = b'{"text": "oi"}' if path.endswith("messages") and method == "POST" else None
        fuzz.operator(method, path.format(quote(value, safe="")), content=body)

    run()
    fuzz.check_logs()

"""The sandbox OpenAI's errors, scripted faults and slow answers, its request log and its memory."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import httpx
import openai
import pytest
import redis as redis_py
from openai import AsyncOpenAI, OpenAI
from starlette.testclient import TestClient

from tests.sandbox.test_openai_chat import last_seq, script, seen
from zapline.sandbox.openai import build

HELLO: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "oi"}]


@pytest.fixture
def settings(sandbox: dict[str, str]) -> Iterator[dict[str, str]]:
    """The session sandbox's settings, with the stand-in's script empty before and after the test."""
    control = sandbox["OPENAI_BASE_URL"].removesuffix("/v1") + "/_sandbox/openai/script"
    httpx.delete(control)
    yield sandbox
    httpx.delete(control)


@pytest.fixture
def control(settings: dict[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=settings["OPENAI_BASE_URL"].removesuffix("/v1"), timeout=10) as http:
        yield http


def client(settings: dict[str, str], *, max_retries: int, timeout: float = 30) -> OpenAI:
    key = settings["OPENAI_API_KEY"]
    return OpenAI(base_url=settings["OPENAI_BASE_URL"], api_key=key, max_retries=max_retries, timeout=timeout)


def test_a_wrong_key_raises_authentication_error(settings: dict[str, str], control: httpx.Client) -> None:
    since = last_seq(control)
    wrong = OpenAI(base_url=settings["OPENAI_BASE_URL"], api_key="sk-wrong-key-0000", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        wrong.chat.completions.create(model="gpt-4o", messages=HELLO)
    assert caught.value.status_code == 401 and caught.value.code == "invalid_api_key"
    assert "Incorrect API key provided: sk-**********0000." in caught.value.message  # as OpenAI masks a key
    assert [(r["endpoint"], r["status"], r["error"]) for r in seen(control, since=since)] == [
        ("chat.completions", 401, "invalid_api_key")
    ]
    wrong.close()
    response = control.get("/v1/models")  # no Authorization header at all
    assert response.status_code == 401
    assert response.json()["error"]["message"].startswith("You didn't provide an API key.")
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_unknown_routes_and_bad_json_answer_in_openai_error_shape(
    settings: dict[str, str], control: httpx.Client
) -> None:
    auth = {"Authorization": f"Bearer {settings['OPENAI_API_KEY']}"}
    missing = control.post("/v1/embeddingz", json={}, headers=auth)
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {"message": "Invalid URL (POST /v1/embeddingz)", "type": "invalid_request_error",
                  "param": None, "code": None}
    }  # fmt: skip
    bad = control.post("/v1/chat/completions", content=b"{not json", headers=auth)
    assert bad.status_code == 400
    assert bad.json()["error"]["message"].startswith("We could not parse the JSON body of your request.")
    assert bad.headers["x-request-id"].startswith("req_")
    no_model = control.post("/v1/chat/completions", json={"messages": HELLO}, headers=auth)
    assert (no_model.status_code, no_model.json()["error"]["message"]) == (400, "you must provide a model parameter")


def test_a_scripted_429_raises_rate_limit_error_without_retries(
    settings: dict[str, str], control: httpx.Client
) -> None:
    script(control, {"fault": {"status": 429, "retry_after": 7}, "times": 1})
    ai = client(settings, max_retries=0)
    with pytest.raises(openai.RateLimitError) as caught:
        ai.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.response.headers["retry-after"] == "7"
    assert "Rate limit reached for gpt-4o-mini" in caught.value.message
    ai.close()


def test_the_sdk_retries_a_scripted_429_after_retry_after(settings: dict[str, str], control: httpx.Client) -> None:
    model = f"gpt-4o-mini-{uuid.uuid4().hex[:6]}"
    script(control, {"match": {"model": model}, "fault": {"status": 429, "retry_after": 0.2}, "times": 1})

    async def ask() -> str | None:
        async with AsyncOpenAI(base_url=settings["OPENAI_BASE_URL"], api_key=settings["OPENAI_API_KEY"]) as ai:
            done = await ai.chat.completions.create(model=model, messages=HELLO)
            return done.choices[0].message.content

    started = time.monotonic()
    assert asyncio.run(ask()) == f"Sandbox answer from {model} to: oi"
    assert time.monotonic() - started >= 0.2  # it waited as Retry-After said
    assert [r["status"] for r in seen(control, model=model)] == [429, 200]


def test_a_slow_answer_trips_the_sdk_timeout(settings: dict[str, str], control: httpx.Client) -> None:
    model = f"gpt-4o-slow-{uuid.uuid4().hex[:6]}"
    script(control, {"match": {"model": model}, "delay": 3})
    ai = client(settings, max_retries=0, timeout=0.3)
    with pytest.raises(openai.APITimeoutError):
        ai.chat.completions.create(model=model, messages=HELLO)
    ai.close()
    assert [r["status"] for r in seen(control, model=model)] == [200]  # it arrived, the answer was late


def test_a_queue_is_served_in_order_then_the_default(settings: dict[str, str], control: httpx.Client) -> None:
    rules = script(control, {"match": {"endpoint": "chat.completions"}, "queue": [
        {"answer": {"content": "primeira"}},
        {"fault": {"status": 500}},
        {"answer": {"content": "truncada", "finish_reason": "length"}},
    ]})  # fmt: skip
    assert [r["times"] for r in rules] == [1, 1, 1]
    ai = client(settings, max_retries=0)
    assert ai.chat.completions.create(model="gpt-4o", messages=HELLO).choices[0].message.content == "primeira"
    with pytest.raises(openai.InternalServerError) as caught:
        ai.chat.completions.create(model="gpt-4o", messages=HELLO)
    assert caught.value.body == {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error", "param": None, "code": None,
    }  # fmt: skip
    third = ai.chat.completions.create(model="gpt-4o", messages=HELLO).choices[0]
    assert (third.message.content, third.finish_reason) == ("truncada", "length")
    assert str(ai.chat.completions.create(model="gpt-4o", messages=HELLO).choices[0].message.content).startswith("Sand")
    assert control.get("/_sandbox/openai/script").json() == {"rules": []}
    ai.close()


def test_times_and_removing_a_rule(settings: dict[str, str], control: httpx.Client) -> None:
    (twice,) = script(control, {"match": {"contains": "preço"}, "answer": {"content": "R$ 10"}, "times": 2})
    (forever,) = script(control, {"match": {"contains": "horário"}, "answer": {"content": "9h às 18h"}})
    ai = client(settings, max_retries=0)

    def ask(text: str) -> str | None:
        return (
            ai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": text}])
            .choices[0]
            .message.content
        )

    assert [ask("qual o preço?") for _ in range(3)][:2] == ["R$ 10", "R$ 10"]
    assert ask("qual o preço?") != "R$ 10"
    assert control.get("/_sandbox/openai/script").json()["rules"] == [{**forever, "used": 0}]
    assert ask("horário?") == ask("horário?") == "9h às 18h"
    assert control.delete(f"/_sandbox/openai/script/{forever['id']}").status_code == 200
    assert control.delete(f"/_sandbox/openai/script/{twice['id']}").status_code == 404
    assert ask("horário?") != "9h às 18h"
    ai.close()


@pytest.mark.parametrize(
    "body",
    [{"answer": {"mood": "happy"}}, {"fault": {"status": 200}}, {"match": {"endpoint": "embeddings"}, "delay": 1},
     {"answer": {"content": "x"}, "times": 0}, {"queue": []}, {}, {"delay": 601}],
)  # fmt: skip
def test_a_script_it_cannot_follow_is_400(control: httpx.Client, body: dict[str, object]) -> None:
    response = control.post("/_sandbox/openai/script", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_the_request_log_pages_with_since_and_limit(settings: dict[str, str], control: httpx.Client) -> None:
    since = last_seq(control)
    ai = client(settings, max_retries=0)
    for n in range(3):
        ai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": f"msg {n}"}])
    ai.models.list()
    ai.close()
    records = seen(control, since=since)
    assert [r["seq"] for r in records] == list(range(since + 1, since + 5))
    assert [r["endpoint"] for r in records] == ["chat.completions"] * 3 + ["models"]
    assert [r["messages"][0]["text"] for r in records[:3]] == ["msg 0", "msg 1", "msg 2"]
    assert [r["seq"] for r in seen(control, since=since, limit=2)] == [since + 3, since + 4]
    assert len(seen(control, since=since, endpoint="models")) == 1
    assert control.get("/_sandbox/openai/requests", params={"since": "x"}).status_code == 400


def test_the_script_and_log_survive_a_restart(sandbox: dict[str, str]) -> None:
    url = sandbox["REDIS_URL"] + "/13"  # a database of this test's own
    direct = redis_py.Redis.from_url(url)
    direct.flushdb()
    options = {"api_key": "sk-test", "redis_url": url}
    auth = {"Authorization": "Bearer sk-test"}
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "oi"}]}

    def answer(app: TestClient) -> object:
        return app.post("/v1/chat/completions", json=body, headers=auth).json()["choices"][0]["message"]["content"]

    with TestClient(build(options)) as first:
        first.post("/_sandbox/openai/script", json={"answer": {"content": "um"}, "times": 2})
        assert answer(first) == "um"
    with TestClient(build(options)) as again:
        (rule,) = again.get("/_sandbox/openai/script").json()["rules"]
        assert (rule["times"], rule["used"]) == (1, 1)
        assert answer(again) == "um"
        records = again.get("/_sandbox/openai/requests").json()
        assert [r["seq"] for r in records["requests"]] == [1, 2] and records["last_seq"] == 2
        added = again.post("/_sandbox/openai/script", json={"answer": {"content": "x"}}).json()
        assert added["rules"][0]["id"] == "rule_2"
    direct.flushdb()
    direct.close()

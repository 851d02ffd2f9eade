"""The sandbox OpenAI's chat completions, through the official ``openai`` SDK unchanged."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any, Literal

import httpx
import openai
import pytest
from openai import OpenAI
from openai.types.chat import ChatCompletionMessageFunctionToolCall as FunctionCall
from pydantic import BaseModel

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.fixture
def ai(sandbox: dict[str, str]) -> Iterator[OpenAI]:
    client = OpenAI(base_url=sandbox["OPENAI_BASE_URL"], api_key=sandbox["OPENAI_API_KEY"], max_retries=0)
    yield client
    client.close()


@pytest.fixture
def control(sandbox: dict[str, str]) -> Iterator[httpx.Client]:
    """The stand-in's /_sandbox/openai endpoints, with an empty script before and after the test."""
    with httpx.Client(base_url=sandbox["OPENAI_BASE_URL"].removesuffix("/v1"), timeout=10) as http:
        assert http.delete("/_sandbox/openai/script").status_code == 200
        yield http
        http.delete("/_sandbox/openai/script")


def script(control: httpx.Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = control.post("/_sandbox/openai/script", json=body)
    assert response.status_code == 201, response.text
    rules: list[dict[str, Any]] = response.json()["rules"]
    return rules


def seen(control: httpx.Client, **params: str | int) -> list[dict[str, Any]]:
    response = control.get("/_sandbox/openai/requests", params=params)
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()["requests"]
    return records


def last_seq(control: httpx.Client) -> int:
    return int(control.get("/_sandbox/openai/requests", params={"limit": 1}).json()["last_seq"])


def test_a_plain_completion_echoes_the_model_and_counts_tokens(ai: OpenAI, control: httpx.Client) -> None:
    messages: Any = [
        {"role": "system", "content": "Você é a assistente da Acme."},
        {"role": "user", "content": "Qual o horário de funcionamento?"},
    ]
    done = ai.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert done.id.startswith("chatcmpl-") and done.object == "chat.completion"
    assert done.model == "gpt-4o-mini"
    (choice,) = done.choices
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert choice.message.content is not None and "Qual o horário de funcionamento?" in choice.message.content
    assert choice.message.tool_calls is None
    usage = done.usage
    assert usage is not None and usage.prompt_tokens > 10 and usage.completion_tokens > 5
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    again = ai.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert again.choices[0].message.content == choice.message.content  # deterministic
    assert again.usage == usage
    assert again.id != done.id


def test_image_parts_are_recorded_with_their_url_or_decoded_size(ai: OpenAI, control: httpx.Client) -> None:
    since = last_seq(control)
    data_url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    content: Any = [
        {"type": "text", "text": "O que há nestas fotos?"},
        {"type": "image_url", "image_url": {"url": "https://cdn.example.com/foto.jpg", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": data_url}},
    ]
    done = ai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": content}])
    assert done.usage is not None and done.usage.prompt_tokens >= 85 + 765  # one low, one auto-detail image
    (record,) = seen(control, since=since)
    assert (record["endpoint"], record["model"], record["status"]) == ("chat.completions", "gpt-4o", 200)
    (message,) = record["messages"]
    assert message["text"] == "O que há nestas fotos?"
    assert message["parts"] == [
        {"type": "text", "chars": 22},
        {"type": "image_url", "url": "https://cdn.example.com/foto.jpg", "detail": "low"},
        {"type": "image_url", "data_url": True, "mime": "image/png", "bytes": len(PNG), "detail": "auto"},
    ]


@pytest.mark.parametrize(
    ("url", "code"),
    [("data:image/png;base64,@@not-base64@@", "invalid_image_url"),
     ("data:image/bmp;base64," + base64.b64encode(b"BM").decode(), "invalid_image_format")],
)  # fmt: skip
def test_a_bad_data_url_is_refused_as_openai_does(ai: OpenAI, control: httpx.Client, url: str, code: str) -> None:
    content: Any = [{"type": "image_url", "image_url": {"url": url}}]
    with pytest.raises(openai.BadRequestError) as caught:
        ai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": content}])
    assert caught.value.status_code == 400 and caught.value.code == code
    assert caught.value.param == "messages[0].content[0].image_url.url"


TOOLS: Any = [
    {
        "type": "function",
        "function": {
            "name": "order_status",
            "description": "Where an order is",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}, "notify": {"type": "boolean"}},
                "required": ["order_id", "notify"],
                "additionalProperties": False,
            },
        },
    },
    {"type": "function", "function": {"name": "human_handoff", "parameters": {"type": "object", "properties": {}}}},
]


def test_a_scripted_tool_call_is_parsed_by_the_sdk(ai: OpenAI, control: httpx.Client) -> None:
    marker = uuid.uuid4().hex[:8]
    call = {"name": "order_status", "arguments": {"order_id": "A-17", "notify": True}}
    script(control, {"match": {"contains": marker, "tools": True}, "answer": {"tool_calls": [call]}, "times": 1})
    question = f"Cadê meu pedido A-17? {marker}"
    done = ai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": question}], tools=TOOLS)
    (choice,) = done.choices
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    assert choice.message.tool_calls is not None
    (tool_call,) = choice.message.tool_calls
    assert isinstance(tool_call, FunctionCall) and tool_call.id.startswith("call_")
    assert tool_call.function.name == "order_status"
    assert json.loads(tool_call.function.arguments) == {"order_id": "A-17", "notify": True}

    since = last_seq(control)
    follow_up: Any = [
        {"role": "user", "content": question},
        {"role": "assistant", "content": None, "tool_calls": [tool_call.model_dump()]},
        {"role": "tool", "tool_call_id": tool_call.id, "content": '{"status": "shipped"}'},
    ]
    answered = ai.chat.completions.create(model="gpt-4o", messages=follow_up, tools=TOOLS)
    assert answered.choices[0].finish_reason == "stop"  # the rule was used once: the default answer
    (record,) = seen(control, since=since)
    assert record["tools"] == ["order_status", "human_handoff"] and record["rule"] is None
    assert record["messages"][1]["tool_calls"] == ["order_status"]
    assert record["messages"][2]["tool_call_id"] == tool_call.id


def test_a_required_tool_choice_gets_a_call_with_valid_arguments(ai: OpenAI, control: httpx.Client) -> None:
    done = ai.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "status?"}], tools=TOOLS, tool_choice="required"
    )
    (call,) = done.choices[0].message.tool_calls or []
    assert isinstance(call, FunctionCall) and call.function.name == "order_status"
    assert json.loads(call.function.arguments) == {"order_id": "", "notify": False}
    forced = ai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "status?"}],
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "human_handoff"}},
    )
    (forced_call,) = forced.choices[0].message.tool_calls or []
    assert isinstance(forced_call, FunctionCall) and forced_call.function.name == "human_handoff"


class Item(BaseModel):
    sku: str
    quantity: int


class Reply(BaseModel):
    intent: Literal["buy", "complain", "other"]
    sentiment: float
    items: list[Item]
    needs_human: bool
    note: str | None


def test_parse_with_a_pydantic_model_gets_a_valid_instance(ai: OpenAI, control: httpx.Client) -> None:
    since = last_seq(control)
    done = ai.chat.completions.parse(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Quero 2 camisetas"}], response_format=Reply
    )
    parsed = done.choices[0].message.parsed
    assert parsed == Reply(intent="buy", sentiment=0, items=[], needs_human=False, note="")  # anyOf: its first branch
    (record,) = seen(control, since=since)
    assert record["response_format"] == "json_schema:Reply"


def test_a_scripted_json_answer_is_what_parse_returns(ai: OpenAI, control: httpx.Client) -> None:
    answer = {"intent": "complain", "sentiment": -0.8, "items": [{"sku": "TSHIRT-M", "quantity": 2}],
              "needs_human": True, "note": "atrasado"}  # fmt: skip
    script(control, {"match": {"model": "gpt-4.1-mini"}, "answer": {"json": answer}})
    done = ai.chat.completions.parse(
        model="gpt-4.1-mini", messages=[{"role": "user", "content": "Meu pedido atrasou!"}], response_format=Reply
    )
    assert done.choices[0].message.parsed == Reply.model_validate(answer)


def test_a_json_schema_with_defs_refs_enums_and_bounds_gets_a_valid_instance(ai: OpenAI, control: httpx.Client) -> None:
    schema = {
        "type": "object",
        "properties": {
            "lead": {"$ref": "#/$defs/Lead"},
            "score": {"type": "integer", "minimum": 1, "maximum": 5},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "channel": {"anyOf": [{"type": "string", "enum": ["whatsapp", "email"]}, {"type": "null"}]},
        },
        "required": ["lead", "score", "tags", "channel"],
        "additionalProperties": False,
        "$defs": {
            "Lead": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "minLength": 2},
                    "since": {"type": "string", "format": "date"},
                },
                "required": ["name", "since"],
                "additionalProperties": False,
            }
        },
    }
    done = ai.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "Classifique"}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "lead_score", "strict": True, "schema": schema},
        },
    )
    content = done.choices[0].message.content
    assert content is not None
    assert json.loads(content) == {"lead": {"name": "aa", "since": "1970-01-01"}, "score": 1, "tags": [""],
                                   "channel": "whatsapp"}  # fmt: skip


def test_streaming_and_json_mode_without_the_word_json_are_refused(ai: OpenAI, control: httpx.Client) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        ai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "oi"}], stream=True)
    assert caught.value.param == "stream"
    with pytest.raises(openai.BadRequestError) as json_mode:
        ai.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "oi"}], response_format={"type": "json_object"}
        )
    assert "must contain the word 'json'" in json_mode.value.message
    done = ai.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "answer in JSON"}],
        response_format={"type": "json_object"},
    )
    assert done.choices[0].message.content == "{}"

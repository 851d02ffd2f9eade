"""``POST /v1/chat/completions``: the request checked and summarised, the completion object built.

Without a scripted answer the reply is deterministic: for ``response_format`` ``json_schema`` the
smallest instance the schema accepts (:mod:`.schema`), for ``json_object`` ``{}``, for a
``tool_choice`` that requires a function a call with the smallest valid arguments, otherwise a
sentence quoting the last user message. Token counts are an estimate (:func:`tokens`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from zapline.sandbox.openai.errors import OpenAIError, invalid, missing
from zapline.sandbox.openai.schema import instance

__all__ = ["ChatRequest", "completion", "parse_chat", "tokens"]

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
DATA_URL = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[\w.+-]+=[^;,]*)*);base64,(?P<data>.*)", re.S)
ANSWER_FIELDS = {"content", "tool_calls", "json", "refusal"}  # a scripted answer without them: the default
MAX_TEXT = 2_000  # characters of each message kept in GET /_sandbox/openai/requests
IMAGE_TOKENS = {"low": 85}  # otherwise 765: a 1024x1024 image at high detail (85 + 4 tiles x 170)


@dataclass
class ChatRequest:
    model: str
    messages: list[dict[str, Any]]  # summarised: role, text, parts, tool calls
    last_user_text: str
    tools: dict[str, Any]  # function name -> its parameters schema
    tool_choice: Any
    response_format: dict[str, Any] | None
    n: int
    prompt_tokens: int
    summary: dict[str, Any] = field(default_factory=dict)


def tokens(text: str) -> int:
    """About four characters a token, as OpenAI's rule of thumb for English."""
    return -(-len(text) // 4)


def parse_chat(body: dict[str, Any]) -> ChatRequest:
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise OpenAIError(400, "you must provide a model parameter")
    if "messages" not in body:
        raise missing("messages")
    raw_messages = body["messages"]
    if not isinstance(raw_messages, list):
        raise invalid("messages", "Invalid type for 'messages': expected an array of objects.", "invalid_type")
    if not raw_messages:
        raise invalid("messages", "Invalid 'messages': empty array. Expected an array with minimum length 1.")
    if body.get("stream"):
        raise invalid("stream", "The sandbox OpenAI does not stream: send the request without stream.", None)
    parsed = [_message(m, i) for i, m in enumerate(raw_messages)]
    messages = [summary for summary, _ in parsed]
    tools = _tools(body.get("tools"))
    response_format = _response_format(body.get("response_format"), messages)
    n = body.get("n") or 1
    if not isinstance(n, int) or not 1 <= n <= 128:
        raise invalid("n", f"Invalid 'n': integer below minimum value. Expected a value >= 1, but got {n} instead.")
    user = [m for m in messages if m["role"] == "user"]
    prompt = sum(4 + tokens(m["text"]) + images for m, images in parsed) + 3
    prompt += tokens(json.dumps(body.get("tools") or "")) if tools else 0
    prompt += tokens(json.dumps(response_format)) if response_format else 0
    request = ChatRequest(
        model=body["model"], messages=messages, last_user_text=user[-1].get("text", "") if user else "",
        tools=tools, tool_choice=body.get("tool_choice"), response_format=response_format, n=n, prompt_tokens=prompt,
    )  # fmt: skip
    request.summary = {
        "model": request.model,
        "messages": messages,
        "tools": list(tools),
        "tool_choice": request.tool_choice,
        "response_format": _format_name(response_format),
    }
    return request


def _message(raw: Any, index: int) -> tuple[dict[str, Any], int]:
    """The message as recorded, and the tokens its images count."""
    where = f"messages[{index}]"
    if not isinstance(raw, dict) or raw.get("role") not in ("system", "developer", "user", "assistant", "tool"):
        raise invalid(
            f"{where}.role",
            f"Invalid value for '{where}.role': expected one of 'system', 'developer', 'user', 'assistant' or 'tool'.",
        )
    out: dict[str, Any] = {"role": raw["role"]}
    content = raw.get("content")
    texts: list[str] = []
    image_tokens = 0
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        parts = []
        for j, part in enumerate(content):
            summary = _part(part, f"{where}.content[{j}]")
            if summary["type"] == "text":
                texts.append(str(part.get("text", "")))
            if summary["type"] == "image_url":
                image_tokens += IMAGE_TOKENS.get(str(summary.get("detail")), 765)
            parts.append(summary)
        out["parts"] = parts
    elif content is not None:
        raise invalid(f"{where}.content", f"Invalid type for '{where}.content': expected a string or an array.")
    elif raw["role"] != "assistant":
        raise missing(f"{where}.content")
    out["text"] = "\n".join(texts)[:MAX_TEXT]
    if isinstance(raw.get("tool_calls"), list):
        calls = [c for c in raw["tool_calls"] if isinstance(c, dict)]
        out["tool_calls"] = [str((c.get("function") or {}).get("name")) for c in calls]
    if raw["role"] == "tool":
        out["tool_call_id"] = raw.get("tool_call_id")
    return out, image_tokens


def _part(part: Any, where: str) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "text":
        return {"type": "text", "chars": len(str(part.get("text", "")))}
    if kind != "image_url":
        return {"type": str(kind)}  # input_audio, file, refusal: recorded by type, not checked
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else None
    if not isinstance(url, str):
        raise missing(f"{where}.image_url.url")
    detail = image.get("detail", "auto")
    if url.startswith(("https://", "http://")):
        return {"type": "image_url", "url": url, "detail": detail}
    found = DATA_URL.fullmatch(url)
    if not url.startswith("data:") or not found:
        raise invalid(f"{where}.image_url.url", "Invalid image URL: expected an http(s) URL or a base64 data URL.")
    try:
        data = base64.b64decode(found["data"], validate=True)
    except (binascii.Error, ValueError):
        raise invalid(f"{where}.image_url.url", "Invalid base64 image_url.", "invalid_image_url") from None
    mime = (found["mime"] or "").lower()
    if mime not in IMAGE_TYPES:
        raise invalid(
            f"{where}.image_url.url",
            "You uploaded an unsupported image. Please make sure your image has of one the following formats: "
            "['png', 'jpeg', 'gif', 'webp'].",
            "invalid_image_format",
        )
    return {"type": "image_url", "data_url": True, "mime": mime, "bytes": len(data), "detail": detail}


def _tools(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise invalid("tools", "Invalid type for 'tools': expected an array of objects.", "invalid_type")
    tools = {}
    for i, tool in enumerate(raw):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise missing(f"tools[{i}].function.name" if isinstance(function, dict) else f"tools[{i}].function")
        tools[function["name"]] = function.get("parameters") or {"type": "object", "properties": {}}
    return tools


def _response_format(raw: Any, messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    if raw is None:
        return None
    kind = raw.get("type") if isinstance(raw, dict) else None
    if kind == "json_schema":
        schema = raw.get("json_schema")
        if not isinstance(schema, dict) or not isinstance(schema.get("name"), str):
            where = "response_format.json_schema"
            raise missing(f"{where}.name" if isinstance(schema, dict) else where)
        return dict(raw)
    if kind == "json_object":
        if not any("json" in m.get("text", "").lower() for m in messages):
            raise invalid(
                "messages",
                "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
                None,
            )
        return dict(raw)
    if kind == "text":
        return None
    raise invalid("response_format.type", "Invalid value for 'response_format.type': expected 'text', "
                  "'json_object' or 'json_schema'.")  # fmt: skip


def _format_name(response_format: dict[str, Any] | None) -> str | None:
    if response_format is None:
        return None
    if response_format["type"] == "json_schema":
        return f"json_schema:{response_format['json_schema']['name']}"
    return str(response_format["type"])


def completion(request: ChatRequest, answer: dict[str, Any] | None, seq: int) -> dict[str, Any]:
    """The ``chat.completion`` object for this request: the scripted ``answer``, else the default."""
    answer = answer or {}
    if not ANSWER_FIELDS & set(answer):
        answer = {**_default(request), **answer}
    calls = [_tool_call(call, seq, i) for i, call in enumerate(answer.get("tool_calls") or [])]
    content = json.dumps(answer["json"], ensure_ascii=False) if "json" in answer else answer.get("content")
    message: dict[str, Any] = {
        "role": "assistant", "content": content, "refusal": answer.get("refusal"), "annotations": [],
    }  # fmt: skip
    if calls:
        message["tool_calls"] = calls
    finish = answer.get("finish_reason") or ("tool_calls" if calls else "stop")
    written = (content or "") + (answer.get("refusal") or "") + "".join(c["function"]["arguments"] for c in calls)
    completion_tokens = max(1, tokens(written)) * request.n
    choice = {"message": message, "logprobs": None, "finish_reason": finish}
    return {
        "id": f"chatcmpl-{_digest('chatcmpl', seq, 29)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.model,
        "choices": [{"index": i, **choice} for i in range(request.n)],
        "usage": {
            "prompt_tokens": request.prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": request.prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },  # fmt: skip
        },
        "service_tier": "default",
        "system_fingerprint": "fp_sandbox",
    }


def _default(request: ChatRequest) -> dict[str, Any]:
    choice = request.tool_choice
    forced = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
    if request.tools and (choice == "required" or forced in request.tools):
        name = forced if forced in request.tools else next(iter(request.tools))
        return {"tool_calls": [{"name": name, "arguments": instance(request.tools[name])}]}
    fmt = request.response_format
    if fmt and fmt["type"] == "json_schema":
        return {"json": instance(fmt["json_schema"].get("schema", {}))}
    if fmt and fmt["type"] == "json_object":
        return {"json": {}}
    said = request.last_user_text.strip() or "(no text)"
    return {"content": f"Sandbox answer from {request.model} to: {said[:200]}"}


def _tool_call(call: dict[str, Any], seq: int, index: int) -> dict[str, Any]:
    arguments = call.get("arguments", {})
    text = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
    return {
        "id": call.get("id") or f"call_{_digest('call', f'{seq}.{index}', 24)}",
        "type": "function",
        "function": {"name": call["name"], "arguments": text},
    }


def _digest(kind: str, value: object, size: int) -> str:
    """Ids derived from the request's sequence number: the same run answers with the same ids."""
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()[:size]

"""The OpenAI calls of the AI jobs, through the official SDK, imported here and only here.

``openai`` costs ~620 ms of import: it is imported on the first call, so only the jobs that call a
model pay it (the inbound, relay and admin functions never import this module). The SDK's own
retries are off: a 429 or 5xx becomes :class:`AiUnavailable` with OpenAI's ``Retry-After``, which
the job answers as 503 so QStash retries after it; any other 4xx is :class:`AiRejected`, which
goes to the dead letters with OpenAI's reason. Every call's tokens are counted on the
organisation's day (``ai/budget.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zapline import outgoing
from zapline.ai.budget import charge
from zapline.config import get_settings
from zapline.errors import AiRejected, AiUnavailable

if TYPE_CHECKING:
    from openai import AsyncOpenAI

__all__ = ["Completion", "chat", "openai_client", "transcribe"]

_client: AsyncOpenAI | None = None
MODEL_TIMEOUT = 60.0  # seconds: a model may think for a while; the jobs' QStash timeout is 120 s


def openai_client() -> AsyncOpenAI:
    global _client
    if _client is None:
        from openai import AsyncOpenAI

        settings = get_settings()
        if not settings.openai_api_key:
            raise AiRejected("OPENAI_API_KEY is not set: the AI cannot run on this deployment")
        _client = AsyncOpenAI(base_url=settings.openai_base_url, api_key=settings.openai_api_key, max_retries=0,
                              timeout=MODEL_TIMEOUT)  # fmt: skip
    return _client


@dataclass(frozen=True)
class Completion:
    content: str | None
    tool_calls: list[tuple[str, str, str]]  # (id, function name, JSON arguments)
    refusal: str | None
    raw_message: dict[str, Any]  # the assistant message, to send back with tool results


def _classify(exc: Exception) -> Exception:
    import openai

    if isinstance(exc, openai.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        detail = str(body.get("message") or exc.message)[:300]
        return outgoing.failure("OpenAI", exc.status_code, detail, exc.response.headers.get("retry-after"),
                                unavailable=AiUnavailable, rejected=AiRejected)  # fmt: skip
    if isinstance(exc, openai.APITimeoutError):
        return AiUnavailable("OpenAI timed out")
    if isinstance(exc, openai.APIConnectionError):
        return AiUnavailable("OpenAI unreachable")
    return exc


async def chat(
    org_id: str,
    purpose: str,
    *,
    model: str,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
    response_format: dict[str, Any] | None = None,
    max_tokens: int = 800,
    replies: int = 0,
) -> Completion:
    """One chat completion; its tokens counted as ``purpose``."""
    import openai

    extra: dict[str, Any] = {}
    if tools:
        extra["tools"] = tools
    if response_format:
        extra["response_format"] = response_format
    try:
        answer = await openai_client().chat.completions.create(
            model=model,
            messages=messages,  # type: ignore[arg-type]  # plain dicts, as the API takes them
            max_tokens=max_tokens,
            **extra,
        )
    except openai.OpenAIError as exc:
        raise _classify(exc) from None
    tokens = answer.usage.total_tokens if answer.usage else 0
    await charge(org_id, purpose, tokens, replies=replies)
    if not answer.choices:
        raise AiRejected("OpenAI answered no choices")
    message = answer.choices[0].message
    calls = [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or [] if c.type == "function"]
    return Completion(message.content, calls, message.refusal, message.model_dump(exclude_none=True))


async def transcribe(org_id: str, *, model: str, file_name: str, data: bytes, mimetype: str) -> str:
    """A voice note's transcript (counted as its transcript's tokens, ~4 characters each)."""
    import openai

    try:
        answer = await openai_client().audio.transcriptions.create(model=model, file=(file_name, data, mimetype))
    except openai.OpenAIError as exc:
        raise _classify(exc) from None
    text = answer.text or ""
    await charge(org_id, "audio", -(-len(text) // 4))
    return text

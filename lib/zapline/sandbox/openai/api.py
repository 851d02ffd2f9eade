"""The OpenAI API routes: ``/v1/chat/completions``, ``/v1/audio/transcriptions``, ``/v1/models``.

Every request goes the same way (:func:`_serve`): the bearer key is checked, the request parsed,
the first matching scripted rule taken, the request logged (with the status it is going to get),
the rule's delay waited, then its fault raised or its answer (else the default) sent.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from zapline.sandbox.openai.audio import parse_multipart, parse_transcription, transcription
from zapline.sandbox.openai.chat import completion, parse_chat
from zapline.sandbox.openai.config import MODELS
from zapline.sandbox.openai.errors import OpenAIError, invalid_json, no_key, status_error, wrong_key
from zapline.sandbox.openai.script import Facts
from zapline.sandbox.openai.service import Service

__all__ = ["json_body", "reply", "routes", "service"]

Answer = dict[str, Any] | None


@dataclass
class Parsed:
    facts: Facts
    summary: dict[str, Any]
    respond: Callable[[Answer, int], Response]  # (scripted answer or None, request seq) -> the answer


def service(request: Request) -> Service:
    found: Service = request.app.state.service
    return found


def reply(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    headers = {"x-request-id": f"req_{secrets.token_hex(16)}", "openai-version": "2020-10-01", **(headers or {})}
    if isinstance(content, str):
        return PlainTextResponse(content, status, headers=headers)
    return JSONResponse(content, status, headers=headers)


async def json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise invalid_json() from None
    if not isinstance(body, dict):
        raise invalid_json()
    return body


def _authenticate(request: Request, api_key: str) -> None:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise no_key()
    if not hmac.compare_digest(key.strip().encode(), api_key.encode()):
        raise wrong_key(key.strip())


async def _serve(request: Request, endpoint: str, parse: Callable[[Request], Awaitable[Parsed]]) -> Response:
    svc = service(request)
    entry: dict[str, Any] = {"endpoint": endpoint, "method": request.method, "path": request.url.path}
    try:
        _authenticate(request, svc.options.api_key)
        parsed = await parse(request)
    except OpenAIError as exc:
        await svc.record({**entry, "status": exc.status, "error": exc.code or exc.type})
        raise
    rule = svc.take(parsed.facts)
    fault = rule.fault if rule else None
    status = int(fault["status"]) if fault else 200
    record = await svc.record(
        {**entry, **parsed.summary, "status": status, "rule": rule.id if rule else None}, script_changed=bool(rule)
    )
    if rule and rule.delay:
        await asyncio.sleep(rule.delay)  # a slow model: the client's timeout is what is being tested
    if fault:
        raise status_error(
            status,
            model=parsed.facts.model,
            retry_after=fault.get("retry_after"),
            message=fault.get("message", ""),
            code=fault.get("code", ""),
        )
    return parsed.respond(rule.answer if rule else None, int(record["seq"]))


async def _chat(request: Request) -> Parsed:
    chat = parse_chat(await json_body(request))
    facts = Facts("chat.completions", chat.model, chat.last_user_text, bool(chat.tools))
    return Parsed(facts, chat.summary, lambda answer, seq: reply(completion(chat, answer, seq)))


async def _transcription(request: Request) -> Parsed:
    fields = parse_multipart(request.headers.get("content-type", ""), await request.body())
    audio = parse_transcription(fields)
    facts = Facts("audio.transcriptions", audio.model, audio.file.name)
    return Parsed(facts, audio.summary, lambda answer, seq: reply(transcription(audio, answer)))


def _model(model_id: str) -> dict[str, Any]:
    for name, created, owner in MODELS:
        if name == model_id:
            return {"id": name, "object": "model", "created": created, "owned_by": owner}
    raise OpenAIError(404, f"The model '{model_id}' does not exist", param="model", code="model_not_found")


async def _models(request: Request) -> Parsed:
    model_id = request.path_params.get("model")
    if model_id is not None:
        found = _model(model_id)
        return Parsed(Facts("models", model_id), {"model": model_id}, lambda answer, seq: reply(found))
    listing = {"object": "list", "data": [_model(name) for name, _, _ in MODELS]}
    return Parsed(Facts("models"), {}, lambda answer, seq: reply(listing))


async def chat_completions(request: Request) -> Response:
    return await _serve(request, "chat.completions", _chat)


async def audio_transcriptions(request: Request) -> Response:
    return await _serve(request, "audio.transcriptions", _transcription)


async def models(request: Request) -> Response:
    return await _serve(request, "models", _models)


routes = [
    Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    Route("/v1/audio/transcriptions", audio_transcriptions, methods=["POST"]),
    Route("/v1/models", models, methods=["GET"]),
    Route("/v1/models/{model:path}", models, methods=["GET"]),
]

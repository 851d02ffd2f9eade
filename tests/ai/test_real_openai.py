"""Opt-in: Zapline's tool and response schemas against the real OpenAI API.

Runs only when the environment's ``OPENAI_API_KEY`` is a real key (not the sandbox's ``sk-sandbox-…``)
and ``ZAPLINE_REAL_OPENAI=1`` says the network may be used; otherwise it is skipped and says why. It
checks what the stand-in cannot: that OpenAI itself accepts the function schemas of the reply and the
assistant and the JSON schemas of the extraction and the lesson, and that its answers validate.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

KEY = os.environ.get("OPENAI_API_KEY", "")
REAL = KEY.startswith("sk-") and not KEY.startswith("sk-sandbox-") and os.environ.get("ZAPLINE_REAL_OPENAI") == "1"
pytestmark = pytest.mark.skipif(
    not REAL, reason="offline: set a real OPENAI_API_KEY and ZAPLINE_REAL_OPENAI=1 to run against api.openai.com"
)


def test_real_openai_accepts_our_schemas_and_answers_validate() -> None:
    asyncio.run(_ask_openai())


async def _ask_openai() -> None:
    from openai import AsyncOpenAI

    from zapline.ai import assistant, reply
    from zapline.ai.learn import Lesson
    from zapline.ai.media import DocumentReading, _schema

    model = os.environ.get("ZAPLINE_AI_MODEL", "gpt-4o-mini")
    lesson_format = {"type": "json_schema", "json_schema": {"name": "lesson", "schema": Lesson.model_json_schema()}}
    asks: list[dict[str, Any]] = [
        {"tools": reply.TOOLS, "messages": [{"role": "user", "content": "Oi, tudo bem?"}]},
        {"tools": assistant.TOOLS, "messages": [{"role": "user", "content": "Quantas mensagens hoje?"}]},
        {"response_format": _schema(DocumentReading, "document"),
         "messages": [{"role": "user", "content": "Orçamento 118: 3 cadeiras, total R$ 1.290,00, validade 15 dias."}]},
        {"response_format": lesson_format,
         "messages": [{"role": "user", "content": "Cliente: aceitam pix? Empresa: sim, com 5% de desconto."}]},
    ]  # fmt: skip
    async with AsyncOpenAI(api_key=KEY, max_retries=2, timeout=60) as client:
        create: Any = client.chat.completions.create
        answers = [await create(model=model, max_tokens=400, **ask) for ask in asks]
    for answer in answers:
        assert answer.choices and answer.usage and answer.usage.total_tokens > 0
    DocumentReading.model_validate_json(answers[2].choices[0].message.content or "")
    Lesson.model_validate_json(answers[3].choices[0].message.content or "")

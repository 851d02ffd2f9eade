"""A job handler declared only by the registry test: it records what it received."""

from __future__ import annotations

from typing import Any

from tests.registry.test_jobs import EchoJob

received: list[tuple[EchoJob, str | None]] = []


async def echo(job: EchoJob, delivery: Any) -> dict[str, Any]:
    received.append((job, delivery.message_id))
    return {"outcome": "echoed", "word": job.word}

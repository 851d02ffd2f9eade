"""Shared by the sandbox QStash tests: clients, signature checks, the sandbox clock, own sandboxes.

Tests that move the sandbox clock run against a sandbox of their own (:func:`own_sandbox`, used by
a module-scoped fixture), never the session one: the clock is global per sandbox, and advancing it
would fire other tests' delayed messages and retries early. Within such a module tests run one at
a time on a worker (pytest-xdist gives each worker its own instance of a module fixture).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypedDict

import httpx
from qstash import AsyncQStash, QStash, Receiver

from tests.receiver import Recorded
from tests.support import AppProcess, SandboxProcess

_CLIENTS: dict[tuple[str, str], QStash] = {}


def client(settings: dict[str, str]) -> QStash:
    """One SDK client per sandbox and token for the whole run: the SDK never closes its httpx
    client, so a client garbage-collected mid-test raises ResourceWarning (an error here)."""
    key = (settings["QSTASH_URL"], settings["QSTASH_TOKEN"])
    if key not in _CLIENTS:
        _CLIENTS[key] = QStash(settings["QSTASH_TOKEN"], base_url=settings["QSTASH_URL"])
    return _CLIENTS[key]


@asynccontextmanager
async def async_client(settings: dict[str, str]) -> AsyncIterator[AsyncQStash]:
    """An ``AsyncQStash`` closed on exit (the SDK has no close method of its own)."""
    qstash = AsyncQStash(settings["QSTASH_TOKEN"], base_url=settings["QSTASH_URL"])
    try:
        yield qstash
    finally:
        await qstash.http._client.aclose()


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def verify(settings: dict[str, str], request: Recorded, url: str) -> None:
    """The delivery is signed for exactly ``url`` and its body, as ``qstash.Receiver`` checks."""
    receiver = Receiver(settings["QSTASH_CURRENT_SIGNING_KEY"], settings["QSTASH_NEXT_SIGNING_KEY"])
    receiver.verify(signature=request.headers["upstash-signature"], body=request.text, url=url)


def raw(settings: dict[str, str], method: str, path: str, **kwargs: Any) -> httpx.Response:
    """A request to the sandbox QStash without the SDK (for the forms the SDK cannot send)."""
    headers = {"Authorization": f"Bearer {settings['QSTASH_TOKEN']}", **kwargs.pop("headers", {})}
    return httpx.request(method, settings["QSTASH_URL"] + path, headers=headers, timeout=30, **kwargs)


class Advanced(TypedDict):
    """``POST /_sandbox/clock/advance``'s answer."""

    now: int
    fired: int
    deliveries: list[dict[str, Any]]


def advance(settings: dict[str, str], seconds: float) -> Advanced:
    """Move the sandbox clock; returns once what became due has been attempted."""
    response = httpx.post(f"{settings['QSTASH_URL']}/_sandbox/clock/advance", json={"seconds": seconds}, timeout=60)
    response.raise_for_status()
    answer: Advanced = response.json()
    return answer


def now_ms(settings: dict[str, str]) -> int:
    response = httpx.get(f"{settings['QSTASH_URL']}/_sandbox/clock", timeout=10)
    response.raise_for_status()
    return int(response.json()["now"])


def start(process: SandboxProcess, attempts: int = 3) -> dict[str, str]:
    """``process.start()``, retried. The supervisor picks each child's free port before the child
    binds it, so under parallel tests two children (or another socket) occasionally get the same
    one; a failed start saves no ports, so the next attempt picks new ones."""
    for attempt in range(1, attempts + 1):
        try:
            return process.start()
        except RuntimeError:
            process.stop()
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


@contextmanager
def own_sandbox(data_dir: Path) -> Iterator[dict[str, str]]:
    """A sandbox of the test's own, stopped afterwards."""
    process = SandboxProcess(data_dir)
    try:
        yield start(process)
    finally:
        process.stop()


@contextmanager
def own_stack(data_dir: Path) -> Iterator[dict[str, str]]:
    """A sandbox and an app of the test's own (for tests that move QStash's clock: it is global per
    sandbox); its settings with the app's ``APP_URL``."""
    from zapline.sandbox.redis_server import free_port

    with own_sandbox(data_dir) as settings:
        app = AppProcess(settings, free_port())
        try:
            app.start()
            yield {**settings, "APP_URL": app.url}
        finally:
            app.stop()

"""The job registry: one declaration plus one handler make a job kind — its route, its publish
(labels, failure callback, deduplication id) and its dead letters."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support import AppProcess, Tenant, run_in_app_env, wait_until
from zapline.registry.jobs import JobKind, JobPayload, Registry, enqueue
from zapline.sandbox.redis_server import free_port


class EchoJob(JobPayload):
    word: str


ECHO = JobKind(name="echo", payload=EchoJob, handler="tests.registry.handlers:echo", dedup=lambda j: f"echo-{j.word}")


@pytest.fixture
def echo_app(app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A jobs function with only the ``echo`` kind, served over real HTTP on loopback."""
    import uvicorn

    from zapline.asgi import function_app
    from zapline.config import get_settings
    from zapline.jobs.routes import job_routes

    port = free_port()
    monkeypatch.setenv("APP_URL", f"http://127.0.0.1:{port}")
    get_settings.cache_clear()
    server = uvicorn.Server(
        uvicorn.Config(function_app("jobs", job_routes(Registry([ECHO]))), port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, what="the echo function")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_a_declared_kind_gets_a_route_a_labelled_publish_and_its_dedup(echo_app: str, app_env: dict[str, str]) -> None:
    from tests.registry import handlers

    org = "org_0123456789"

    async def publish() -> list[str]:
        from zapline.clients import aclose_clients

        try:
            return [await enqueue(ECHO, EchoJob(org_id=org, word="olá")) for _ in range(2)]
        finally:
            await aclose_clients()

    first, second = asyncio.run(publish())
    assert first == second  # the kind's deduplication id: one message
    job, message_id = wait_until(lambda: handlers.received[-1] if handlers.received else None, what="the echo")
    assert (job.word, job.org_id, message_id) == ("olá", org, first)
    # the Upstash console filters its logs by label: the kind's, and the organisation's
    for label in ("job-echo", org):
        events = httpx.get(f"{app_env['QSTASH_URL']}/v2/events", params={"label": label}, headers=auth(app_env))
        assert first in {e["messageId"] for e in events.json()["events"]}
    events = httpx.get(f"{app_env['QSTASH_URL']}/v2/events", params={"messageId": first}, headers=auth(app_env))
    assert {e["url"] for e in events.json()["events"]} == {f"{echo_app}/api/jobs/echo"}
    assert {e.get("failureCallback") for e in events.json()["events"]} == {f"{echo_app}/api/failures/qstash"}


def auth(env: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {env['QSTASH_TOKEN']}"}


def test_a_bad_payload_for_a_kind_is_refused_naming_the_field(echo_app: str, app_env: dict[str, str]) -> None:
    from tests.support import deliver

    answer = deliver(
        echo_app, "/api/jobs/echo", b'{"org_id": "org_0123456789"}', key=app_env["QSTASH_CURRENT_SIGNING_KEY"]
    )
    assert answer.status_code == 489 and answer.json()["field"] == "word"


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("FOLLOWUP", {"conversation_id": "conv_00000000dead", "epoch": 1, "step": 0}),
        ("NPS", {"conversation_id": "conv_00000000dead", "action": "send"}),
    ],
)
def test_followup_and_nps_jobs_that_fail_for_good_are_dead_letters_of_their_org(
    app: AppProcess, tenant: Tenant, kind: str, payload: dict[str, Any]
) -> None:
    run_in_app_env(app, "tests.registry.test_jobs:publish_job", kind, {"org_id": tenant.org_id, **payload})
    name = kind.lower()
    letters = wait_until(
        lambda: [d for d in tenant.api("/dead-letters").json()["items"] if d["job"] == name], what="the dead letter"
    )
    assert letters[0]["reason"].startswith("not_found") and letters[0]["http_status"] == 489
    assert letters[0]["path"] == f"/api/jobs/{name}"


async def publish_job(kind: str, payload: dict[str, Any]) -> None:
    from zapline.clients import aclose_clients
    from zapline.jobs import kinds

    declared: JobKind[Any] = getattr(kinds, kind)
    try:
        await enqueue(declared, declared.payload.model_validate(payload))
    finally:
        await aclose_clients()

"""Health checks over real HTTP: liveness without I/O, one deep check per dependency, 503 naming what
is down (a sandbox of this module's own whose redis-server is killed), never a secret in an answer."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import AppProcess, SandboxProcess, Tenant, wait_until
from zapline.jobs.kinds import JOBS

SECRETS = ("UPSTASH_REDIS_REST_TOKEN", "QSTASH_TOKEN", "QSTASH_CURRENT_SIGNING_KEY", "QSTASH_NEXT_SIGNING_KEY",
           "CENTRIFUGO_API_KEY", "CENTRIFUGO_TOKEN_HMAC_SECRET")  # fmt: skip


def no_secret(response: httpx.Response, env: dict[str, str]) -> None:
    for name in SECRETS:
        assert env[name] not in response.text, f"{name} leaked into {response.request.url.path}"


def test_liveness_and_every_deep_check_answer_ok(app: AppProcess, sandbox: dict[str, str]) -> None:
    live = httpx.get(f"{app.url}/health", timeout=10)
    assert live.status_code == 200 and live.json()["status"] == "ok"
    for prefix in ("/api/v1", "/api/jobs", "/api/inbound"):  # every function has them, under its prefixes
        redis = httpx.get(f"{app.url}{prefix}/health/redis", timeout=10)
        assert redis.status_code == 200, redis.text
        assert redis.json()["status"] == "ok" and redis.json()["latency_ms"] >= 0
        no_secret(redis, sandbox)
    qstash = httpx.get(f"{app.url}/api/v1/health/qstash", timeout=10)
    assert qstash.status_code == 200, qstash.text
    body = qstash.json()
    assert body["signing_keys"] == "ok"
    assert body["backlog"]["source"] == "flow_control"
    assert set(body["backlog"]["lanes"]) == {"realtime", "automation", "bulk"}
    no_secret(qstash, sandbox)
    centrifugo = httpx.get(f"{app.url}/api/v1/health/centrifugo", timeout=10)
    assert centrifugo.status_code == 200, centrifugo.text
    assert centrifugo.json()["nodes"] >= 1
    no_secret(centrifugo, sandbox)


def test_the_bare_paths_answer_on_the_function_itself(app_env: dict[str, str]) -> None:
    import asyncio

    from zapline.clients import aclose_clients
    from zapline.devtools.devserver import load_function, project_root

    admin = load_function(project_root() / "functions" / "admin.py").app

    async def calls() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=admin)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="https://zapline.test") as client:
                return [await client.get(f"/health/{check}") for check in ("redis", "qstash", "centrifugo")]
        finally:
            await aclose_clients()  # the function's own clients, bound to this loop

    for check, response in zip(("redis", "qstash", "centrifugo"), asyncio.run(calls()), strict=True):
        assert response.status_code == 200, response.text
        assert response.json()["check"] == check


def test_queues_need_an_organisation_api_key(app: AppProcess, tenant: Tenant, sandbox: dict[str, str]) -> None:
    anonymous = httpx.get(f"{app.url}/api/v1/health/queues", timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.json()["error_type"] == "unauthorized"
    wrong = httpx.get(f"{app.url}/api/v1/health/queues", headers={"Authorization": f"Bearer {tenant.api_key}x"})
    assert wrong.status_code == 401
    queues = httpx.get(f"{app.url}/api/v1/health/queues", headers={"Authorization": f"Bearer {tenant.api_key}"},
                       timeout=10)  # fmt: skip
    assert queues.status_code == 200, queues.text
    jobs = queues.json()["jobs"]
    assert set(jobs) == {kind.name for kind in JOBS}  # every declared kind, the AI's and campaigns' included
    assert set(jobs["send"]) == {"waiting", "delayed", "active", "retrying", "failed", "complete"}
    no_secret(queues, sandbox)


# --- degraded: a sandbox of this module's own ---------------------------------------------------------


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str], AppProcess]]:
    from zapline.sandbox.redis_server import free_port

    data_dir = Path(tmp_path_factory.mktemp("own-sandbox"))
    sandbox = SandboxProcess(data_dir)
    settings = sandbox.start()
    app = AppProcess(settings, free_port())
    try:
        app.start()
        yield data_dir, settings, app
    finally:
        app.stop()
        sandbox.stop()


def kill_redis_server(data_dir: Path) -> None:
    state = json.loads((data_dir / "sandbox.json").read_text())
    pid, port = state["pids"]["redis"], state["ports"]["redis"]
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    assert "-server" in cmdline and str(port) in cmdline, f"pid {pid} is not this sandbox's redis-server"
    os.kill(pid, signal.SIGKILL)


def test_stale_signing_keys_degrade_qstash_without_showing_them(own: tuple[Path, dict[str, str], AppProcess]) -> None:
    from zapline.sandbox.redis_server import free_port

    _, settings, _ = own
    wrong = {**settings, "QSTASH_CURRENT_SIGNING_KEY": "sig_notqstashs1", "QSTASH_NEXT_SIGNING_KEY": "sig_nor2"}
    app = AppProcess(wrong, free_port())
    try:
        app.start()
        response = httpx.get(f"{app.url}/api/v1/health/qstash", timeout=10)
    finally:
        app.stop()
    assert response.status_code == 503, response.text
    assert response.json()["down"] == ["qstash_signing_keys"]
    assert "sig_" not in response.text


def test_redis_down_answers_503_naming_redis(own: tuple[Path, dict[str, str], AppProcess]) -> None:
    data_dir, settings, app = own
    assert httpx.get(f"{app.url}/api/v1/health/redis", timeout=10).status_code == 200
    kill_redis_server(data_dir)
    response = wait_until(
        lambda: (r := httpx.get(f"{app.url}/api/v1/health/redis", timeout=30)).status_code == 503 and r,
        timeout=30,
        what="/health/redis to answer 503",
    )
    body = response.json()
    assert body["status"] == "degraded" and body["down"] == ["redis"] and body["check"] == "redis"
    no_secret(response, settings)
    live = httpx.get(f"{app.url}/health", timeout=10)  # liveness does no I/O
    assert live.status_code == 200
    centrifugo = httpx.get(f"{app.url}/api/v1/health/centrifugo", timeout=10)
    assert centrifugo.status_code == 200, centrifugo.text

"""Every route vercel.json and serverless.yml declare resolves to a working function."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from zapline.devtools.devserver import load_function, project_root

ROOT = project_root()
FUNCTIONS = sorted(p.stem for p in (ROOT / "functions").glob("*.py"))


def vercel_routes() -> list[tuple[str, str]]:
    config = json.loads((ROOT / "vercel.json").read_text())
    assert config["builds"][0]["src"] == "functions/*.py"
    return [(r["src"], r["dest"]) for r in config["routes"]]


def serverless_events() -> list[tuple[str, str, str]]:
    config = yaml.safe_load((ROOT / "serverless.yml").read_text())
    out = []
    for name, spec in config["functions"].items():
        for event in spec["events"]:
            out.append((name, spec["handler"], event["httpApi"]["path"]))
    return out


def probe_path(pattern: str) -> str:
    """A concrete path a route pattern matches: its health probe."""
    if pattern.startswith("/health/{"):  # a deep check: the cheapest one that needs a dependency
        return "/health/redis"
    if pattern.startswith("/health("):
        return "/health"
    if pattern.endswith("/health"):
        return pattern
    base = re.sub(r"\(/?\.\*\)\??$|\{proxy\+\}$", "", pattern).rstrip("/")
    return f"{base}/health"


def get(app: Any, path: str) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://zapline.test") as client:
            return await client.get(path)

    return asyncio.run(call())


def test_functions_directory_is_what_the_architecture_names() -> None:
    assert FUNCTIONS == ["admin", "cron", "failures", "inbound", "ingress", "jobs"]


@pytest.mark.parametrize(("src", "dest"), vercel_routes())
def test_vercel_route_reaches_its_function(app_env: dict[str, str], src: str, dest: str) -> None:
    module = load_function(ROOT / dest.lstrip("/"))
    path = probe_path(src)
    assert re.fullmatch(src, path), (src, path)
    response = get(module.app, path)
    assert response.status_code == 200, response.text
    assert response.json()["function"] == Path(dest).stem


def test_every_function_is_routed_by_both_platforms() -> None:
    assert {Path(dest).stem for _, dest in vercel_routes()} == set(FUNCTIONS)
    assert {name for name, _, _ in serverless_events()} == set(FUNCTIONS)


def http_api_v2_event(path: str, method: str = "GET") -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": f"ANY {path}",
        "rawPath": path,
        "rawQueryString": "",
        "cookies": [],
        "headers": {
            "accept": "application/json",
            "host": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
            "user-agent": "curl/8.5.0",
            "x-amzn-trace-id": "Root=1-675a1b2c-0123456789abcdef01234567",
            "x-forwarded-for": "203.0.113.9",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "a1b2c3d4e5",
            "domainName": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "a1b2c3d4e5",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.9",
                "userAgent": "curl/8.5.0",
            },
            "requestId": "Ab1cDeFgHiJkLmN=",
            "routeKey": f"ANY {path}",
            "stage": "$default",
            "time": "22/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1795341600000,
        },
        "isBase64Encoded": False,
    }


class LambdaContext:
    function_name = "zapline-prod-inbound"
    memory_limit_in_mb = 512
    aws_request_id = "6f1c2d3e-0000-4000-8000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


@pytest.fixture(scope="module")
def lambda_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """The event loop a Lambda process keeps between invocations (Mangum runs on the current one)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    loop.close()
    asyncio.set_event_loop(None)


@pytest.mark.parametrize(("name", "handler", "path"), serverless_events())
def test_lambda_handler_answers_an_http_api_event(
    app_env: dict[str, str], lambda_loop: asyncio.AbstractEventLoop, name: str, handler: str, path: str
) -> None:
    asyncio.set_event_loop(lambda_loop)  # other tests' asyncio.run() unset it
    module_file, _, attr = handler.rpartition(".")
    module = load_function(ROOT / f"{module_file}.py")
    probe = probe_path(path)
    result = getattr(module, attr)(http_api_v2_event(probe), LambdaContext())
    assert result["statusCode"] == 200, result
    answer = json.loads(result["body"])
    assert answer.get("function") == name or answer.get("check") == "redis"  # the probe, or a deep check

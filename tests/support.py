"""Test support: the sandbox as a child process, and waiting on conditions with a deadline."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")


def wait_until(
    check: Callable[[], T | Literal[False] | None], *, timeout: float = 10.0, interval: float = 0.02, what: str = ""
) -> T:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds.

    The answer is typed without the ``None`` and ``False`` that mean "not yet".
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check!r}")
        time.sleep(interval)


class SandboxProcess:
    """``zapline sandbox`` run exactly as a user runs it, stopped with SIGTERM."""

    def __init__(self, data_dir: Path, *args: str) -> None:
        self.data_dir = data_dir
        self.args = args
        self.proc: subprocess.Popen[str] | None = None
        self.settings: dict[str, str] = {}

    def start(self, timeout: float = 60.0) -> dict[str, str]:
        cmd = [sys.executable, "-m", "zapline", "sandbox", "--data-dir", str(self.data_dir), *self.args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=os.environ.copy())
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.stop()
            raise RuntimeError(f"zapline sandbox printed no settings within {timeout}s")
        self.settings = json.loads(line)
        return self.settings

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode

    def __enter__(self) -> dict[str, str]:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class AppProcess:
    """``zapline serve``: every function on one port, configured by ``env`` (the sandbox's settings)."""

    def __init__(self, env: dict[str, str], port: int, *, log_path: Path | None = None) -> None:
        self.env = {**os.environ, **env, "APP_URL": f"http://127.0.0.1:{port}"}
        self.port = port
        self.url = self.env["APP_URL"]
        self.proc: subprocess.Popen[str] | None = None
        self.log_path = log_path  # where its stderr (the JSON logs) goes; default: inherited

    def logs(self) -> str:
        return self.log_path.read_text() if self.log_path else ""

    def start(self, timeout: float = 30.0) -> str:
        cmd = [sys.executable, "-m", "zapline", "serve", "--port", str(self.port)]
        with contextlib.ExitStack() as stack:
            stderr = stack.enter_context(self.log_path.open("a")) if self.log_path else None
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, text=True, env=self.env)
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready or not self.proc.stdout.readline():
            self.stop()
            raise RuntimeError(f"zapline serve did not come up within {timeout}s")
        return self.url

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


def qstash_signature(url: str, body: bytes, key: str, **overrides: object) -> str:
    """An ``Upstash-Signature`` as QStash makes it (PyJWT, HS256), with claims overridable."""
    import base64
    import hashlib
    import secrets

    import jwt

    now = int(time.time())
    claims: dict[str, object] = {
        "iss": "Upstash",
        "sub": url,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": f"jwt_{secrets.token_hex(8)}",
        "body": base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode(),
    }
    claims.update(overrides)
    return jwt.encode(claims, key, algorithm="HS256", headers={"typ": "JWT"})


def zapline_cli(env: dict[str, str], *args: str) -> dict[str, Any]:
    """Run ``zapline <args> --json`` with ``env`` and return its JSON answer."""
    result = subprocess.run(
        [sys.executable, "-m", "zapline", *args, "--json"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"zapline {' '.join(args)} failed: {result.stderr}")
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


class Tenant:
    """An organisation with one UAZAPI instance, registered through the ``zapline`` command."""

    def __init__(self, env: dict[str, str], *, name: str = "Acme", token: str | None = None) -> None:
        import secrets

        self.env = env
        self.token = token or f"uaz-{secrets.token_hex(8)}"
        org = zapline_cli(env, "orgs", "add", name, "--timezone", "America/Sao_Paulo")
        self.org_id: str = org["org_id"]
        self.api_key: str = org["api_key"]
        instance = zapline_cli(
            env, "instances", "add", "--org", self.org_id, "--name", "main", "--token", self.token,
            "--base-url", env.get("UAZAPI_URL", "https://example.uazapi.com"), "--owner", "5511999990000",
        )  # fmt: skip
        self.instance_id: str = instance["instance_id"]
        self.instance_key: str = instance["instance_key"]
        self.inbound_path = f"/api/inbound/uazapi/{self.instance_key}"
        self.webhook_url: str = instance["webhook_url"]  # the relay, the default
        self.ingress_url = self.webhook_url
        self.direct_url = self._direct_qstash_url()  # the single-tenant opt-in: UAZAPI → QStash

    def _direct_qstash_url(self) -> str:
        from urllib.parse import quote

        inbound = f"{self.env['APP_URL']}{self.inbound_path}"
        failures = quote(f"{self.env['APP_URL']}/api/failures/qstash", safe="")
        token = quote(self.env["QSTASH_TOKEN"], safe="")
        return f"{self.env['QSTASH_URL']}/v2/publish/{inbound}?qstash_token={token}&upstash-failure-callback={failures}"

    def api(self, path: str, **params: str) -> Any:
        import httpx

        response = httpx.get(
            f"{self.env['APP_URL']}/api/v1{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=10,
        )
        return response


def deliver(
    app_url: str,
    path: str,
    body: bytes,
    *,
    key: str,
    retried: int = 0,
    message_id: str | None = None,
    signature: str | None = None,
    **claims: object,
) -> httpx.Response:
    """POST ``body`` to the app as QStash would, signed for the exact URL (unless given one)."""
    import secrets

    import httpx

    url = f"{app_url}{path}"
    headers = {
        "Content-Type": "application/json",
        "Upstash-Signature": signature if signature is not None else qstash_signature(url, body, key, **claims),
        "Upstash-Message-Id": message_id or f"msg_{secrets.token_hex(10)}",
        "Upstash-Retried": str(retried),
        "User-Agent": "Upstash-QStash",
    }
    return httpx.post(url, content=body, headers=headers, timeout=30)


def run_in_app_env(app: AppProcess, target: str, *args: object) -> None:
    """Run ``module:function(*args)`` (a coroutine function) in a fresh process configured like the app."""
    module, _, function = target.partition(":")
    code = f"import asyncio, {module} as m; asyncio.run(m.{function}(*{args!r}))"
    subprocess.run([sys.executable, "-c", code], env=app.env, check=True, timeout=120)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine of the app's (a store call, the tick) in this process, in a loop of its own,
    closing the app's shared clients after it."""
    import asyncio

    from zapline.clients import aclose_clients

    async def closing() -> T:
        try:
            return await coro
        finally:
            await aclose_clients()

    return asyncio.run(closing())

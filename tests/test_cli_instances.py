"""`zapline instances connect`: the instance's UAZAPI webhook pointed at Zapline."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import httpx

from tests.support import AppProcess, zapline_cli


def register(env: dict[str, str], name: str) -> tuple[str, str]:
    token = f"sim-{secrets.token_hex(6)}"
    httpx.post(f"{env['UAZAPI_URL']}/_sandbox/instances", json={"token": token}).raise_for_status()
    org = zapline_cli(env, "orgs", "add", f"Org {name}")["org_id"]
    base_url = env["UAZAPI_URL"]
    zapline_cli(env, "instances", "add", "--org", org, "--name", name, "--token", token, "--base-url", base_url)
    return org, token


def test_connect_sets_the_webhook_and_needs_org_only_when_ambiguous(app: AppProcess, sandbox: dict[str, str]) -> None:
    env = {**sandbox, "APP_URL": app.url}
    name = f"inst-{secrets.token_hex(4)}"
    org, token = register(env, name)
    result = zapline_cli(env, "instances", "connect", name)
    assert (result["org_id"], result["webhook"], result["configured"]) == (org, "qstash", True)
    [webhook] = httpx.get(f"{env['UAZAPI_URL']}/webhook", headers={"token": token}).json()
    assert webhook["url"].startswith(f"{env['QSTASH_URL']}/v2/publish/{app.url}/api/inbound/uazapi/{org}.")

    relay = zapline_cli(env, "instances", "connect", name, "--relay")
    assert relay["webhook"] == "relay"
    [webhook] = httpx.get(f"{env['UAZAPI_URL']}/webhook", headers={"token": token}).json()
    assert webhook["url"].startswith(f"{app.url}/api/ingress/uazapi/{org}.")

    register(env, name)  # a second organisation with an instance of the same name
    ambiguous = subprocess.run(
        [sys.executable, "-m", "zapline", "instances", "connect", name],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert ambiguous.returncode != 0 and "pass --org" in ambiguous.stderr

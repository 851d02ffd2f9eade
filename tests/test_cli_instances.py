"""`zapline instances connect`: the instance's UAZAPI webhook pointed at Zapline."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

import httpx

from tests.support import AppProcess, zapline_cli


def register(env: dict[str, str], name: str) -> tuple[str, str, dict[str, str]]:
    token = f"sim-{secrets.token_hex(6)}"
    httpx.post(f"{env['UAZAPI_URL']}/_sandbox/instances", json={"token": token}).raise_for_status()
    org = zapline_cli(env, "orgs", "add", f"Org {name}")["org_id"]
    base_url = env["UAZAPI_URL"]
    added = zapline_cli(env, "instances", "add", "--org", org, "--name", name, "--token", token, "--base-url", base_url)
    return org, token, added


def configured_url(env: dict[str, str], token: str) -> str:
    [webhook] = httpx.get(f"{env['UAZAPI_URL']}/webhook", headers={"token": token}).json()
    url: str = webhook["url"]
    return url


def test_connect_uses_the_relay_and_needs_org_only_when_ambiguous(app: AppProcess, sandbox: dict[str, str]) -> None:
    env = {**sandbox, "APP_URL": app.url}
    name = f"inst-{secrets.token_hex(4)}"
    org, token, added = register(env, name)
    assert added["webhook_url"] == f"{app.url}/api/ingress/uazapi/{added['instance_key']}"
    assert "qstash_token" not in json.dumps(added) and env["QSTASH_TOKEN"] not in json.dumps(added)

    # with the key `instances add` printed: that URL, nothing rotated
    result = zapline_cli(env, "instances", "connect", name, "--instance-key", added["instance_key"])
    assert (result["org_id"], result["webhook"], result["configured"]) == (org, "relay", True)
    assert "instance_key" not in result and result["key_prefix"].endswith("…")
    assert configured_url(env, token) == added["webhook_url"]

    # without it: a new key, shown once; the old one still works for webhooks on their way
    rotated = zapline_cli(env, "instances", "connect", name)
    assert rotated["instance_key"] != added["instance_key"]
    assert configured_url(env, token) == f"{app.url}/api/ingress/uazapi/{rotated['instance_key']}"
    old = httpx.post(added["webhook_url"], json={"EventType": "presence", "token": token}, timeout=30)
    assert old.status_code == 200, old.text
    refused = subprocess.run(
        [sys.executable, "-m", "zapline", "instances", "connect", name, "--instance-key", added["instance_key"]],
        env={**os.environ, **env}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert refused.returncode != 0 and "not the current key" in refused.stderr
    assert added["instance_key"] not in refused.stderr

    register(env, name)  # a second organisation with an instance of the same name
    ambiguous = subprocess.run(
        [sys.executable, "-m", "zapline", "instances", "connect", name],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert ambiguous.returncode != 0 and "pass --org" in ambiguous.stderr


def test_direct_qstash_is_an_explicit_opt_in(app: AppProcess, sandbox: dict[str, str]) -> None:
    env = {**sandbox, "APP_URL": app.url}
    name = f"inst-{secrets.token_hex(4)}"
    org, token, added = register(env, name)
    direct = zapline_cli(env, "instances", "connect", name, "--instance-key", added["instance_key"], "--direct-qstash")
    assert direct["webhook"] == "qstash"
    url = configured_url(env, token)
    assert url.startswith(f"{env['QSTASH_URL']}/v2/publish/{app.url}/api/inbound/uazapi/{org}.")
    assert "qstash_token=" in url and "upstash-failure-callback=" in url


def test_only_a_digest_of_the_instance_key_is_stored(app: AppProcess, sandbox: dict[str, str]) -> None:
    from upstash_redis import Redis

    env = {**sandbox, "APP_URL": app.url}
    org, _, added = register(env, f"inst-{secrets.token_hex(4)}")
    rotated = zapline_cli(env, "instances", "connect", added["instance_id"], "--org", org)
    redis = Redis(url=env["UPSTASH_REDIS_REST_URL"], token=env["UPSTASH_REDIS_REST_TOKEN"])
    try:
        stored = json.dumps([redis.hgetall(key) for key in redis.keys(f"zl:{{{org}}}:*")])
    finally:
        redis.close()
    for key in (added["instance_key"], rotated["instance_key"]):
        assert key.rsplit(".", 1)[1] not in stored
    assert json.dumps(rotated["key_prefix"]) in stored  # what operators are shown of the current key

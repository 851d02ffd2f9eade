"""Managing API keys: through the API (owner only) and ``zapline keys``; shown once, listed by
prefix, rotated and revoked at once, the last owner key kept; the key made before roles still works."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import sys
from typing import Any

import redis as redis_py

from tests.conversation_loop import Loop
from tests.roles.keys import call, create_key
from tests.support import Tenant, zapline_cli


def works(loop: Loop, key: str) -> bool:
    status = call(loop.app.url, key, "GET", "/conversations").status_code
    assert status in (200, 401), status
    return status == 200


def listed(loop: Loop, owner: str) -> list[dict[str, Any]]:
    response = call(loop.app.url, owner, "GET", "/keys")
    assert response.status_code == 200, response.text
    keys: list[dict[str, Any]] = response.json()["keys"]
    return keys


def test_a_new_key_is_shown_once_and_listed_by_prefix_only(loop: Loop) -> None:
    created = create_key(loop.app.url, loop.tenant.api_key, "agent", "night shift")
    key, record = created["api_key"], created["key"]
    assert key.startswith(f"zk_{loop.tenant.org_id}_{record['id']}_") and works(loop, key)
    assert record["role"] == "agent" and record["name"] == "night shift" and not record["revoked"]
    response = call(loop.app.url, loop.tenant.api_key, "GET", "/keys")
    secret = key.split(f"_{record['id']}_", 1)[1]
    for shown in (key, secret, secret[8:], hashlib.sha256(key.encode()).hexdigest(), loop.tenant.api_key):
        assert shown not in response.text
    rows = {row["id"]: row for row in response.json()["keys"]}
    assert set(rows[record["id"]]) == {"id", "role", "name", "prefix", "created_at", "rotated_at", "revoked",
                                       "revoked_at"}  # fmt: skip
    assert rows[record["id"]]["prefix"] == key[: len(key) - len(secret) + 4] + "…"
    assert [row["role"] for row in rows.values()].count("owner") == 1  # the organisation's first key


def test_a_rotation_stops_the_old_secret_at_once(loop: Loop) -> None:
    created = create_key(loop.app.url, loop.tenant.api_key, "agent", "to rotate")
    old, key_id = created["api_key"], created["key"]["id"]
    rotated = call(loop.app.url, loop.tenant.api_key, "POST", f"/keys/{key_id}/rotate")
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["api_key"]
    assert rotated.json()["key"]["id"] == key_id and rotated.json()["key"]["rotated_at"]
    assert rotated.json()["key"]["role"] == "agent" and rotated.json()["key"]["name"] == "to rotate"
    assert not works(loop, old) and works(loop, new)
    logs = [json.loads(line) for line in loop.app.logs().splitlines()]
    done = [r for r in logs if r.get("event") == "api key rotated" and r.get("key_id") == key_id]
    assert len(done) == 1 and loop.tenant.api_key.startswith(done[0]["key_prefix"][:-1])
    assert new not in loop.app.logs() and old not in loop.app.logs()


def test_a_revoked_key_stops_and_the_last_owner_key_stays(loop: Loop) -> None:
    tenant = Tenant({**loop.tenant.env}, name="Revocations")
    first = tenant.api_key
    [first_row] = listed(loop, first)
    last = call(loop.app.url, first, "DELETE", f"/keys/{first_row['id']}")
    assert last.status_code == 409 and last.json()["error_type"] == "conflict" and "last owner" in last.json()["error"]
    second = create_key(loop.app.url, first, "owner", "second owner")
    agent = create_key(loop.app.url, first, "agent")
    revoked = call(loop.app.url, second["api_key"], "DELETE", f"/keys/{first_row['id']}")
    assert revoked.status_code == 200 and revoked.json()["key"]["revoked"] is True
    assert not works(loop, first) and works(loop, second["api_key"])
    again = call(loop.app.url, second["api_key"], "DELETE", f"/keys/{second['key']['id']}")
    assert again.status_code == 409, again.text  # an agent key does not count as an owner
    assert call(loop.app.url, second["api_key"], "DELETE", f"/keys/{agent['key']['id']}").status_code == 200
    assert not works(loop, agent["api_key"])
    rotate_revoked = call(loop.app.url, second["api_key"], "POST", f"/keys/{agent['key']['id']}/rotate")
    assert rotate_revoked.status_code == 409
    assert call(loop.app.url, second["api_key"], "DELETE", "/keys/key_ffffffffff").status_code == 404
    assert call(loop.app.url, second["api_key"], "DELETE", "/keys/nonsense").status_code == 404
    rows = {row["id"]: row for row in listed(loop, second["api_key"])}
    assert rows[first_row["id"]]["revoked"] and rows[agent["key"]["id"]]["revoked"]


def test_a_bad_key_request_names_the_field(loop: Loop) -> None:
    for body in ({"role": "admin"}, {}, {"role": "agent", "name": "x" * 101}, {"role": "agent", "extra": 1}):
        response = call(loop.app.url, loop.tenant.api_key, "POST", "/keys", json=body)
        assert response.status_code in (400, 413) and response.json()["status"] == "error", (body, response.text)
    assert "role" in call(loop.app.url, loop.tenant.api_key, "POST", "/keys", json={"role": "admin"}).json()["error"]


def test_the_key_made_before_roles_is_an_owner_key_until_rotated(loop: Loop, sandbox: dict[str, str]) -> None:
    tenant = Tenant({**loop.tenant.env}, name="Before roles")
    db = redis_py.Redis.from_url(sandbox["REDIS_URL"], decode_responses=True)
    org_key = f"zl:{{{tenant.org_id}}}:org"
    # as 0.2 stored it: one key, zk_<org>_<secret>, its digest in the organisation's hash
    legacy = f"zk_{tenant.org_id}_{secrets.token_urlsafe(24)}"
    db.hset(org_key, "api_key_hash", hashlib.sha256(legacy.encode()).hexdigest())
    [field] = [f for f in map(str, db.hkeys(org_key)) if f.startswith("apikey:")]
    db.hdel(org_key, field)
    assert works(loop, legacy)
    assert call(loop.app.url, legacy, "GET", "/metrics").status_code == 200  # an owner
    before = db.hgetall(org_key)
    call(loop.app.url, legacy, "GET", "/conversations")
    assert db.hgetall(org_key) == before  # authenticating never writes
    [row] = listed(loop, legacy)  # a key operation moves it into a record of its own
    assert (
        row["role"] == "owner" and row["prefix"] == f"zk_{tenant.org_id}_…" and "api_key_hash" not in db.hkeys(org_key)
    )
    assert works(loop, legacy)
    rotated = call(loop.app.url, legacy, "POST", f"/keys/{row['id']}/rotate").json()
    assert rotated["api_key"].startswith(f"zk_{tenant.org_id}_{row['id']}_")
    assert not works(loop, legacy) and works(loop, rotated["api_key"])


def test_zapline_keys_round_trip(loop: Loop) -> None:
    env, org = loop.tenant.env, loop.tenant.org_id
    created = zapline_cli(env, "keys", "create", "--org", org, "--role", "agent", "--name", "cli desk")
    key, key_id = created["api_key"], created["key"]["id"]
    assert created["key"]["role"] == "agent" and works(loop, key)
    rows = zapline_cli(env, "keys", "list", "--org", org)["keys"]
    assert key_id in [r["id"] for r in rows] and key not in json.dumps(rows) and "digest" not in json.dumps(rows)
    rotated = zapline_cli(env, "keys", "rotate", key_id, "--org", org)
    assert not works(loop, key) and works(loop, rotated["api_key"])
    revoked = zapline_cli(env, "keys", "revoke", key_id, "--org", org)
    assert revoked["key"]["revoked"] is True and not works(loop, rotated["api_key"])
    owner_id = next(r["id"] for r in rows if r["role"] == "owner")
    refused = subprocess.run([sys.executable, "-m", "zapline", "keys", "revoke", owner_id, "--org", org],
                             env={**os.environ, **env}, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert refused.returncode == 1 and "last owner key" in refused.stderr

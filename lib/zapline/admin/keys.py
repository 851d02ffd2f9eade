"""Managing an organisation's API keys: create, list, rotate, revoke (``/api/v1/keys``, ``zapline keys``).

A key is shown once, when it is created or rotated; listings show its prefix, never a secret or a
digest. A rotation keeps the key's id, role and name and stops the old secret at once; a revoked key
stops at once and stays listed (revoked). The last owner key cannot be revoked (409): an
organisation never locks itself out. Every operation is logged with who did it (``key_prefix``:
the acting key's prefix, or ``cli`` for an operator with the deployment's Redis settings).
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr

from zapline.admin.auth import ApiKey, Role, new_key
from zapline.errors import Conflict, NotFound, StoreRejected
from zapline.logs import get_logger
from zapline.store.clock import now_ms
from zapline.store.keys import OrgKeys
from zapline.store.registry import digest, get_org
from zapline.store.scripts import Script, script_json

__all__ = ["CLI", "CreateKey", "command", "create", "listing", "revoke", "rotate"]

log = get_logger("zapline.admin.keys")

CLI = "cli"  # who acts when the ``zapline keys`` command does
KEY_ID = re.compile(r"^key_[0-9a-f]{10}$")


class CreateKey(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    role: Role
    name: StrictStr = Field("", max_length=100)


async def _run(org_id: str, op: str, **args: Any) -> dict[str, Any]:
    payload = {"now": now_ms(), "legacy_prefix": f"zk_{org_id}_…", **args}
    result: dict[str, Any] = json.loads(
        await Script.load("apikeys").run([OrgKeys(org_id).org], [op, script_json(payload)])
    )
    error = result.get("error")
    key_id = args.get("key_id", "")
    if error == "no_key":
        raise NotFound(f"no API key {key_id}")
    if error == "revoked":
        raise Conflict(f"API key {key_id} is revoked: create a new one")
    if error == "last_owner":
        raise Conflict(f"API key {key_id} is the organisation's last owner key: create another owner key first")
    if error:
        raise StoreRejected(f"API key operation {op} failed: {error}")
    return result


def _check_id(key_id: str) -> str:
    if not KEY_ID.match(key_id):
        raise NotFound(f"no API key {key_id[:64]}")
    return key_id


async def listing(org_id: str) -> list[ApiKey]:
    """Every key of the organisation, revoked ones included, oldest first."""
    await get_org(org_id)  # an unknown organisation is not found, not empty
    records = [ApiKey.from_json(raw) for raw in (await _run(org_id, "list"))["keys"]]
    return sorted(records, key=lambda record: (record.created_at, record.id))


async def create(org_id: str, *, role: Role, name: str, by: str) -> tuple[ApiKey, str]:
    """A new key with ``role``; the key itself is in the answer only."""
    await get_org(org_id)
    record, key = new_key(org_id, role, name or role)
    await _run(org_id, "create", key_id=record.id, record=record.to_json())
    log.info("api key created", org=org_id, key_prefix=by, key_id=record.id, role=role, new_key_prefix=record.prefix)
    return record, key


async def rotate(org_id: str, key_id: str, *, by: str) -> tuple[ApiKey, str]:
    """A new secret for the key (shown once); the old one stops at once."""
    _check_id(key_id)
    fresh, key = new_key(org_id, "agent", "", key_id=key_id)  # role and name stay the stored ones
    result = await _run(org_id, "rotate", key_id=key_id, digest=digest(key), prefix=fresh.prefix)
    record = ApiKey.from_json(result["record"])
    log.info(
        "api key rotated", org=org_id, key_prefix=by, key_id=key_id, role=record.role, new_key_prefix=record.prefix
    )
    return record, key


async def revoke(org_id: str, key_id: str, *, by: str) -> ApiKey:
    """The key stops at once; it stays listed, revoked. Not the last owner key (409)."""
    _check_id(key_id)
    result = await _run(org_id, "revoke", key_id=key_id)
    record = ApiKey.from_json(result["record"])
    if result["outcome"] == "revoked":
        log.info("api key revoked", org=org_id, key_prefix=by, key_id=key_id, role=record.role)
    return record


async def command(action: str, org_id: str, *, key_id: str | None, role: Role, name: str) -> dict[str, Any]:
    """``zapline keys list|create|rotate|revoke``: the answer as the API gives it."""
    if action == "list":
        return {"org_id": org_id, "keys": [record.public() for record in await listing(org_id)]}
    if action == "create":
        record, key = await create(org_id, role=role, name=name, by=CLI)
        return {"org_id": org_id, "key": record.public(), "api_key": key}
    if key_id is None:
        raise NotFound(f"name the key to {action}: its id (key_…), as `zapline keys list` shows it")
    if action == "rotate":
        record, key = await rotate(org_id, key_id, by=CLI)
        return {"org_id": org_id, "key": record.public(), "api_key": key}
    return {"org_id": org_id, "key": (await revoke(org_id, key_id, by=CLI)).public()}

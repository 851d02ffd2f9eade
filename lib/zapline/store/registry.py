"""Organisations, their API keys and their UAZAPI instances.

An API key is ``zk_<org_id>_<key_id>_<secret>`` (before roles: ``zk_<org_id>_<secret>``; records and
roles: ``admin/auth.py``) and an instance key (the secret path segment of the webhook
URL) is ``<org_id>.<instance_id>.<secret>``: both name their organisation, so authenticating costs
one read in that organisation's slot. Only SHA-256 digests of the secrets are stored, and logs and
answers show a key's prefix (:func:`key_prefix`), never its secret. The UAZAPI token of an instance
is the exception: sending needs it, so it is stored as UAZAPI issued it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from zapline.clients import redis_client
from zapline.errors import BadRequest, Conflict, NotFound, RecordMissing, UnknownInstance
from zapline.store.clock import now_ms
from zapline.store.keys import OrgKeys, all_orgs, api_key_field
from zapline.store.scripts import run_redis

if TYPE_CHECKING:
    from zapline.uazapi.client import Instance

__all__ = [
    "API_KEY",
    "LEGACY_API_KEY",
    "InstanceRef",
    "check_instance",
    "check_instance_key",
    "create_instance",
    "create_org",
    "get_instance",
    "key_prefix",
    "parse_instance_key",
    "redact_path",
    "registered_instance",
    "rotate_instance_key",
]

API_KEY = re.compile(r"^zk_(org_[0-9a-z]{10})_(key_[0-9a-f]{10})_([A-Za-z0-9_-]{20,})$")
LEGACY_API_KEY = re.compile(r"^zk_(org_[0-9a-z]{10})_([A-Za-z0-9_-]{20,})$")  # made before roles
_INSTANCE_KEY = re.compile(r"^(org_[0-9a-z]{10})\.(inst_[0-9a-z]{10})\.([A-Za-z0-9_-]{20,})$")


_SECRET_SHOWN = 4  # characters of a secret a prefix keeps: enough to tell two keys apart
_KEY_IN_PATH = re.compile(r"(org_[0-9a-z]{10}\.inst_[0-9a-z]{10}\.)([A-Za-z0-9_-]{5,})")  # 5+: a prefix is left alone


def key_prefix(key: str) -> str:
    """What may be shown of an instance or API key: its ids and the first characters of its secret."""
    match = _INSTANCE_KEY.match(key) or API_KEY.match(key) or LEGACY_API_KEY.match(key)
    if not match:
        return key[:14] + "…"
    secret = match.groups()[-1]
    return key[: len(key) - len(secret) + _SECRET_SHOWN] + "…"


def redact_path(path: str) -> str:
    """A URL or path with any instance key's secret cut to its prefix (for logs and dead letters)."""
    return _KEY_IN_PATH.sub(lambda m: m.group(1) + m.group(2)[:_SECRET_SHOWN] + "…", path)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(5)}"


@dataclass(frozen=True)
class InstanceRef:
    """What an instance key says: whose instance it is, and the digest of its secret."""

    org_id: str
    instance_id: str
    key_hash: str

    @property
    def keys(self) -> OrgKeys:
        return OrgKeys(self.org_id)


def parse_instance_key(key: str) -> InstanceRef:
    match = _INSTANCE_KEY.match(key)
    if not match:
        raise UnknownInstance("instance key is malformed", instance_key_prefix=key_prefix(key))
    org_id, instance_id, secret = match.groups()
    return InstanceRef(org_id, instance_id, digest(secret))


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest(f"unknown timezone {name!r}: use an IANA name such as America/Sao_Paulo") from None
    return name


async def create_org(name: str, timezone: str = "America/Sao_Paulo") -> tuple[dict[str, str], str]:
    """Create an organisation; return its record and its first owner key (shown once, stored hashed)."""
    from zapline.admin.auth import new_key  # keys and roles live there; it reads this module's formats

    org_id = new_id("org")
    key, api_key = new_key(org_id, "owner", "first owner key")
    record = {"id": org_id, "name": name, "timezone": _check_timezone(timezone), "created_at": str(now_ms())}
    redis = redis_client()
    pipe = redis.pipeline()
    pipe.hset(OrgKeys(org_id).org, values={**record, api_key_field(key.id): key.to_json()})
    pipe.sadd(all_orgs(), org_id)
    await run_redis(pipe.exec())
    return record, api_key


async def get_org(org_id: str) -> dict[str, str]:
    record: dict[str, str] = await run_redis(redis_client().hgetall(OrgKeys(org_id).org))
    if not record:
        raise NotFound(f"no organisation {org_id}")
    return {
        field: value for field, value in record.items() if field != "api_key_hash" and not field.startswith("apikey:")
    }


async def create_instance(
    org_id: str, *, name: str, token: str, base_url: str, owner: str = ""
) -> tuple[dict[str, str], str]:
    """Register a UAZAPI instance; return its record (without the token) and its instance key."""
    org = await get_org(org_id)
    keys = OrgKeys(org_id)
    instance_id = new_id("inst")
    secret = secrets.token_urlsafe(24)
    redis = redis_client()
    if not await run_redis(redis.hsetnx(keys.instances, name, instance_id)):
        raise Conflict(f"organisation {org_id} already has an instance named {name!r}")
    record = {
        "id": instance_id,
        "org_id": org_id,
        "name": name,
        "base_url": base_url.rstrip("/"),
        "owner": "".join(ch for ch in owner if ch.isdigit()),
        "timezone": org["timezone"],
        "status": "unknown",
        "created_at": str(now_ms()),
    }
    instance_key = f"{org_id}.{instance_id}.{secret}"
    values = {**record, "token": token, "key_hash": digest(secret), "key_prefix": key_prefix(instance_key)}
    if org.get("ai"):  # the organisation's AI settings: mirrored on its instances (ai/settings.py)
        from zapline.ai.settings import AI_FIELD, AiSettings, instance_flag

        flag = instance_flag(AiSettings.model_validate_json(org["ai"]))
        if flag is not None:
            values[AI_FIELD] = flag
    await run_redis(redis.hset(keys.instance(instance_id), values=values))
    return {**record, "key_prefix": values["key_prefix"]}, instance_key


async def rotate_instance_key(org_id: str, instance_id: str) -> str:
    """A new key for the instance (shown once). The previous one keeps working until the next
    rotation, so webhooks QStash still holds for it are not lost."""
    keys = OrgKeys(org_id)
    redis = redis_client()
    current = await run_redis(redis.hget(keys.instance(instance_id), "key_hash"))
    if not current:
        raise NotFound(f"organisation {org_id} has no instance {instance_id!r}")
    secret = secrets.token_urlsafe(24)
    instance_key = f"{org_id}.{instance_id}.{secret}"
    pipe = redis.pipeline()
    values = {"key_hash": digest(secret), "prev_key_hash": current, "key_prefix": key_prefix(instance_key)}
    pipe.hset(keys.instance(instance_id), values=values)
    pipe.hdel(keys.instance(instance_id), "instance_key")  # kept in clear before 0.2: never again
    await run_redis(pipe.exec())
    return instance_key


async def instance_key_matches(org_id: str, instance_id: str, instance_key: str) -> bool:
    """Whether ``instance_key`` is this instance's current key."""
    try:
        ref = parse_instance_key(instance_key)
    except UnknownInstance:
        return False
    if (ref.org_id, ref.instance_id) != (org_id, instance_id):
        return False
    stored = await run_redis(redis_client().hget(OrgKeys(org_id).instance(instance_id), "key_hash"))
    return bool(stored) and hmac.compare_digest(stored, ref.key_hash)


async def get_instance(org_id: str, name_or_id: str) -> dict[str, Any]:
    """An instance's record including its UAZAPI token (for sending); by name or id."""
    keys = OrgKeys(org_id)
    redis = redis_client()
    instance_id = (
        name_or_id if name_or_id.startswith("inst_") else await run_redis(redis.hget(keys.instances, name_or_id))
    )
    record: dict[str, Any] = await run_redis(redis.hgetall(keys.instance(instance_id))) if instance_id else {}
    if not record:
        raise NotFound(f"organisation {org_id} has no instance {name_or_id!r}")
    for secret_field in ("key_hash", "prev_key_hash", "instance_key"):
        record.pop(secret_field, None)
    return record


async def registered_instance(org_id: str, instance_id: str) -> Instance:
    """How to reach one of the organisation's UAZAPI instances (its URL and token): ``RecordMissing``
    when it is gone."""
    from zapline.uazapi.client import Instance

    base_url, token = await run_redis(redis_client().hmget(OrgKeys(org_id).instance(instance_id), "base_url", "token"))
    if not base_url or not token:
        raise RecordMissing("instance", instance_id, org=org_id)
    return Instance(base_url, token, instance_id)


async def orgs_with_instance(name: str) -> list[str]:
    """The organisations that have an instance called ``name`` (an operator's shortcut)."""
    redis = redis_client()
    org_ids = sorted(await run_redis(redis.smembers(all_orgs())))
    if not org_ids:
        return []
    pipe = redis.pipeline()
    for org_id in org_ids:
        pipe.hexists(OrgKeys(org_id).instances, name)
    found = await run_redis(pipe.exec())
    return [org_id for org_id, has in zip(org_ids, found, strict=True) if has]


async def check_instance_key(ref: InstanceRef) -> None:
    """Raise ``UnknownInstance`` unless the key's secret is the instance's (current or previous)."""
    await check_instance(ref, None)


async def check_instance(ref: InstanceRef, token: str | None) -> None:
    """Raise ``UnknownInstance`` unless the key's secret (and the webhook's ``token``, unless None)
    match: the ingest script's own check, so an instance is authenticated in one place."""
    from zapline.store.ingest import authenticate_instance

    await authenticate_instance(ref, token)

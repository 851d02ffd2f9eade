"""API keys, their roles, and authenticating a request with one.

A key is ``zk_<org_id>_<key_id>_<secret>``: it names its organisation and its own record, so
authenticating is ONE ``HMGET`` in the organisation's hash, the record's field and the pre-roles
``api_key_hash`` together. A key made before roles (``zk_<org_id>_<secret>``) has no id inside it;
its id is derived from its digest (``key_`` + the first 10 hex characters), so it too is found in
that one read, and it is an owner key until a key operation moves it into a record of its own.

Only SHA-256 digests of whole keys are stored (the id inside a key cannot be swapped for another's);
answers and logs show a key's prefix. Authenticating never writes: a read-only call leaves Redis as
it was.

- ``owner``: everything.
- ``agent``: reading, replying and closing, live updates (the role of each route: ``ROUTES`` in
  ``admin/api.py``);
  not dead-letter operations, follow-up settings, keys, metrics or ``/health/queues``.
"""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import asdict, dataclass
from typing import Literal, get_args

from zapline.clients import redis_client
from zapline.errors import Forbidden, Unauthorized
from zapline.store.clock import now_ms
from zapline.store.keys import OrgKeys, api_key_field
from zapline.store.registry import API_KEY, LEGACY_API_KEY, digest, key_prefix
from zapline.store.scripts import run_redis

__all__ = ["ROLES", "ApiKey", "Principal", "Role", "authenticate", "legacy_id", "new_key", "require"]

Role = Literal["owner", "agent"]
ROLES: tuple[Role, ...] = get_args(Role)
LEGACY_HASH = "api_key_hash"  # the org hash's field for a key made before roles


def legacy_id(key_hash: str) -> str:
    """The id of a key made before roles: it follows from its digest, so one read finds it."""
    return "key_" + key_hash[:10]


@dataclass(frozen=True)
class ApiKey:
    """One API key's record, as stored (``digest``) and, without the digest, as listed."""

    id: str
    role: Role
    name: str
    prefix: str
    digest: str
    created_at: int
    rotated_at: int | None = None
    revoked: bool = False
    revoked_at: int | None = None

    @classmethod
    def from_json(cls, raw: str) -> ApiKey:
        return cls(**json.loads(raw))

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    def public(self) -> dict[str, object]:
        """As answers show it: never the digest."""
        return {k: v for k, v in asdict(self).items() if k != "digest"}


@dataclass(frozen=True)
class Principal:
    """Who calls: the organisation, which of its keys, with which role."""

    org_id: str
    key_id: str
    role: Role
    key_prefix: str


def new_key(org_id: str, role: Role, name: str, *, key_id: str | None = None) -> tuple[ApiKey, str]:
    """A fresh key (shown once) and its record; ``key_id`` keeps an existing key's id (a rotation)."""
    key_id = key_id or f"key_{secrets.token_hex(5)}"
    key = f"zk_{org_id}_{key_id}_{secrets.token_urlsafe(24)}"
    record = ApiKey(id=key_id, role=role, name=name, prefix=key_prefix(key), digest=digest(key), created_at=now_ms())
    return record, key


async def authenticate(authorization: str | None) -> Principal:
    """Whose ``Authorization: Bearer <api key>`` this is: one read in the organisation's slot."""
    scheme, _, raw = (authorization or "").partition(" ")
    key = raw.strip() if scheme.lower() == "bearer" else ""
    current = API_KEY.match(key)
    legacy = None if current else LEGACY_API_KEY.match(key)
    if not (current or legacy):
        raise Unauthorized("send Authorization: Bearer <organisation API key>")
    key_hash = digest(key)
    org_id = (current or legacy).group(1)  # type: ignore[union-attr]
    key_id = current.group(2) if current else legacy_id(key_hash)
    stored, legacy_hash = await run_redis(redis_client().hmget(OrgKeys(org_id).org, api_key_field(key_id), LEGACY_HASH))
    if stored:
        record = ApiKey.from_json(stored)
        if hmac.compare_digest(record.digest, key_hash) and not record.revoked:
            return Principal(org_id, record.id, record.role, record.prefix)
    elif legacy and legacy_hash and hmac.compare_digest(legacy_hash, key_hash):
        return Principal(org_id, key_id, "owner", key_prefix(key))
    raise Unauthorized("API key not recognised")


def require(principal: Principal, role: Role) -> None:
    """Raise ``Forbidden`` (403, naming the role needed) unless the key may make an ``role`` call."""
    if role == "owner" and principal.role != "owner":
        raise Forbidden(
            f"this call needs an owner key; {principal.key_prefix} is an {principal.role} key",
            required_role=role,
            org=principal.org_id,
            key_prefix=principal.key_prefix,
        )

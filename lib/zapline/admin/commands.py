"""Operator commands behind ``zapline orgs`` and ``zapline instances`` (and ``zapline dev``'s demo)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from zapline.config import get_settings
from zapline.errors import BadRequest, NotFound, Unauthorized
from zapline.registry.jobs import FAILURES_PATH
from zapline.store import registry

__all__ = ["add_instance", "add_org", "connect_instance", "direct_qstash_url", "webhook_urls"]


async def add_org(name: str, timezone: str) -> dict[str, Any]:
    record, api_key = await registry.create_org(name, timezone)
    return {"org_id": record["id"], "api_key": api_key, "name": record["name"], "timezone": record["timezone"]}


def webhook_urls(instance_key: str) -> dict[str, str]:
    """Where UAZAPI should send this instance's webhooks: the ingress relay.

    The relay checks the instance's secret and the body, then publishes to QStash itself, so the
    QStash token never leaves the deployment. (:func:`direct_qstash_url` is the single-tenant
    opt-in that skips it.)
    """
    return {"webhook_url": f"{get_settings().app_url}/api/ingress/uazapi/{instance_key}"}


def direct_qstash_url(instance_key: str) -> str:
    """UAZAPI → QStash directly, with the deployment's QStash token in the query.

    Whoever holds this URL holds that token: they can read every tenant's queued messages and
    dead letters and publish to any route. Only for a deployment with a single tenant.
    """
    settings = get_settings()
    inbound = f"{settings.app_url}/api/inbound/uazapi/{instance_key}"
    token = quote(settings.qstash_token, safe="")
    # QStash reads lowercase upstash-* query parameters as headers: dead letters reach `failures`.
    failures = quote(f"{settings.app_url}{FAILURES_PATH}", safe="")
    return f"{settings.qstash_url}/v2/publish/{inbound}?qstash_token={token}&upstash-failure-callback={failures}"


async def add_instance(org_id: str, name: str, token: str, base_url: str, owner: str) -> dict[str, Any]:
    record, instance_key = await registry.create_instance(
        org_id, name=name, token=token, base_url=base_url, owner=owner
    )
    return {"instance_id": record["id"], "instance_key": instance_key, **webhook_urls(instance_key)}


async def connect_instance(
    org_id: str | None, name: str, *, instance_key: str | None = None, direct_qstash: bool = False
) -> dict[str, Any]:
    """Point the instance's UAZAPI webhook at Zapline (the relay, or QStash with ``direct_qstash``).

    Only digests of instance keys are stored, so the URL needs the key: pass the one ``instances
    add`` printed, or none to issue a new one (the previous key keeps working until the next
    rotation, so webhooks already on their way are not lost).
    """
    from zapline.uazapi.client import Instance, configure_webhook

    if org_id is None:
        owners = await registry.orgs_with_instance(name)
        if len(owners) != 1:
            raise (BadRequest if owners else NotFound)(
                f"{len(owners) or 'no'} organisations have an instance named {name!r}"
                + ("; pass --org" if owners else "")
            )
        org_id = owners[0]
    record = await registry.get_instance(org_id, name)
    rotated = instance_key is None
    if instance_key is None:
        instance_key = await registry.rotate_instance_key(org_id, record["id"])
    elif not await registry.instance_key_matches(org_id, record["id"], instance_key):
        raise Unauthorized(f"that is not the current key of instance {name!r}; omit it to issue a new one")
    url = direct_qstash_url(instance_key) if direct_qstash else webhook_urls(instance_key)["webhook_url"]
    webhooks = await configure_webhook(Instance(record["base_url"], record["token"], record["id"]), url)
    configured = any(w.get("url") == url and w.get("enabled", True) for w in webhooks)
    answer = {"org_id": org_id, "instance_id": record["id"], "webhook": "qstash" if direct_qstash else "relay",
              "configured": configured, "key_prefix": registry.key_prefix(instance_key)}  # fmt: skip
    if rotated:
        answer["instance_key"] = instance_key  # new: shown once
    return answer

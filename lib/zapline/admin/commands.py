"""Operator commands behind ``zapline orgs`` and ``zapline instances`` (and ``zapline dev``'s demo)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from zapline.config import get_settings
from zapline.store import registry

__all__ = ["add_instance", "add_org", "connect_instance", "webhook_urls"]


async def add_org(name: str, timezone: str) -> dict[str, Any]:
    record, api_key = await registry.create_org(name, timezone)
    return {"org_id": record["id"], "api_key": api_key, "name": record["name"], "timezone": record["timezone"]}


def webhook_urls(instance_key: str) -> dict[str, str]:
    """Where UAZAPI should send this instance's webhooks.

    ``webhook_url`` goes through QStash directly (its token rides in the query, as QStash allows
    for callers that cannot set headers); ``ingress_url`` is the relay that keeps it in the app.
    """
    settings = get_settings()
    inbound = f"{settings.app_url}/api/inbound/uazapi/{instance_key}"
    token = quote(settings.qstash_token, safe="")
    # QStash reads lowercase upstash-* query parameters as headers: dead letters reach `failures`.
    failures = quote(f"{settings.app_url}/api/failures/qstash", safe="")
    return {
        "webhook_url": f"{settings.qstash_url}/v2/publish/{inbound}?qstash_token={token}"
        f"&upstash-failure-callback={failures}",
        "ingress_url": f"{settings.app_url}/api/ingress/uazapi/{instance_key}",
    }


async def add_instance(org_id: str, name: str, token: str, base_url: str, owner: str) -> dict[str, Any]:
    record, instance_key = await registry.create_instance(
        org_id, name=name, token=token, base_url=base_url, owner=owner
    )
    return {"instance_id": record["id"], "instance_key": instance_key, **webhook_urls(instance_key)}


async def connect_instance(org_id: str | None, name: str, *, relay: bool = False) -> dict[str, Any]:
    """Configure the instance's webhook in UAZAPI to Zapline's URL (QStash's, or the relay's)."""
    from zapline.errors import BadRequest, NotFound
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
    urls = webhook_urls(record["instance_key"])
    url = urls["ingress_url"] if relay else urls["webhook_url"]
    webhooks = await configure_webhook(Instance(record["base_url"], record["token"], record["id"]), url)
    configured = any(w.get("url") == url and w.get("enabled", True) for w in webhooks)
    return {"org_id": org_id, "instance_id": record["id"], "webhook": "relay" if relay else "qstash",
            "configured": configured}  # fmt: skip

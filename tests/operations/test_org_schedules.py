"""The schedules as an organisation's owner sees them: listed with their next local run; a deployment
schedule is the platform admin's; a per-organisation one can be paused, resumed and run by its owner
(planned with a schedule declared by the test, as the hourly tick would)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.support import AppProcess, Tenant


def call(tenant: Tenant, method: str, path: str, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key or tenant.api_key}"}
    return httpx.request(method, f"{tenant.env['APP_URL']}/api/v1{path}", headers=headers, timeout=30)


def test_an_owner_lists_the_schedules_and_cannot_change_the_deployments(app: AppProcess, tenant: Tenant) -> None:
    listed = call(tenant, "GET", "/schedules")
    assert listed.status_code == 200, listed.text
    sweeper = next(s for s in listed.json()["schedules"] if s["name"] == "sweeper")
    assert (sweeper["scope"], sweeper["paused"]) == ("deployment", False)
    assert datetime.fromisoformat(sweeper["next_run"]) > datetime.now(UTC)
    for action in ("pause", "resume", "run"):
        refused = call(tenant, "POST", f"/schedules/sweeper/{action}")
        assert refused.status_code == 403 and refused.json()["required_role"] == "admin", refused.text
    assert call(tenant, "POST", "/schedules/nothing/pause").status_code == 404


def test_an_agent_gets_403_on_schedules(app: AppProcess, tenant: Tenant) -> None:
    created = call(tenant, "GET", "/keys")
    assert created.status_code == 200
    agent = httpx.post(f"{tenant.env['APP_URL']}/api/v1/keys", json={"role": "agent", "name": "desk"},
                       headers={"Authorization": f"Bearer {tenant.api_key}"}, timeout=30).json()["api_key"]  # fmt: skip
    answer = call(tenant, "GET", "/schedules", key=agent)
    assert answer.status_code == 403 and answer.json()["required_role"] == "owner"


@pytest.fixture
def in_app_env(app_env: dict[str, str], tenant: Tenant) -> dict[str, str]:
    return app_env


def test_a_paused_per_org_schedule_is_skipped_by_the_tick(in_app_env: dict[str, str], tenant: Tenant) -> None:
    """The tick's own planning with a per-organisation schedule the test declares (none ships yet)."""
    from tests.schedules.kinds import per_org
    from zapline.admin import org_schedules
    from zapline.clients import aclose_clients
    from zapline.cronjobs import paused_schedules
    from zapline.registry.schedules import SCHEDULES, plan_tick

    evening = per_org("evening", "0 18 * * *")
    tick = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)  # 18:00 in São Paulo

    async def scenario() -> tuple[list[Any], dict[str, set[str]], list[Any]]:
        try:
            SCHEDULES.append(evening)  # the very list org_schedules reads
            before = plan_tick([evening], {tenant.org_id: "America/Sao_Paulo"}, tick)
            await org_schedules.pause(tenant.org_id, "evening", "test")
            paused = await paused_schedules([tenant.org_id], ["evening"])
            await org_schedules.resume(tenant.org_id, "evening", "test")
            after = await paused_schedules([tenant.org_id], ["evening"])
            return before, paused, [after]
        finally:
            SCHEDULES.remove(evening)
            await aclose_clients()

    before, paused, (after,) = asyncio.run(scenario())
    assert [p.org_id for p in before] == [tenant.org_id]
    assert paused == {tenant.org_id: {"evening"}} and after == {tenant.org_id: set()}

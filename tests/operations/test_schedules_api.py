"""The deployment's schedules through the operator API: list, sync, pause, resume and run now, only
with the platform admin token (ZAPLINE_ADMIN_TOKEN) — an organisation's owner key is refused, and a
deployment without the setting refuses every call."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.schedules.helpers import delete_ours, qstash
from tests.support import AppProcess, Tenant, wait_until

ADMIN_TOKEN = secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def admin_app(sandbox: dict[str, str]) -> Iterator[AppProcess]:
    from zapline.sandbox.redis_server import free_port

    app = AppProcess({**sandbox, "ZAPLINE_ADMIN_TOKEN": ADMIN_TOKEN}, free_port())
    delete_ours(sandbox)
    try:
        app.start()
        yield app
    finally:
        app.stop()
        delete_ours(sandbox)  # the sweeper must not fire in other modules' clock moves


def call(app: AppProcess, method: str, path: str, token: str = ADMIN_TOKEN) -> httpx.Response:
    return httpx.request(method, f"{app.url}/api/v1/admin/schedules{path}",
                         headers={"Authorization": f"Bearer {token}"}, timeout=30)  # fmt: skip


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def sweeper(app: AppProcess) -> dict[str, Any]:
    row: dict[str, Any] = next(r for r in ok(call(app, "GET", ""))["schedules"] if r["name"] == "sweeper")
    return row


def test_sync_list_pause_resume_and_run_now(admin_app: AppProcess, sandbox: dict[str, str]) -> None:
    assert sweeper(admin_app)["present"] is False
    dry = ok(call(admin_app, "POST", "/sync?dry_run=true"))
    assert dry["dry_run"] is True and dry["created"] == ["sweeper", "tick"]
    assert sweeper(admin_app)["present"] is False
    assert ok(call(admin_app, "POST", "/sync"))["created"] == ["sweeper", "tick"]
    assert ok(call(admin_app, "POST", "/sync"))["changes"] == 0
    row = sweeper(admin_app)
    assert row["present"] is True and row["paused"] is False and row["next_run"]

    for _ in range(2):  # idempotent
        assert ok(call(admin_app, "POST", "/sweeper/pause")) == {"name": "sweeper", "qstash_schedule":
                                                                  "zapline-sweeper", "paused": True}  # fmt: skip
    assert sweeper(admin_app)["paused"] is True
    assert qstash(sandbox, "GET", "/v2/schedules/zapline-sweeper").json()["isPaused"] is True
    ok(call(admin_app, "POST", "/sweeper/resume"))
    assert sweeper(admin_app)["paused"] is False

    ran = ok(call(admin_app, "POST", "/sweeper/run"))
    assert ran["qstash_schedule"] == "zapline-sweeper" and ran["qstash_message_id"]

    def delivered() -> bool:
        events = qstash(sandbox, "GET", "/v2/events", params={"messageId": ran["qstash_message_id"]}).json()["events"]
        return any(e["state"] == "DELIVERED" and e["url"].endswith("/api/cron/sweeper") for e in events)

    wait_until(delivered, timeout=20, what="the sweeper run now")


def test_unknown_schedules_are_not_found(admin_app: AppProcess) -> None:
    for action in ("pause", "resume", "run"):
        response = call(admin_app, "POST", f"/nightly/{action}")
        assert response.status_code == 404 and "declared are birthdays, contact-sync" in response.json()["error"]


def test_organisation_keys_never_reach_them(admin_app: AppProcess, app: AppProcess, sandbox: dict[str, str]) -> None:
    owner = Tenant({**sandbox, "APP_URL": admin_app.url}, name="Tenant").api_key
    for method, path in (("GET", ""), ("POST", "/sync"), ("POST", "/sweeper/pause"), ("POST", "/sweeper/run")):
        refused = call(admin_app, method, path, token=owner)
        assert refused.status_code == 403, refused.text
        assert refused.json()["required_role"] == "admin" and "ZAPLINE_ADMIN_TOKEN" in refused.json()["error"]
    anonymous = httpx.get(f"{admin_app.url}/api/v1/admin/schedules", timeout=10)
    assert anonymous.status_code == 401
    unset = call(app, "GET", "", token=ADMIN_TOKEN)  # the session app has no ZAPLINE_ADMIN_TOKEN
    assert unset.status_code == 403 and "not set" in unset.json()["error"]

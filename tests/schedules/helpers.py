"""QStash's schedules as these tests read and tidy them (raw HTTP, the documented API)."""

from __future__ import annotations

from typing import Any

import httpx


def qstash(env: dict[str, str], method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {env['QSTASH_TOKEN']}", **kwargs.pop("headers", {})}
    return httpx.request(method, env["QSTASH_URL"] + path, headers=headers, timeout=30, **kwargs)


def schedule_ids(env: dict[str, str]) -> set[str]:
    response = qstash(env, "GET", "/v2/schedules")
    response.raise_for_status()
    return {s["scheduleId"] for s in response.json()}


def delete_ours(env: dict[str, str]) -> None:
    """Remove every ``zapline-*`` schedule, so a test starts from none of them."""
    for schedule_id in schedule_ids(env):
        if schedule_id.startswith("zapline-"):
            qstash(env, "DELETE", f"/v2/schedules/{schedule_id}").raise_for_status()


def cli(env: dict[str, str], *args: str) -> dict[str, Any]:
    """``zapline <args> --json``'s answer (``tests.support.zapline_cli``, typed for nested answers)."""
    from tests.support import zapline_cli

    answer: dict[str, Any] = dict(zapline_cli(env, *args))
    return answer

"""``zapline schedules sync`` and ``list`` against the session sandbox's QStash, and the cron
function's routes over real HTTP. The session QStash is shared: other tests' schedules may be
there, so only ``zapline-*`` ones (this module's) are counted, and they are removed afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from tests.schedules.helpers import cli, delete_ours, qstash, schedule_ids
from tests.support import AppProcess, deliver
from zapline.registry.schedules import SCHEDULES

QSTASH_SCHEDULES = ["sweeper", "tick"]  # the one fixed schedule, and the tick every per-organisation one rides
DECLARED = [s.name for s in SCHEDULES]


@pytest.fixture
def env(sandbox: dict[str, str], app: AppProcess) -> Iterator[dict[str, str]]:
    settings = {**sandbox, "APP_URL": app.url}
    delete_ours(settings)
    yield settings
    delete_ours(settings)


def test_sync_creates_the_declared_schedules_then_changes_nothing(env: dict[str, str]) -> None:
    dry = cli(env, "schedules", "sync", "--dry-run")
    assert (dry["dry_run"], dry["created"], dry["changes"]) == (True, QSTASH_SCHEDULES, 2)
    assert "zapline-sweeper" not in schedule_ids(env)

    first = cli(env, "schedules", "sync")
    assert (first["created"], first["updated"], first["deleted"]) == (QSTASH_SCHEDULES, [], [])
    second = cli(env, "schedules", "sync")
    assert (second["changes"], second["unchanged"]) == (0, QSTASH_SCHEDULES)

    stored = qstash(env, "GET", "/v2/schedules/zapline-sweeper").json()
    assert (stored["cron"], stored["destination"], stored["body"]) == (
        "*/5 * * * *",
        f"{env['APP_URL']}/api/cron/sweeper",
        "{}",
    )
    assert stored["failureCallback"] == f"{env['APP_URL']}/api/failures/qstash"
    tick = qstash(env, "GET", "/v2/schedules/zapline-tick").json()
    assert (tick["cron"], tick["destination"]) == ("0 * * * *", f"{env['APP_URL']}/api/cron/tick")
    assert json.dumps(first)  # the answer is JSON


def test_list_shows_each_declared_schedule_with_its_qstash_state(env: dict[str, str]) -> None:
    before = cli(env, "schedules", "list")
    assert [(r["name"], r["present"], r["next_run"]) for r in before["schedules"]] == [
        (name, False, None) for name in DECLARED
    ]
    cli(env, "schedules", "sync")
    listed = cli(env, "schedules", "list")
    row, *per_org = listed["schedules"]
    assert {(r["qstash_schedule"], r["present"], r["fan_out"]) for r in per_org} == {("zapline-tick", True, "per_org")}
    assert (row["name"], row["qstash_schedule"], row["present"], row["paused"]) == (
        "sweeper",
        "zapline-sweeper",
        True,
        False,
    )
    assert row["next_run"] and row["next_run"].endswith("+00:00")
    qstash(env, "PATCH", "/v2/schedules/zapline-sweeper/pause").raise_for_status()
    paused = cli(env, "schedules", "list")["schedules"][0]
    assert (paused["present"], paused["paused"]) == (True, True)


def test_sync_updates_a_changed_schedule_and_deletes_undeclared_ones_but_no_one_elses(env: dict[str, str]) -> None:
    foreign, stale = f"other-{uuid.uuid4().hex[:8]}", f"zapline-gone-{uuid.uuid4().hex[:8]}"
    never = {"Upstash-Cron": "1 1 1 1 1"}  # 1 January, 01:01: it will not fire during the run
    try:
        for schedule_id in (foreign, stale):
            qstash(env, "POST", f"/v2/schedules/{env['APP_URL']}/api/cron/sweeper", content=b"{}",
                   headers={**never, "Upstash-Schedule-Id": schedule_id}).raise_for_status()  # fmt: skip
        drifted = {"Upstash-Cron": "*/7 * * * *", "Upstash-Schedule-Id": "zapline-sweeper"}
        qstash(env, "POST", f"/v2/schedules/{env['APP_URL']}/api/cron/sweeper", content=b"{}", headers=drifted)

        listed = cli(env, "schedules", "list")
        assert listed["undeclared"] == [stale.removeprefix("zapline-")]
        result = cli(env, "schedules", "sync")
        assert result["created"] == ["tick"]
        [updated] = result["updated"]
        assert updated["name"] == "sweeper" and {"cron", "labels", "failure_callback"} <= set(updated["changed"])
        assert result["deleted"] == [stale.removeprefix("zapline-")]
        present = schedule_ids(env)
        assert foreign in present and stale not in present and "zapline-sweeper" in present
        assert cli(env, "schedules", "sync")["changes"] == 0
    finally:
        qstash(env, "DELETE", f"/v2/schedules/{foreign}")


def test_human_output_and_one_line_errors(env: dict[str, str]) -> None:
    def run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "zapline", "schedules", *args], env={**os.environ, **env, **extra},
                              capture_output=True, text=True, timeout=60, check=False)  # fmt: skip

    created = run("sync")
    assert (created.returncode, created.stdout.splitlines()[0]) == (0, "create  sweeper")
    assert run("sync").stdout.strip() == "no changes"
    table = run("list").stdout.splitlines()
    assert table[0].split()[:3] == ["NAME", "CRON", "TIMEZONE"] and table[1].startswith("sweeper")
    broken = run("list", QSTASH_URL="http://127.0.0.1:9")
    assert broken.returncode == 1
    assert broken.stderr.startswith("zapline: QStash unreachable") and len(broken.stderr.splitlines()) == 1


def test_the_cron_routes_are_signed_and_run_their_jobs(sandbox: dict[str, str], app: AppProcess) -> None:
    key = sandbox["QSTASH_CURRENT_SIGNING_KEY"]
    swept = deliver(app.url, "/api/cron/sweeper", b"{}", key=key)
    assert swept.status_code == 200
    answer = swept.json()
    assert (answer["status"], answer["schedule"], answer["outcome"]) == ("ok", "sweeper", "swept")
    assert deliver(app.url, "/api/cron/sweeper", b"{}", key="sig_" + "x" * 32).status_code == 401
    tick = deliver(app.url, "/api/cron/tick", b"{}", key=key)
    # every per-organisation firing of the coming hour, for whichever organisations the session holds
    assert tick.status_code == 200 and tick.json()["outcome"] == "ticked", tick.text
    assert tick.json()["tick"].endswith(":00:00+00:00") and tick.json()["enqueued"] >= 0

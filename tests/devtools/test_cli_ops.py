"""``zapline status``, ``zapline lanes`` and ``zapline dlq`` run as an operator runs them (a child
process with the deployment's settings), ``--json`` and text, against the session sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from tests.conversation_loop import Loop
from tests.support import AppProcess, wait_until, zapline_cli


def text(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "zapline", *args], env={**os.environ, **env}, capture_output=True,
                            text=True, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "[#" not in result.stderr  # no progress bar when stdout is not a terminal
    return result.stdout


def test_status_shows_each_check_and_the_lanes_backlog(app: AppProcess, sandbox: dict[str, str]) -> None:
    env = {**sandbox, "APP_URL": app.url}
    answer = zapline_cli(env, "status")
    assert answer["status"] == "ok" and set(answer["checks"]) == {"redis", "qstash", "centrifugo"}
    assert set(answer["backlog"]) == {"realtime", "automation", "bulk"}
    shown = text(env, "status")
    assert shown.splitlines()[0].split() == ["CHECK", "STATE", "DETAIL"]
    assert "lane realtime" in shown and "redis" in shown and sandbox["QSTASH_TOKEN"] not in shown


def test_lanes_pause_list_and_resume(app: AppProcess, sandbox: dict[str, str]) -> None:
    loop = Loop(app, sandbox)
    env, org = loop.tenant.env, loop.tenant.org_id
    paused = zapline_cli(env, "lanes", "pause", "--org", org, "--lane", "bulk")
    assert [(r["lane"], r["changed"]) for r in paused["lanes"]] == [("bulk", True)]
    assert "bulk  already paused" in text(env, "lanes", "pause", "--org", org, "--lane", "bulk")
    listed: dict[str, Any] = {r["lane"]: r for r in zapline_cli(env, "lanes", "list", "--org", org)["lanes"]}
    assert listed["bulk"]["state"] == "paused" and listed["bulk"]["instances"][0]["paused_by"] == "cli"
    assert listed["realtime"]["state"] == "running"
    resumed = zapline_cli(env, "lanes", "resume", "--org", org)
    assert {r["lane"]: r["changed"] for r in resumed["lanes"]} == {"realtime": False, "automation": False,
                                                                   "bulk": True}  # fmt: skip
    assert "bulk" in text(env, "lanes", "list", "--org", org)


def test_dlq_list_retry_and_clean(app: AppProcess, sandbox: dict[str, str]) -> None:
    loop = Loop(app, sandbox)
    env, org = loop.tenant.env, loop.tenant.org_id
    number = "5500000000078"  # not on WhatsApp: the send is refused and dead-lettered
    loop.customer_says(number, "oi")
    loop.reply(loop.conversation_of(number)["id"], "olá")

    def letters() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = zapline_cli(env, "dlq", "list", "--org", org, "--job", "send")["items"]
        return [d for d in items if d["dlq_id"]]

    letter = wait_until(lambda: next(iter(letters()), None), timeout=30, what="the refused send's dead letter")
    assert letter["id"] in text(env, "dlq", "list", "--org", org)
    retried = zapline_cli(env, "dlq", "retry", letter["id"], "--org", org)
    assert retried["retried"] == 1 and retried["results"][0]["qstash_message_id"]
    again = zapline_cli(env, "dlq", "retry", letter["id"], "--org", org)
    assert again["failed"] == 1 and again["results"][0]["error_type"] == "conflict"
    wait_until(lambda: next(iter(letters()), None), timeout=30, what="the retried send failing again")
    cleaned = zapline_cli(env, "dlq", "clean", "--org", org, "--older-than-days", "0")
    assert cleaned["deleted"] >= 1
    assert text(env, "dlq", "list", "--org", org).strip() == "no dead letters"


def test_the_progress_bar_draws_on_one_line_and_ends_it(capsys: pytest.CaptureFixture[str]) -> None:
    from zapline.devtools.operate import progress_bar

    assert progress_bar("retry", enabled=False) is None
    draw = progress_bar("retry", enabled=True)
    assert draw is not None
    for done in range(3):
        draw(done, 2)
    captured = capsys.readouterr()
    assert captured.err.endswith("\rretry [" + "#" * 30 + "] 2/2\n") and captured.out == ""

"""Zero loss on the outbound side: QStash refuses every publish, then recovers; the sweeper sends
every stored message exactly once and re-arms the follow-ups and surveys that were never queued."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conversation_loop import Loop
from tests.support import AppProcess, deliver, wait_until
from zapline.sandbox.redis_server import free_port


@pytest.fixture(scope="module")
def loop(app: AppProcess, sandbox: dict[str, str]) -> Loop:
    return Loop(app, sandbox)


@pytest.fixture(scope="module")
def app_without_qstash(sandbox: dict[str, str]) -> Iterator[AppProcess]:
    """The same functions, same Redis, but every publish to QStash is refused (connection refused)."""
    process = AppProcess({**sandbox, "QSTASH_URL": f"http://127.0.0.1:{free_port()}"}, free_port())
    process.start()
    yield process
    process.stop()


def run_sweep(app: AppProcess, **options: Any) -> dict[str, Any]:
    body = json.dumps({"grace_seconds": 0, "full": False, **options}).encode()
    answer = deliver(app.url, "/api/jobs/sweep", body, key=app.env["QSTASH_CURRENT_SIGNING_KEY"])
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_refused_publishes_are_sent_once_after_qstash_recovers(
    loop: Loop, app: AppProcess, app_without_qstash: AppProcess
) -> None:
    number = loop.new_number()
    loop.customer_says(number, "oi, alguém aí?")
    conversation = loop.conversation_of(number)
    headers = {"Authorization": f"Bearer {loop.tenant.api_key}"}
    url = f"{app_without_qstash.url}/api/v1/conversations/{conversation['id']}/messages"
    replies = ["já te respondo", "segue o orçamento"]
    for text in replies:
        answer = httpx.post(url, json={"text": text}, headers=headers, timeout=30)
        assert answer.status_code == 200 and answer.json()["message"]["status"] == "pending", answer.text
    assert loop.sent(number) == []  # nothing could be queued

    swept = run_sweep(app)  # QStash is back (the healthy app publishes to it)
    assert swept["requeued"] == 2 and swept["rearmed"] == 1  # both messages, and the follow-up chain
    wait_until(lambda: len(loop.sent(number)) == 2, what="both sends")
    again = run_sweep(app, full=True)
    assert again["requeued"] == 0 and again["rearmed"] == 0
    assert sorted(s["text"] for s in loop.sent(number)) == sorted(replies)
    statuses = {m["text"]: m["status"] for m in loop.messages(conversation["id"]) if m["direction"] == "out"}
    assert all(statuses[text] != "pending" for text in replies)


def test_a_survey_refused_at_close_is_scheduled_by_the_sweeper(
    loop: Loop, app: AppProcess, app_without_qstash: AppProcess
) -> None:
    number = loop.new_number()
    loop.customer_says(number, "obrigado, era só isso")
    conversation = loop.conversation_of(number)
    headers = {"Authorization": f"Bearer {loop.tenant.api_key}"}
    closed = httpx.post(f"{app_without_qstash.url}/api/v1/conversations/{conversation['id']}/close",
                        headers=headers, timeout=30)  # fmt: skip
    assert closed.status_code == 200 and closed.json()["conversation"]["nps_state"] == "scheduled"
    assert run_sweep(app)["rearmed"] == 1
    loop.advance(61)
    wait_until(lambda: [s for s in loop.sent(number) if s.get("type") == "poll" or s.get("choices")],
               what="the survey")  # fmt: skip
    assert run_sweep(app, full=True)["rearmed"] == 0

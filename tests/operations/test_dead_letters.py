"""Dead-letter operations through the operator API, against the session sandbox: list with filters,
retry (delivered once, however often it is asked), delete, clean; another organisation's dead
letters are never found; every operation is logged with the organisation and the key's prefix."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from tests.conversation_loop import Loop
from tests.support import AppProcess, Tenant, wait_until

DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def loop(logged_app: AppProcess, sandbox: dict[str, str]) -> Loop:
    return Loop(logged_app, sandbox)


def letters(loop: Loop, **params: str) -> list[dict[str, Any]]:
    response = loop.operator("GET", "/dead-letters", params={"limit": "200", **params})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def qstash_dlq(sandbox: dict[str, str], dlq_id: str) -> httpx.Response:
    return httpx.get(
        f"{sandbox['QSTASH_URL']}/v2/dlq/{dlq_id}", headers={"Authorization": f"Bearer {sandbox['QSTASH_TOKEN']}"}
    )


def queues(loop: Loop) -> dict[str, Any]:
    response = loop.operator("GET", "/health/queues")
    assert response.status_code == 200, response.text
    jobs: dict[str, Any] = response.json()["jobs"]
    return jobs


def refused_send(loop: Loop) -> dict[str, Any]:
    """A send UAZAPI refuses (a number not on WhatsApp), once it is a recorded dead letter."""
    number = "5500000000077"
    loop.customer_says(number, "oi")
    conversation = loop.conversation_of(number)
    reply = loop.reply(conversation["id"], "olá")
    return wait_until(
        lambda: next((d for d in letters(loop, job="send") if "WhatsApp" in d["reason"] and d["dlq_id"]), None),
        timeout=30,
        what="the refused send's dead letter",
    ) | {"message_id": reply["id"]}


def test_a_refused_send_is_listed_filtered_and_counted(loop: Loop) -> None:
    before = queues(loop)["send"]["failed"]
    letter = refused_send(loop)
    assert letter["id"] == letter["dlq_id"] and letter["retryable"] is True and letter["job"] == "send"
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert [d["id"] for d in letters(loop, job="send", reason="whatsapp")] == [letter["id"]]
    assert letters(loop, job="followup") == []
    assert letters(loop, reason="no such reason anywhere") == []
    assert letter["id"] in [d["id"] for d in letters(loop, since=str(letter["at"]), until=str(letter["at"]))]
    assert letters(loop, until=str(letter["at"] - 1)) == []
    assert letter["id"] in [d["id"] for d in letters(loop, since="2020-01-01")]
    assert letters(loop, since="2999-01-01") == []
    assert today  # a day in the organisation's timezone is accepted too
    bad = loop.operator("GET", "/dead-letters", params={"since": "yesterday"})
    assert bad.status_code == 400 and bad.json()["error_type"] == "bad_request" and "since" in bad.json()["error"]
    assert queues(loop)["send"]["failed"] >= before + 1


def test_a_retried_dead_letter_is_delivered_once_and_leaves_the_list(loop: Loop, sandbox: dict[str, str]) -> None:
    number = loop.new_number()
    loop.customer_says(number, "oi")
    conversation = loop.conversation_of(number)
    # UAZAPI refuses every attempt QStash makes (the first and its 3 retries): the send is a dead letter
    fault = {"instance": loop.tenant.token, "status": 429, "count": 4, "retry_after": 0, "endpoint": "/send/text"}
    httpx.post(f"{sandbox['UAZAPI_URL']}/_sandbox/faults", json=fault).raise_for_status()
    reply = loop.reply(conversation["id"], "depois das falhas")
    letter = wait_until(
        lambda: next((d for d in letters(loop, job="send") if d["dlq_id"] and "429" in d["reason"]), None),
        timeout=60,
        what="the send's dead letter",
    )
    assert wait_until(
        lambda: [m for m in loop.messages(conversation["id"]) if m["id"] == reply["id"] and m["status"] == "failed"],
        what="the message marked failed",
    )
    assert loop.sent(number) == []

    retried = loop.operator("POST", f"/dead-letters/{letter['id']}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["outcome"] == "retried" and retried.json()["qstash_message_id"]
    sends = wait_until(lambda: loop.sent(number), timeout=30, what="the retried send")
    assert [s["text"] for s in sends] == ["depois das falhas"]
    assert letter["id"] not in [d["id"] for d in letters(loop)]
    assert qstash_dlq(sandbox, letter["id"]).status_code == 404

    again = loop.operator("POST", f"/dead-letters/{letter['id']}/retry")
    assert again.status_code == 409, again.text
    assert again.json()["status"] == "error" and again.json()["error_type"] == "conflict"
    assert "already retried" in again.json()["error"]
    wait_until(
        lambda: [m for m in loop.messages(conversation["id"]) if m["id"] == reply["id"] and m["status"] != "pending"],
        what="the message to leave pending",
    )
    assert [s["text"] for s in loop.sent(number)] == ["depois das falhas"]  # still once
    logs = loop.app.logs()
    assert loop.tenant.api_key not in logs
    done = [r for r in map(json.loads, logs.splitlines()) if r.get("event") == "dead letter retried"]
    assert [(r["org"], r["dlq_id"]) for r in done] == [(loop.tenant.org_id, letter["id"])]
    assert done[0]["key_prefix"].startswith(f"zk_{loop.tenant.org_id}_") and done[0]["key_prefix"].endswith("…")


def test_another_organisations_dead_letter_is_not_found(
    loop: Loop, logged_app: AppProcess, sandbox: dict[str, str]
) -> None:
    letter = next((d for d in letters(loop) if d["dlq_id"]), None) or refused_send(loop)
    other = Tenant({**sandbox, "APP_URL": logged_app.url}, name="Other")
    headers = {"Authorization": f"Bearer {other.api_key}"}
    for method, path in (("POST", f"/dead-letters/{letter['id']}/retry"), ("DELETE", f"/dead-letters/{letter['id']}")):
        response = httpx.request(method, f"{logged_app.url}/api/v1{path}", headers=headers, timeout=30)
        assert response.status_code == 404, response.text
        assert response.json()["error_type"] == "not_found"
    bulk = httpx.post(f"{logged_app.url}/api/v1/dead-letters/retry", json={"dlq_ids": [letter["id"]]}, headers=headers)
    assert bulk.status_code == 200 and bulk.json()["retried"] == 0
    assert bulk.json()["results"][0]["error_type"] == "not_found"
    assert letter["id"] in [d["id"] for d in letters(loop)]  # untouched, in Zapline and in QStash
    assert qstash_dlq(sandbox, letter["id"]).status_code == 200


def record(loop: Loop, sandbox: dict[str, str], **entry: Any) -> None:
    """A dead letter as the failures function (or the ingress relay) records it, written to Redis."""
    from zapline.store.keys import OrgKeys

    base = {"dlq_id": "", "qstash_message_id": "", "job": "inbound", "path": "/api/ingress/uazapi",
            "http_status": 413, "reason": "payload_too_large", "retried": 0, "at": int(time.time() * 1000),
            "summary": "{…"}  # fmt: skip
    command = ["LPUSH", OrgKeys(loop.tenant.org_id).dead_letters, json.dumps({**base, **entry}, ensure_ascii=False)]
    headers = {"Authorization": f"Bearer {sandbox['UPSTASH_REDIS_REST_TOKEN']}"}
    httpx.post(sandbox["UPSTASH_REDIS_REST_URL"], json=command, headers=headers, timeout=10).raise_for_status()


def test_a_relay_dead_letter_can_be_deleted_but_not_retried(loop: Loop, sandbox: dict[str, str]) -> None:
    record(loop, sandbox, reason="payload_too_large: relay test")
    letter = next(d for d in letters(loop) if d["reason"] == "payload_too_large: relay test")
    assert letter["id"].startswith("local-") and letter["retryable"] is False
    retried = loop.operator("POST", f"/dead-letters/{letter['id']}/retry")
    assert retried.status_code == 409, retried.text
    assert "ingress relay" in retried.json()["error"] and "QStash holds no copy" in retried.json()["error"]
    deleted = loop.operator("DELETE", f"/dead-letters/{letter['id']}")
    assert deleted.status_code == 200, deleted.text
    assert letter["id"] not in [d["id"] for d in letters(loop)]
    assert loop.operator("DELETE", f"/dead-letters/{letter['id']}").status_code == 404


def test_delete_drops_it_from_qstash_and_the_list(loop: Loop, sandbox: dict[str, str]) -> None:
    letter = next((d for d in letters(loop, job="send") if d["dlq_id"] and "WhatsApp" in d["reason"]), None)
    letter = letter or refused_send(loop)
    deleted = loop.operator("DELETE", f"/dead-letters/{letter['id']}")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["qstash"] == "deleted"
    assert qstash_dlq(sandbox, letter["id"]).status_code == 404
    assert letter["id"] not in [d["id"] for d in letters(loop)]
    again = loop.operator("DELETE", f"/dead-letters/{letter['id']}")
    assert again.status_code == 404 and "deleted" in again.json()["error"]
    assert loop.operator("POST", f"/dead-letters/{letter['id']}/retry").status_code == 404


def test_clean_removes_the_old_ones_only(loop: Loop, sandbox: dict[str, str]) -> None:
    old = int(time.time() * 1000) - 40 * DAY_MS
    record(loop, sandbox, reason="old relay", at=old)
    record(loop, sandbox, dlq_id="1600000000000-7", job="send", reason="old send", at=old)
    record(loop, sandbox, reason="recent relay")
    cleaned = loop.operator("POST", "/dead-letters/clean", json={"older_than_days": 30})
    assert cleaned.status_code == 200, cleaned.text
    assert cleaned.json()["deleted"] == 2
    reasons = [d["reason"] for d in letters(loop)]
    assert "recent relay" in reasons and "old relay" not in reasons and "old send" not in reasons
    assert loop.operator("POST", "/dead-letters/clean", json={"older_than_days": -1}).status_code == 400


def test_bulk_retry_validates_and_answers_per_id(loop: Loop) -> None:
    for body in ({}, {"dlq_ids": [], "job": "send"}, {"job": "nothing"}, {"dlq_ids": ["a"] * 101}):
        response = loop.operator("POST", "/dead-letters/retry", json=body)
        assert response.status_code in (400, 413), (body, response.text)
        assert response.json()["status"] == "error"
    unknown = loop.operator("POST", "/dead-letters/retry", json={"dlq_ids": ["1600000000000-9", "../x"]})
    assert unknown.status_code == 200, unknown.text
    assert [r["error_type"] for r in unknown.json()["results"]] == ["not_found", "not_found"]
    by_job = loop.operator("POST", "/dead-letters/retry", json={"job": "nps"})
    assert by_job.status_code == 200 and by_job.json() == {"retried": 0, "failed": 0, "results": []}

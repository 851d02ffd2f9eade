"""The tenant boundary around QStash: the relay by default, dead letters attributed only from
trusted data, and no instance secret in dead letters or logs."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx

from tests.sandbox.qstash_helpers import client as qstash_client
from tests.support import AppProcess, Tenant, deliver, wait_until
from zapline.sandbox.uazapi.payloads import Uazapi, body


def post(url: str, raw: bytes) -> httpx.Response:
    return httpx.post(url, content=raw, headers={"Content-Type": "application/json"}, timeout=30)


def letters(tenant: Tenant) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = tenant.api("/dead-letters").json()["items"]
    return items


def secret_of(tenant: Tenant) -> str:
    return tenant.instance_key.rsplit(".", 1)[1]


def test_a_webhook_body_naming_another_org_is_recorded_for_the_instances_own(
    tenant_a: Tenant, tenant_b: Tenant
) -> None:
    forged = json.dumps({"EventType": "messages", "token": tenant_a.token, "org_id": tenant_b.org_id}).encode()
    accepted = post(tenant_a.webhook_url, forged)  # the relay: the token matches, the event is malformed
    assert accepted.status_code == 200, accepted.text
    message_id = accepted.json()["messageId"]
    mine = wait_until(
        lambda: [d for d in letters(tenant_a) if d["qstash_message_id"] == message_id], what="A's dead letter"
    )
    assert mine[0]["job"] == "inbound" and mine[0]["reason"].startswith("invalid_payload")
    assert mine[0]["http_status"] == 489
    assert all(d["qstash_message_id"] != message_id for d in letters(tenant_b))


def test_no_instance_secret_in_dead_letters_or_logs(logged_app: AppProcess, tenant_a: Tenant) -> None:
    accepted = post(tenant_a.direct_url, b'{"EventType": "messages", "token": "wrong"}')  # refused by inbound
    message_id = accepted.json()["messageId"]
    letter = wait_until(lambda: [d for d in letters(tenant_a) if d["qstash_message_id"] == message_id], what="letter")
    secret = secret_of(tenant_a)
    assert secret not in json.dumps(letter) and letter[0]["path"].endswith(secret[:4] + "…")
    assert '"wrong"' not in json.dumps(letter)  # the body's token is not kept either
    post(tenant_a.webhook_url, b'{"EventType": "messages", "token": "wrong"}')  # refused by the relay
    wait_until(lambda: "instance_key_prefix" in logged_app.logs(), what="the relay's log line")
    logs = logged_app.logs()
    assert "dead letter" in logs and "request refused" in logs
    assert secret not in logs and tenant_a.token not in logs and tenant_a.api_key not in logs


def test_a_job_for_a_missing_record_is_permanent(logged_app: AppProcess, tenant_a: Tenant) -> None:
    job = json.dumps({"org_id": tenant_a.org_id, "message_id": "msg_0000000000000000"}).encode()
    answer = deliver(logged_app.url, "/api/jobs/send", job, key=tenant_a.env["QSTASH_CURRENT_SIGNING_KEY"])
    assert answer.status_code == 489 and answer.headers["upstash-nonretryable-error"] == "true"
    assert answer.json()["error_type"] == "not_found"


def test_the_failures_function_answers_ok_for_a_recorded_489(logged_app: AppProcess, tenant_a: Tenant) -> None:
    source = base64.b64encode(b'{"EventType": "messages"}').decode()
    callback = {"status": 489, "body": "", "retried": 0, "sourceMessageId": "msg_cb_ok", "dlqId": "dlq_cb_ok",
                "url": f"{logged_app.url}{tenant_a.inbound_path}", "sourceBody": source}  # fmt: skip
    raw = json.dumps(callback).encode()
    answer = deliver(logged_app.url, "/api/failures/qstash", raw, key=tenant_a.env["QSTASH_CURRENT_SIGNING_KEY"])
    assert answer.status_code == 200 and answer.json() == {"status": "ok", "outcome": "recorded", "job": "inbound",
                                                           "dlq_id": "dlq_cb_ok"}  # fmt: skip


def test_deeply_nested_failed_bodies_are_still_recorded(logged_app: AppProcess, tenant_a: Tenant) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    for path in (tenant_a.inbound_path, "/api/jobs/send"):
        callback = {"status": 489, "sourceMessageId": f"msg_deep_{len(path)}", "dlqId": f"dlq_deep_{len(path)}",
                    "url": f"{logged_app.url}{path}", "sourceBody": base64.b64encode(deep).decode()}  # fmt: skip
        raw = json.dumps(callback).encode()
        answer = deliver(logged_app.url, "/api/failures/qstash", raw, key=tenant_a.env["QSTASH_CURRENT_SIGNING_KEY"])
        assert answer.status_code == 200, answer.text
    # the inbound one is attributed by its (verified) instance key; a job body that is not JSON names no org
    assert [d["job"] for d in letters(tenant_a) if d["dlq_id"].startswith("dlq_deep_")] == ["inbound"]


def test_an_oversized_webhook_is_refused_and_still_recorded(tenant_a: Tenant, sandbox: dict[str, str]) -> None:
    big = body(Uazapi(token=tenant_a.token).text("x" * 2_000_000))
    relayed = post(tenant_a.webhook_url, big)
    assert relayed.status_code == 413 and relayed.json()["error_type"] == "payload_too_large"
    wait_until(lambda: [d for d in letters(tenant_a) if d["http_status"] == 413], what="the relay's dead letter")

    accepted = post(tenant_a.direct_url, big)  # the direct opt-in: QStash takes it, inbound refuses it
    assert accepted.status_code in (200, 201), accepted.text
    message_id = accepted.json()["messageId"]
    recorded = wait_until(
        lambda: [d for d in letters(tenant_a) if d["qstash_message_id"] == message_id], what="the dead letter"
    )
    assert recorded[0]["reason"].startswith("payload_too_large") and recorded[0]["size"] == len(big)
    assert len(recorded[0]["summary"]) <= 600 and tenant_a.token not in recorded[0]["summary"]
    letter = qstash_client(sandbox).dlq.list(filter={"message_id": message_id}).messages
    assert letter and letter[0].response_status == 489

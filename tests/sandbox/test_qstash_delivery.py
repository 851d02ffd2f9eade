"""Delivery semantics under the sandbox clock: retries and backoff timing, Retry-After, 489,
timeouts, delays, callbacks and failure callbacks, cancel. These tests move the clock, so they run
on a sandbox of their own (see ``qstash_helpers``)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from qstash.log import LogState
from qstash.message import PublishResponse

from tests.receiver import HttpReceiver, Recorded, Reply
from tests.sandbox.qstash_helpers import advance, client, now_ms, own_sandbox, raw, unique, verify
from tests.support import wait_until


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with own_sandbox(Path(tmp_path_factory.mktemp("qstash-delivery"))) as found:
        yield found


def publish(settings: dict[str, str], **kwargs: object) -> str:
    res = client(settings).message.publish(**kwargs)  # type: ignore[arg-type]
    assert isinstance(res, PublishResponse)
    return res.message_id


def retry_gaps(settings: dict[str, str], message_id: str) -> list[int]:
    logs = client(settings).log.list(filter={"message_id": message_id, "state": LogState.RETRY}).logs
    return [log.next_delivery_time - log.time for log in reversed(logs)]  # type: ignore[operator]


def test_failures_are_retried_with_the_default_backoff_then_dead_lettered(
    settings: dict[str, str], rx: HttpReceiver
) -> None:
    path = f"/{unique()}"
    rx.respond(path, Reply(500, body=b"boom"))
    message_id = publish(settings, url=rx.url_for(path), body="payload")
    rx.wait_for(1, path=path)
    for wait, attempts in [(11, 1), (1, 2), (147, 2), (1, 3), (1807, 3), (1, 4)]:  # 12 s, 2m28s, 30m8s
        advance(settings, wait)
        assert len(rx.received(path)) == attempts, f"after +{wait}s"
    got = rx.received(path)
    assert [r.headers["upstash-retried"] for r in got] == ["0", "1", "2", "3"]
    assert {r.headers["upstash-message-id"] for r in got} == {message_id}
    for request in got:
        verify(settings, request, rx.url_for(path))
    assert retry_gaps(settings, message_id) == [12_000, 148_000, 1_808_000]
    advance(settings, 86_400)
    assert len(rx.received(path)) == 4  # 3 retries: 4 attempts, no more
    (entry,) = client(settings).dlq.list(filter={"message_id": message_id}).messages
    assert entry.response_status == 500 and entry.response_body == "boom" and entry.max_retries == 3


def test_a_retry_delay_expression_replaces_the_backoff(settings: dict[str, str], rx: HttpReceiver) -> None:
    path = f"/{unique()}"
    rx.respond(path, Reply(503), Reply(503), Reply(200))
    message_id = publish(settings, url=rx.url_for(path), retry_delay="1000 * pow(2, retried)")
    rx.wait_for(1, path=path)
    advance(settings, 1)
    assert len(rx.received(path)) == 2
    advance(settings, 2)
    assert len(rx.received(path)) == 3
    assert retry_gaps(settings, message_id) == [1000, 2000]


def test_retry_after_is_honoured(settings: dict[str, str], rx: HttpReceiver) -> None:
    path = f"/{unique()}"
    rx.respond(path, Reply(429, headers={"Retry-After": "30"}), Reply(200))
    message_id = publish(settings, url=rx.url_for(path))
    rx.wait_for(1, path=path)
    advance(settings, 29)
    assert len(rx.received(path)) == 1
    advance(settings, 1)
    assert len(rx.received(path)) == 2
    assert retry_gaps(settings, message_id) == [30_000]


def test_489_with_non_retryable_fails_at_once(settings: dict[str, str], rx: HttpReceiver) -> None:
    final, plain = f"/{unique()}", f"/{unique()}"
    rx.respond(final, Reply(489, headers={"Upstash-NonRetryable-Error": "true"}, body=b"bad payload"))
    rx.respond(plain, Reply(489))
    final_id = publish(settings, url=rx.url_for(final), retries=3)
    plain_id = publish(settings, url=rx.url_for(plain), retries=3)
    rx.wait_for(1, path=final)
    rx.wait_for(1, path=plain)
    qstash = client(settings)
    wait_until(lambda: qstash.dlq.list(filter={"message_id": final_id}).messages, what="the 489 in the DLQ")
    (entry,) = qstash.dlq.list(filter={"message_id": final_id}).messages
    assert entry.response_status == 489 and entry.response_body == "bad payload"
    assert entry.response_headers is not None and entry.response_headers["Upstash-Nonretryable-Error"] == ["true"]
    assert retry_gaps(settings, final_id) == []
    assert retry_gaps(settings, plain_id) == [12_000]  # 489 without the header is an ordinary failure


def test_a_timeout_is_a_failed_attempt(settings: dict[str, str], rx: HttpReceiver) -> None:
    path = f"/{unique()}"
    rx.respond(path, Reply(200, delay=3.0), Reply(200))
    message_id = publish(settings, url=rx.url_for(path), timeout=1, retries=1)
    rx.wait_for(1, path=path)
    qstash = client(settings)
    wait_until(
        lambda: qstash.log.list(filter={"message_id": message_id, "state": LogState.ERROR}).logs,
        timeout=10,
        what="the timed-out attempt",
    )
    (error,) = qstash.log.list(filter={"message_id": message_id, "state": LogState.ERROR}).logs
    assert error.error is not None and "1s" in error.error
    advance(settings, 12)
    assert len(rx.received(path)) == 2
    assert qstash.log.list(filter={"message_id": message_id, "state": LogState.DELIVERED}).logs


def test_delay_and_not_before_wait_for_the_sandbox_clock(settings: dict[str, str], rx: HttpReceiver) -> None:
    delayed, scheduled = f"/{unique()}", f"/{unique()}"
    publish(settings, url=rx.url_for(delayed), body="later", delay="1m")
    publish(settings, url=rx.url_for(scheduled), body="at", not_before=now_ms(settings) // 1000 + 120)
    advance(settings, 59)
    assert rx.received(delayed) == [] and rx.received(scheduled) == []
    advance(settings, 1)
    assert [r.text for r in rx.received(delayed)] == ["later"]
    advance(settings, 61)
    assert [r.text for r in rx.received(scheduled)] == ["at"]
    verify(settings, rx.received(delayed)[0], rx.url_for(delayed))


def callbacks(rx: HttpReceiver, path: str, count: int) -> list[tuple[Recorded, dict[str, object]]]:
    return [(r, json.loads(r.body)) for r in rx.wait_for(count, path=path)]


def test_callbacks_follow_every_attempt_and_the_failure_callback_carries_the_dlq_id(
    settings: dict[str, str], rx: HttpReceiver
) -> None:
    flaky, doomed, cb, fcb = (f"/{unique()}" for _ in range(4))
    rx.respond(flaky, Reply(500, body=b"nope"), Reply(201, body=b"made"))
    rx.respond(doomed, Reply(404, body=b"404 Not Found"))
    first = publish(
        settings, url=rx.url_for(flaky), body='{"a":1}', content_type="application/json",
        callback=rx.url_for(cb), callback_headers={"Upstash-Callback-Forward-X-Tag": "cb"},
    )  # fmt: skip
    second = publish(
        settings, url=rx.url_for(doomed), body="x", retries=1,
        failure_callback=rx.url_for(fcb), failure_callback_headers={"X-Kind": "failure"},
    )  # fmt: skip
    callbacks(rx, cb, 1)
    advance(settings, 12)
    (_, after_fail), (request, after_success) = callbacks(rx, cb, 2)
    assert after_fail["status"] == 500 and after_fail["retried"] == 0 and after_fail["maxRetries"] == 3
    assert after_success["status"] == 201 and after_success["retried"] == 1
    assert base64.b64decode(str(after_success["body"])) == b"made"
    assert after_success["sourceMessageId"] == first and after_success["url"] == rx.url_for(flaky)
    assert base64.b64decode(str(after_success["sourceBody"])) == b'{"a":1}'
    assert after_success["sourceHeader"] == {"Content-Type": ["application/json"]}
    assert request.headers["x-tag"] == "cb" and request.headers["content-type"] == "application/json"
    verify(settings, request, rx.url_for(cb))

    (request, failure) = callbacks(rx, fcb, 1)[0]
    assert failure["status"] == 404 and failure["retried"] == 1 and failure["maxRetries"] == 1
    assert base64.b64decode(str(failure["body"])) == b"404 Not Found"
    (entry,) = client(settings).dlq.list(filter={"message_id": second}).messages
    assert failure["dlqId"] == entry.dlq_id and failure["sourceMessageId"] == second
    assert request.headers["x-kind"] == "failure"
    verify(settings, request, rx.url_for(fcb))


def test_cancelling_a_retrying_message_stops_it(settings: dict[str, str], rx: HttpReceiver) -> None:
    path = f"/{unique()}"
    rx.respond(path, Reply(500))
    message_id = publish(settings, url=rx.url_for(path))
    rx.wait_for(1, path=path)
    client(settings).message.cancel(message_id)
    advance(settings, 3600)
    assert len(rx.received(path)) == 1
    logs = client(settings).log.list(filter={"message_id": message_id}).logs
    assert [log.state.value for log in logs[:2]] == ["CANCELED", "CANCEL_REQUESTED"]
    assert client(settings).dlq.list(filter={"message_id": message_id}).messages == []


def test_the_clock_endpoints(settings: dict[str, str]) -> None:
    before = now_ms(settings)
    answer = advance(settings, 90)
    assert answer["now"] >= before + 90_000 and answer["fired"] >= 0
    assert now_ms(settings) >= answer["now"]
    bad = httpx.post(f"{settings['QSTASH_URL']}/_sandbox/clock/advance", json={"seconds": -1}, timeout=10)
    assert bad.status_code == 400 and "seconds" in bad.json()["error"]


def test_advancing_the_clock_says_what_fired(settings: dict[str, str], rx: HttpReceiver) -> None:
    ok, flaky, dead, cron = (f"/{unique()}" for _ in range(4))
    rx.respond(flaky, Reply(500, body=b"later"))
    rx.respond(dead, Reply(404, body=b"gone"))
    ok_id = publish(settings, url=rx.url_for(ok), body="1", delay="30s")
    flaky_id = publish(settings, url=rx.url_for(flaky), body="2", delay="30s", retries=1, retry_delay="600000")
    dead_id = publish(settings, url=rx.url_for(dead), body="3", delay="30s", retries=0)
    qstash = client(settings)
    schedule_id = qstash.schedule.create(destination=rx.url_for(cron), cron="* * * * *", body="tick")
    try:
        answer = advance(settings, 60)  # the delayed messages, and the schedule's next minute
    finally:
        qstash.schedule.delete(schedule_id)
    assert answer["fired"] == len(answer["deliveries"])  # other tests' retries may fire too
    mine = {d["url"]: d for d in answer["deliveries"] if d["url"] in {rx.url_for(p) for p in (ok, flaky, dead, cron)}}
    assert len(mine) == 4, answer
    assert mine[rx.url_for(ok)] == {
        "messageId": ok_id, "url": rx.url_for(ok), "scheduleId": None, "kind": "message", "retried": 0,
        "outcome": "delivered", "status": 200,
    }  # fmt: skip
    retry = mine[rx.url_for(flaky)]
    assert (retry["messageId"], retry["outcome"], retry["status"]) == (flaky_id, "retry", 500)
    assert retry["nextDelivery"] - answer["now"] > 500_000 and "500" in retry["error"]
    (entry,) = qstash.dlq.list(filter={"message_id": dead_id}).messages
    gone = mine[rx.url_for(dead)]
    assert (gone["messageId"], gone["outcome"], gone["status"], gone["dlqId"]) == (dead_id, "dlq", 404, entry.dlq_id)
    tick = mine[rx.url_for(cron)]
    assert (tick["scheduleId"], tick["outcome"], tick["status"]) == (schedule_id, "delivered", 200)
    assert [r.headers["upstash-message-id"] for r in rx.received(cron)] == [tick["messageId"]]
    again = advance(settings, 0)["deliveries"]
    assert [d for d in again if d["url"] in mine] == []  # nothing of these is due any more


def test_deduplication_lasts_ten_minutes_of_sandbox_time(settings: dict[str, str], rx: HttpReceiver) -> None:
    qstash, path, dedup_id = client(settings), f"/{unique()}", unique("d")
    first = qstash.message.publish(url=rx.url_for(path), body="1", deduplication_id=dedup_id)
    advance(settings, 599)
    within = qstash.message.publish(url=rx.url_for(path), body="2", deduplication_id=dedup_id)
    advance(settings, 2)
    after = qstash.message.publish(url=rx.url_for(path), body="3", deduplication_id=dedup_id)
    assert isinstance(first, PublishResponse) and isinstance(within, PublishResponse)
    assert isinstance(after, PublishResponse)
    assert within.deduplicated and within.message_id == first.message_id
    assert not after.deduplicated and after.message_id != first.message_id
    assert [r.text for r in rx.wait_for(2, path=path)] == ["1", "3"]


def test_deduplication_by_id_and_by_content_answers_202_with_the_first_id(
    settings: dict[str, str], rx: HttpReceiver
) -> None:
    qstash = client(settings)
    path, dedup_id = f"/{unique()}", unique("d")
    first = qstash.message.publish(url=rx.url_for(path), body="a", deduplication_id=dedup_id)
    assert isinstance(first, PublishResponse) and not first.deduplicated
    again = raw(
        settings, "POST", f"/v2/publish/{rx.url_for(path)}", content=b"other body",
        headers={"Upstash-Deduplication-Id": dedup_id},
    )  # fmt: skip
    assert again.status_code == 202
    assert again.json() == {"messageId": first.message_id, "deduplicated": True}

    content = f"/{unique()}"
    one = qstash.message.publish(url=rx.url_for(content), body="same", content_based_deduplication=True)
    two = qstash.message.publish(url=rx.url_for(content), body="same", content_based_deduplication=True)
    other = qstash.message.publish(url=rx.url_for(content), body="different", content_based_deduplication=True)
    assert isinstance(one, PublishResponse) and isinstance(two, PublishResponse)
    assert isinstance(other, PublishResponse)
    assert two.deduplicated and two.message_id == one.message_id
    assert not other.deduplicated and other.message_id != one.message_id
    assert sorted(r.text for r in rx.wait_for(2, path=content)) == ["different", "same"]
    assert [r.text for r in rx.wait_for(1, path=path)] == ["a"]

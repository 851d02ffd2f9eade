"""Durability: a sandbox stopped (SIGTERM) and started again on the same data directory keeps
every accepted message, schedule, queue, dead letter, rotated signing key and the clock offset,
delivers a delayed message exactly once, and re-attempts a delivery the shutdown interrupted."""

from __future__ import annotations

from pathlib import Path

from qstash import Receiver
from qstash.message import PublishResponse

from tests.receiver import HttpReceiver, Reply
from tests.sandbox.qstash_helpers import advance, client, now_ms, raw, start, unique
from tests.support import SandboxProcess, wait_until


def test_a_restart_loses_nothing(tmp_path: Path, rx: HttpReceiver) -> None:
    delayed, cron, queued, dead = (f"/{unique()}" for _ in range(4))
    rx.respond(dead, Reply(404, body=b"gone"))
    process = SandboxProcess(tmp_path / "sandbox")
    settings = start(process)
    try:
        qstash = client(settings)
        res = qstash.message.publish(url=rx.url_for(delayed), body="once", delay="2m")
        assert isinstance(res, PublishResponse)
        schedule_id = qstash.schedule.create(destination=rx.url_for(cron), cron="*/10 * * * *", body="tick")
        qstash.queue.upsert("held", parallelism=1, paused=True)
        qstash.message.enqueue(queue="held", url=rx.url_for(queued), body="queued")
        qstash.message.publish(url=rx.url_for(dead), retries=0)
        wait_until(lambda: qstash.dlq.list(filter={"url": rx.url_for(dead)}).messages, what="the dead letter")
        keys = qstash.signing_key.rotate()
        assert keys.current == settings["QSTASH_NEXT_SIGNING_KEY"]
        advance(settings, 30)
        clock = now_ms(settings)
    finally:
        assert process.stop() == 0

    settings = process.start()
    try:
        qstash = client(settings)
        assert now_ms(settings) >= clock
        assert qstash.signing_key.get() == keys  # rotated keys win over the configured ones
        assert qstash.schedule.get(schedule_id).cron == "*/10 * * * *"
        held = qstash.queue.get("held")
        assert held.paused and held.lag == 1
        (entry,) = qstash.dlq.list(filter={"url": rx.url_for(dead)}).messages
        assert entry.response_body == "gone"
        assert qstash.message.get(res.message_id).body == "once"

        advance(settings, 120)
        (got,) = rx.received(delayed)
        assert got.headers["upstash-message-id"] == res.message_id
        Receiver(keys.current, keys.next).verify(
            signature=got.headers["upstash-signature"], body=got.text, url=rx.url_for(delayed)
        )
        qstash.queue.resume("held")
        assert [r.text for r in rx.wait_for(1, path=queued)] == ["queued"]
        advance(settings, 3600)
        assert len(rx.received(delayed)) == 1  # exactly once
        assert len(rx.received(cron)) >= 6  # the schedule kept firing on the restored clock
    finally:
        process.stop()


def test_an_attempt_cut_short_by_a_shutdown_is_made_again(tmp_path: Path, rx: HttpReceiver) -> None:
    path = f"/{unique()}"
    rx.respond(path, Reply(200, delay=30.0), Reply(200))
    process = SandboxProcess(tmp_path / "sandbox")
    settings = start(process)
    try:
        res = client(settings).message.publish(url=rx.url_for(path), body="at least once")
        assert isinstance(res, PublishResponse)
        rx.wait_for(1, path=path)
    finally:
        process.stop()
    settings = process.start()
    try:
        first, second = rx.wait_for(2, path=path, timeout=15)
        assert first.headers["upstash-message-id"] == second.headers["upstash-message-id"] == res.message_id
        assert second.text == "at least once"
        events = raw(settings, "GET", "/v2/events", params={"messageId": res.message_id, "state": "DELIVERED"})
        wait_until(
            lambda: raw(
                settings, "GET", "/v2/events", params={"messageId": res.message_id, "state": "DELIVERED"}
            ).json()["events"],
            what="DELIVERED after the restart",
        )
        assert events.status_code == 200
    finally:
        process.stop()

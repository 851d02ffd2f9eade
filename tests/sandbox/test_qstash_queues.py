"""Queues with the official SDK: upsert/get/list/delete/pause/resume (sync and async), FIFO order
with parallelism 1, two at a time with parallelism 2, and a paused queue that holds its messages.
Runs on the session sandbox with queue names of its own; no clock is moved."""

from __future__ import annotations

import asyncio

import pytest
from qstash.errors import QStashError

from tests.receiver import HttpReceiver, Reply
from tests.sandbox.qstash_helpers import async_client, client, raw, unique, verify


def test_queue_lifecycle(sandbox: dict[str, str]) -> None:
    qstash, name = client(sandbox), unique("q")
    qstash.queue.upsert(name, parallelism=1)
    queue = qstash.queue.get(name)
    assert (queue.name, queue.parallelism, queue.paused, queue.lag) == (name, 1, False, 0)
    assert queue.created_at <= queue.updated_at
    qstash.queue.upsert(name, parallelism=2)
    assert qstash.queue.get(name).parallelism == 2
    assert any(q.name == name for q in qstash.queue.list())
    qstash.queue.pause(name)
    assert qstash.queue.get(name).paused is True
    qstash.queue.resume(name)
    assert qstash.queue.get(name).paused is False
    qstash.queue.upsert(name, paused=True)
    assert qstash.queue.get(name).paused is True
    qstash.queue.delete(name)
    assert not any(q.name == name for q in qstash.queue.list())
    with pytest.raises(QStashError, match="404"):
        qstash.queue.get(name)


def test_invalid_queue_requests_are_refused(sandbox: dict[str, str]) -> None:
    bad_name = raw(sandbox, "POST", "/v2/queues", json={"queueName": "no spaces", "parallelism": 1, "paused": False})
    assert bad_name.status_code == 400 and "queue name" in bad_name.json()["error"]
    zero = raw(sandbox, "POST", "/v2/queues", json={"queueName": unique("q"), "parallelism": 0, "paused": False})
    assert zero.status_code == 400 and "parallelism" in zero.json()["error"]
    for method, path in [("DELETE", "/v2/queues/none-such"), ("POST", "/v2/queues/none-such/pause")]:
        response = raw(sandbox, method, path)
        assert response.status_code == 404 and "not found" in response.json()["error"]


def test_a_queue_delivers_in_order_one_at_a_time(sandbox: dict[str, str], rx: HttpReceiver) -> None:
    name, path = unique("q"), f"/{unique()}"
    rx.respond(path, Reply(200, delay=0.05))
    for i in range(5):
        client(sandbox).message.enqueue(queue=name, url=rx.url_for(path), body=str(i))
    got = rx.wait_for(5, path=path)
    assert [r.text for r in got] == ["0", "1", "2", "3", "4"]
    gaps = [b.monotonic - a.monotonic for a, b in zip(got, got[1:], strict=False)]
    assert min(gaps) >= 0.05  # the next one started only after the previous answered
    for request in got:
        verify(sandbox, request, rx.url_for(path))


def test_parallelism_two_runs_two_at_a_time(sandbox: dict[str, str], rx: HttpReceiver) -> None:
    name, path = unique("q"), f"/{unique()}"
    rx.respond(path, Reply(200, delay=0.3))
    client(sandbox).queue.upsert(name, parallelism=2)
    for i in range(4):
        client(sandbox).message.enqueue(queue=name, url=rx.url_for(path), body=str(i))
    got = rx.wait_for(4, path=path)
    starts = [r.monotonic for r in got]
    assert starts[1] - starts[0] < 0.25 and starts[3] - starts[2] < 0.25  # pairs start together
    assert starts[2] - starts[0] >= 0.3  # the second pair waits for the first


def test_a_paused_queue_holds_messages_until_resumed(sandbox: dict[str, str], rx: HttpReceiver) -> None:
    qstash, name, path, control = client(sandbox), unique("q"), f"/{unique()}", f"/{unique()}"
    qstash.queue.upsert(name, paused=True)
    for i in range(2):
        qstash.message.enqueue(queue=name, url=rx.url_for(path), body=str(i))
    qstash.message.publish(url=rx.url_for(control), body="after")  # published later, delivered at once
    rx.wait_for(1, path=control)
    assert rx.received(path) == [] and qstash.queue.get(name).lag == 2
    qstash.queue.resume(name)
    assert [r.text for r in rx.wait_for(2, path=path)] == ["0", "1"]


def test_the_async_client_manages_queues(sandbox: dict[str, str], rx: HttpReceiver) -> None:
    name, path = unique("q"), f"/{unique()}"

    async def go() -> list[str]:
        async with async_client(sandbox) as qstash:
            await qstash.queue.upsert(name, parallelism=3)
            assert (await qstash.queue.get(name)).parallelism == 3
            await qstash.message.enqueue_json(queue=name, url=rx.url_for(path), body={"q": name})
            await qstash.queue.pause(name)
            assert (await qstash.queue.get(name)).paused
            await qstash.queue.resume(name)
            names = [q.name for q in await qstash.queue.list()]
            return names

    assert name in asyncio.run(go())
    (got,) = rx.wait_for(1, path=path)
    assert got.body == f'{{"q": "{name}"}}'.encode()

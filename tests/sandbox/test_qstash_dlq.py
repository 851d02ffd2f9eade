"""The dead-letter queue with the official SDK (sync and async) and the raw API forms it lacks:
list with filters, count and cursor; get; delete; bulk delete by body and by query; retry.
Runs on the session sandbox; every test filters on destinations of its own."""

from __future__ import annotations

import asyncio

import pytest
from qstash.dlq import DlqMessage
from qstash.errors import QStashError
from qstash.message import PublishResponse

from tests.receiver import HttpReceiver, Reply
from tests.sandbox.qstash_helpers import async_client, client, raw, unique, verify
from tests.support import wait_until


def dead_letters(settings: dict[str, str], rx: HttpReceiver, count: int, **kwargs: object) -> tuple[str, list[str]]:
    """Publish ``count`` messages that fail for good (404, no retries); their url and ids."""
    path = f"/{unique()}"
    rx.respond(path, Reply(404, body=b"404 Not Found"))
    ids = []
    for _ in range(count):
        res = client(settings).message.publish_json(
            method="GET",
            url=rx.url_for(path),
            retries=0,
            retry_delay="7000 * retried",
            **kwargs,  # type: ignore[arg-type]
        )
        assert isinstance(res, PublishResponse)
        ids.append(res.message_id)
    url = rx.url_for(path)
    wait_until(lambda: len(in_dlq(settings, url)) == count, what=f"{count} dead letters for {url}")
    return url, ids


def in_dlq(settings: dict[str, str], url: str) -> list[DlqMessage]:
    return client(settings).dlq.list(filter={"url": url}).messages


def test_dead_letters_keep_the_message_and_the_last_response(sandbox: dict[str, str], rx: HttpReceiver) -> None:
    url, (message_id,) = dead_letters(sandbox, rx, 1, label="dead", headers={"X-Trace": "t1"})
    (listed,) = in_dlq(sandbox, url)
    entry = client(sandbox).dlq.get(listed.dlq_id)
    for item in (listed, entry):
        assert item.message_id == message_id and item.url == url and item.method == "GET"
        assert item.response_status == 404 and item.response_body == "404 Not Found"
        assert item.retry_delay_expression == "7000 * retried" and item.label == "dead"
        assert item.headers is not None and item.headers["X-Trace"] == ["t1"]
    client(sandbox).dlq.delete(listed.dlq_id)
    assert in_dlq(sandbox, url) == []
    with pytest.raises(QStashError, match="404"):
        client(sandbox).dlq.get(listed.dlq_id)


def test_list_filters_counts_and_pages(sandbox: dict[str, str], rx: HttpReceiver) -> None:
    url, ids = dead_letters(sandbox, rx, 5)
    qstash = client(sandbox)
    (only,) = qstash.dlq.list(filter={"message_id": ids[2]}, count=1).messages
    assert only.message_id == ids[2]
    page = qstash.dlq.list(filter={"url": url}, count=2)
    pages, seen = 1, list(page.messages)
    while page.cursor:
        page = qstash.dlq.list(filter={"url": url}, count=2, cursor=page.cursor)
        pages, seen = pages + 1, seen + page.messages
    assert pages == 3 and sorted(m.message_id for m in seen) == sorted(ids)
    order = [tuple(map(int, m.dlq_id.split("-"))) for m in seen]
    assert order == sorted(order)  # earliest first (by failure), as documented
    latest = raw(sandbox, "GET", "/v2/dlq", params={"url": url, "order": "latestFirst", "count": "1"}).json()
    assert latest["messages"][0]["dlqId"] == seen[-1].dlq_id and latest["cursor"]
    assert qstash.dlq.list(filter={"url": url, "response_status": 500}).messages == []
    assert raw(sandbox, "GET", "/v2/dlq", params={"count": "many"}).status_code == 400


def test_bulk_delete_by_body_and_by_query(sandbox: dict[str, str], rx: HttpReceiver) -> None:
    url, _ = dead_letters(sandbox, rx, 4)
    entries = in_dlq(sandbox, url)
    assert client(sandbox).dlq.delete_many([e.dlq_id for e in entries[:2]]) == 2
    assert len(in_dlq(sandbox, url)) == 2
    response = raw(sandbox, "DELETE", "/v2/dlq", params={"url": url})
    assert response.status_code == 200 and response.json()["deleted"] == 2
    assert in_dlq(sandbox, url) == []


def test_retry_recreates_the_message_with_overrides(sandbox: dict[str, str], rx: HttpReceiver) -> None:
    url, (message_id,) = dead_letters(sandbox, rx, 1)
    path = url.removeprefix(rx.url)
    (entry,) = in_dlq(sandbox, url)
    rx.respond(path, Reply(200))
    response = raw(sandbox, "POST", f"/v2/dlq/retry/{entry.dlq_id}", headers={"Upstash-Retries": "2"})
    assert response.status_code == 201
    retried = response.json()["messageId"]
    assert retried != message_id
    request = rx.wait_for(1, path=path, where=lambda r: r.headers["upstash-message-id"] == retried)[0]
    assert request.method == "GET"
    verify(sandbox, request, url)
    assert in_dlq(sandbox, url) == []
    assert client(sandbox).message.get(retried).max_retries == 2
    assert raw(sandbox, "POST", f"/v2/dlq/retry/{entry.dlq_id}").status_code == 404


def test_bulk_retry(sandbox: dict[str, str], rx: HttpReceiver) -> None:
    url, _ = dead_letters(sandbox, rx, 2)
    rx.respond(url.removeprefix(rx.url), Reply(200))
    ids = [e.dlq_id for e in in_dlq(sandbox, url)]
    response = raw(sandbox, "POST", "/v2/dlq/retry", json={"dlqIds": ids})
    assert response.status_code == 201 and len(response.json()["responses"]) == 2
    rx.wait_for(2, path=url.removeprefix(rx.url), where=lambda r: r.headers["upstash-retried"] == "0")
    assert in_dlq(sandbox, url) == []


def test_the_async_client_reads_and_deletes_dead_letters(sandbox: dict[str, str], rx: HttpReceiver) -> None:
    url, ids = dead_letters(sandbox, rx, 2)

    async def go() -> int:
        async with async_client(sandbox) as qstash:
            listed = (await qstash.dlq.list(filter={"url": url})).messages
            assert [m.message_id for m in listed] == ids
            one = await qstash.dlq.get(listed[0].dlq_id)
            assert one.response_body == "404 Not Found"
            await qstash.dlq.delete(listed[0].dlq_id)
            return await qstash.dlq.delete_many([listed[1].dlq_id, "1-0"])

    assert asyncio.run(go()) == 1
    assert in_dlq(sandbox, url) == []

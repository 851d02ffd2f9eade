"""Publish, enqueue and batch with the official SDK: what arrives at a real endpoint, signed for
the exact destination; deduplication; authentication; malformed requests refused whole.
Runs on the session sandbox: nothing here moves the sandbox clock, and nothing here depends on it
standing still (other suites move it); deduplication, a 10-minute window, is tested with
the delivery tests on a sandbox of their own."""

from __future__ import annotations

import asyncio
import json

import pytest
from qstash.errors import QStashError
from qstash.log import LogState
from qstash.message import BatchJsonRequest, BatchRequest, BatchResponse, PublishResponse

from tests.receiver import HttpReceiver
from tests.sandbox.qstash_helpers import async_client, client, raw, unique, verify
from tests.support import wait_until


def states(settings: dict[str, str], message_id: str) -> list[str]:
    logs = client(settings).log.list(filter={"message_id": message_id}).logs
    return [log.state.value for log in reversed(logs)]


def test_publish_delivers_the_body_headers_and_a_signature_for_the_exact_url(
    sandbox: dict[str, str], rx: HttpReceiver
) -> None:
    path = f"/{unique()}"
    url = rx.url_for(f"{path}?lead=42&lang=pt")
    res = client(sandbox).message.publish(
        url=url,
        body="olá, mundo",
        method="PUT",
        content_type="text/plain; charset=utf-8",
        headers={"X-Custom": "v1", "Upstash-Forward-X-Other": "v2"},
    )
    assert isinstance(res, PublishResponse) and res.message_id.startswith("msg_") and not res.deduplicated

    (got,) = rx.wait_for(1, path=path)
    assert got.method == "PUT"
    assert got.body == "olá, mundo".encode()
    assert got.query == "lead=42&lang=pt"
    assert got.headers["content-type"] == "text/plain; charset=utf-8"
    assert got.headers["x-custom"] == "v1" and got.headers["x-other"] == "v2"
    assert got.headers["user-agent"] == "Upstash-QStash"
    assert got.headers["upstash-message-id"] == res.message_id
    assert got.headers["upstash-retried"] == "0"
    verify(sandbox, got, url)
    wait_until(lambda: states(sandbox, res.message_id) == ["CREATED", "ACTIVE", "DELIVERED"], what="DELIVERED")


def test_the_destination_is_kept_raw_query_and_all_without_the_fragment(
    sandbox: dict[str, str], rx: HttpReceiver
) -> None:
    base = f"/{unique()}"
    # httpx percent-encodes spaces and non-ASCII and drops the fragment; %2F and // stay as they are.
    client(sandbox).message.publish(url=rx.url_for(f"{base}/a b//c%2Fd?x=1 2&y=é&next=http://o.example/?z=1#frag"))
    (got,) = rx.wait_for(1, where=lambda r: r.url.startswith(rx.url_for(base)))
    sent = rx.url_for(f"{base}/a%20b//c%2Fd?x=1%202&y=%C3%A9&next=http://o.example/?z=1")
    assert got.url == sent
    verify(sandbox, got, sent)


def test_token_and_configuration_may_come_as_query_parameters(sandbox: dict[str, str], rx: HttpReceiver) -> None:
    path = f"/{unique()}"
    query = f"qstash_token={sandbox['QSTASH_TOKEN']}&page=2&upstash-retries=0&upstash-forward-x-source=uazapi"
    response = raw(sandbox, "POST", f"/v2/publish/{rx.url_for(path)}?{query}", headers={"Authorization": ""})
    assert response.status_code == 200, response.text
    (got,) = rx.wait_for(1, path=path)
    assert got.query == "page=2"  # the token and QStash's own parameters are not forwarded
    assert got.headers["x-source"] == "uazapi"
    verify(sandbox, got, rx.url_for(f"{path}?page=2"))
    assert client(sandbox).message.get(response.json()["messageId"]).max_retries == 0


def test_a_wrong_or_missing_token_is_refused(sandbox: dict[str, str], rx: HttpReceiver) -> None:
    response = raw(sandbox, "POST", f"/v2/publish/{rx.url_for('/x')}", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401 and "error" in response.json()
    assert raw(sandbox, "GET", "/v2/queues", headers={"Authorization": ""}).status_code == 401
    with pytest.raises(QStashError, match="401"):
        client({**sandbox, "QSTASH_TOKEN": "wrong"}).message.publish(url=rx.url_for("/x"), body="x")


@pytest.mark.parametrize(
    ("destination", "headers", "status", "error"),
    [
        ("ftp://example.com/x", {}, 400, "invalid scheme"),
        ("example.com/x", {}, 400, "invalid destination"),
        ("no-such-group", {}, 404, "not found"),
        ("{url}", {"Upstash-Delay": "soon"}, 400, "Upstash-Delay"),
        ("{url}", {"Upstash-Retries": "many"}, 400, "Upstash-Retries"),
        ("{url}", {"Upstash-Retry-Delay": "1000 * (retried"}, 400, "Upstash-Retry-Delay"),
        ("{url}", {"Upstash-Retry-Delay": "__import__('os')"}, 400, "Upstash-Retry-Delay"),
        ("{url}", {"Upstash-Method": "BREW"}, 400, "Upstash-Method"),
        ("{url}", {"Upstash-Timeout": "-1s"}, 400, "Upstash-Timeout"),
        ("{url}", {"Upstash-Flow-Control-Key": "k", "Upstash-Flow-Control-Value": "rate=fast"}, 400, "rate"),
        ("{url}", {"Upstash-Flow-Control-Value": "rate=1"}, 400, "Upstash-Flow-Control-Key"),
        ("{url}", {"Upstash-Content-Based-Deduplication": "maybe"}, 400, "Content-Based"),
        ("{url}", {"Upstash-Callback": "not-a-url"}, 400, "Upstash-Callback"),
    ],
)
def test_malformed_publishes_get_a_4xx_json_error_and_store_nothing(
    sandbox: dict[str, str], rx: HttpReceiver, destination: str, headers: dict[str, str], status: int, error: str
) -> None:
    url = rx.url_for(f"/{unique()}")
    response = raw(sandbox, "POST", f"/v2/publish/{destination.format(url=url)}", headers=headers, content=b"x")
    assert response.status_code == status
    assert error in response.json()["error"]
    assert client(sandbox).log.list(filter={"url": url}).logs == []


def test_enqueue_creates_the_queue_and_delivers(sandbox: dict[str, str], rx: HttpReceiver) -> None:
    queue, path = unique("q"), f"/{unique()}"
    res = client(sandbox).message.enqueue_json(queue=queue, url=rx.url_for(path), body={"n": 1}, retries=0)
    (got,) = rx.wait_for(1, path=path)
    assert json.loads(got.body) == {"n": 1} and got.headers["content-type"] == "application/json"
    verify(sandbox, got, rx.url_for(path))
    assert client(sandbox).queue.get(queue).name == queue
    assert not isinstance(res, list)
    assert client(sandbox).message.get(res.message_id).queue == queue
    assert raw(sandbox, "POST", f"/v2/enqueue/bad name/{rx.url_for(path)}").status_code == 400


def test_batch_mixes_urls_groups_and_queues(sandbox: dict[str, str], rx: HttpReceiver) -> None:
    qstash = client(sandbox)
    group, queue = unique("g"), unique("q")
    a, b, c = (f"/{unique()}" for _ in range(3))
    qstash.url_group.upsert_endpoints(group, [{"url": rx.url_for(b)}, {"url": rx.url_for(c), "name": "c"}])
    res = qstash.message.batch(
        [
            BatchRequest(url=rx.url_for(a), body="one", headers={"X-N": "1"}, retry_delay="1000"),
            BatchRequest(url_group=group, body="two", content_type="text/plain"),
            BatchRequest(queue=queue, url=rx.url_for(a), body="three"),
        ]
    )
    assert isinstance(res[0], BatchResponse) and isinstance(res[2], BatchResponse)
    assert isinstance(res[1], list) and sorted(r.url for r in res[1]) == sorted([rx.url_for(b), rx.url_for(c)])
    got = rx.wait_for(2, path=a) + rx.wait_for(1, path=b) + rx.wait_for(1, path=c)
    assert sorted(r.text for r in got) == ["one", "three", "two", "two"]
    assert {r.headers.get("upstash-topic-name") for r in got if r.text == "two"} == {group}
    for request in got:
        verify(sandbox, request, rx.url_for(request.path))
    assert qstash.message.get(res[0].message_id).retry_delay_expression == "1000"


def test_batch_json_serialises_each_body(sandbox: dict[str, str], rx: HttpReceiver) -> None:
    path = f"/{unique()}"
    res = client(sandbox).message.batch_json(
        [BatchJsonRequest(url=rx.url_for(path), body={"i": i}, label=f"batch-{i}") for i in range(3)]
    )
    assert len(res) == 3
    got = rx.wait_for(3, path=path)
    assert sorted(json.loads(r.body)["i"] for r in got) == [0, 1, 2]
    assert {r.headers["content-type"] for r in got} == {"application/json"}


def test_a_batch_with_one_bad_entry_is_refused_whole(sandbox: dict[str, str], rx: HttpReceiver) -> None:
    good = rx.url_for(f"/{unique()}")
    entries = [
        {"destination": good, "headers": {}, "body": "fine", "queue": None},
        {"destination": good, "headers": {"Upstash-Delay": "whenever"}, "body": "bad", "queue": None},
    ]
    response = raw(sandbox, "POST", "/v2/batch", json=entries)
    assert response.status_code == 400 and response.json()["error"].startswith("batch[1]")
    assert raw(sandbox, "POST", "/v2/batch", content=b"{not json").status_code == 400
    assert client(sandbox).log.list(filter={"url": good}).logs == []


def test_the_async_client_publishes_the_same_way(sandbox: dict[str, str], rx: HttpReceiver) -> None:
    path = f"/{unique()}"

    async def go() -> str:
        async with async_client(sandbox) as qstash:
            res = await qstash.message.publish_json(url=rx.url_for(path), body={"hello": "async"}, delay=0, retries=1)
            assert isinstance(res, PublishResponse)
            message = await qstash.message.get(res.message_id)
            assert message.max_retries == 1
            return res.message_id

    message_id = asyncio.run(go())
    (got,) = rx.wait_for(1, path=path)
    assert got.headers["upstash-message-id"] == message_id and json.loads(got.body) == {"hello": "async"}
    verify(sandbox, got, rx.url_for(path))


def test_message_get_cancel_and_cancel_many(sandbox: dict[str, str], rx: HttpReceiver) -> None:
    qstash = client(sandbox)
    url = rx.url_for(f"/{unique()}")
    ids = []
    for i in range(3):
        res = qstash.message.publish(url=url, body=str(i), delay="300d", label="later", callback=rx.url_for("/cb"))
        assert isinstance(res, PublishResponse)
        ids.append(res.message_id)
    message = qstash.message.get(ids[0])
    assert message.url == url and message.body == "0" and message.label == "later"
    assert message.not_before - message.created_at == 300 * 86_400_000
    assert message.callback == rx.url_for("/cb") and message.method == "POST" and message.max_retries == 3

    qstash.message.cancel(ids[0])
    assert qstash.message.cancel_many(ids[1:]) == 2
    for message_id in ids:
        assert states(sandbox, message_id)[-2:] == ["CANCEL_REQUESTED", "CANCELED"]
    assert qstash.log.list(filter={"message_id": ids[0], "state": LogState.CANCELED}).logs[0].url == url
    with pytest.raises(QStashError, match="404"):
        qstash.message.cancel("msg_doesnotexist")
    with pytest.raises(QStashError, match="404"):
        qstash.message.get("msg_doesnotexist")


def test_logs_filter_and_page_with_a_cursor(sandbox: dict[str, str], rx: HttpReceiver) -> None:
    qstash = client(sandbox)
    label, path = unique("label"), f"/{unique()}"
    ids = []
    for i in range(3):
        res = qstash.message.publish(url=rx.url_for(path), body=str(i), label=label, retry_delay="15000")
        assert isinstance(res, PublishResponse)
        ids.append(res.message_id)
    rx.wait_for(3, path=path)
    wait_until(
        lambda: len(qstash.log.list(filter={"label": label, "state": LogState.DELIVERED}).logs) == 3,
        what="three DELIVERED events",
    )
    first = qstash.log.list(filter={"label": label}, count=5)
    assert len(first.logs) == 5 and first.cursor
    rest = qstash.log.list(filter={"label": label}, count=5, cursor=first.cursor)
    assert len(rest.logs) == 4 and rest.cursor is None  # 3 x CREATED, ACTIVE, DELIVERED
    logs = first.logs + rest.logs
    assert all(log.label == label and log.retry_delay_expression == "15000" for log in logs)
    assert [log.time for log in logs] == sorted((log.time for log in logs), reverse=True)
    by_ids = qstash.log.list(filter={"message_ids": ids[:2], "state": LogState.DELIVERED}).logs
    assert sorted(log.message_id for log in by_ids) == sorted(ids[:2])
    assert raw(sandbox, "GET", "/v2/logs", params={"label": label}).json()["logs"][0]["label"] == label


def test_signing_keys_are_the_configured_ones(sandbox: dict[str, str]) -> None:
    keys = client(sandbox).signing_key.get()
    assert (keys.current, keys.next) == (sandbox["QSTASH_CURRENT_SIGNING_KEY"], sandbox["QSTASH_NEXT_SIGNING_KEY"])

    async def go() -> tuple[str, str]:
        async with async_client(sandbox) as qstash:
            found = await qstash.signing_key.get()
            return found.current, found.next

    assert asyncio.run(go()) == (keys.current, keys.next)

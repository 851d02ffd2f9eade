"""URL groups with the official SDK (sync and async): endpoints, publishing to every endpoint with
its own signature, and the group's lifecycle. Runs on the session sandbox."""

from __future__ import annotations

import asyncio

import pytest
from qstash.errors import QStashError

from tests.receiver import HttpReceiver
from tests.sandbox.qstash_helpers import async_client, client, raw, unique, verify


def test_url_group_lifecycle(sandbox: dict[str, str], rx: HttpReceiver) -> None:
    qstash, name = client(sandbox), unique("g")
    qstash.url_group.delete(name)  # deleting a group that does not exist is fine
    qstash.url_group.upsert_endpoints(name, [{"url": rx.url_for("/200")}, {"url": rx.url_for("/201"), "name": "ep"}])
    group = qstash.url_group.get(name)
    assert group.name == name and group.created_at <= group.updated_at
    assert sorted((e.url, e.name) for e in group.endpoints) == [(rx.url_for("/200"), None), (rx.url_for("/201"), "ep")]
    assert any(g.name == name for g in qstash.url_group.list())
    qstash.url_group.remove_endpoints(name, [{"name": "ep"}])
    assert [e.url for e in qstash.url_group.get(name).endpoints] == [rx.url_for("/200")]
    qstash.url_group.remove_endpoints(name, [{"url": rx.url_for("/200")}])
    with pytest.raises(QStashError, match="404"):
        qstash.url_group.get(name)  # a group goes with its last endpoint
    bad = raw(sandbox, "POST", f"/v2/topics/{name}/endpoints", json={"endpoints": [{"url": "nope"}]})
    assert bad.status_code == 400 and "invalid scheme" in bad.json()["error"]


def test_publishing_to_a_group_reaches_every_endpoint(sandbox: dict[str, str], rx: HttpReceiver) -> None:
    qstash, name = client(sandbox), unique("g")
    a, b = f"/{unique()}", f"/{unique()}?v=1"
    qstash.url_group.upsert_endpoints(name, [{"url": rx.url_for(a), "name": "first"}, {"url": rx.url_for(b)}])
    res = qstash.message.publish(url_group=name, body="fan-out", method="PATCH", headers={"X-G": "1"})
    assert isinstance(res, list) and sorted(r.url for r in res) == sorted([rx.url_for(a), rx.url_for(b)])
    got = rx.wait_for(1, path=a) + rx.wait_for(1, path=b.split("?")[0])
    for request, sent in zip(got, (a, b), strict=True):
        assert request.method == "PATCH" and request.text == "fan-out" and request.headers["x-g"] == "1"
        assert request.headers["upstash-topic-name"] == name
        verify(sandbox, request, rx.url_for(sent))  # signed for the endpoint, not the group
    message = qstash.message.get(next(r.message_id for r in res if r.url == rx.url_for(a)))
    assert (message.url_group, message.endpoint) == (name, "first")
    qstash.url_group.delete(name)
    assert not any(g.name == name for g in qstash.url_group.list())


def test_the_async_client_manages_url_groups(sandbox: dict[str, str], rx: HttpReceiver) -> None:
    name, path = unique("g"), f"/{unique()}"

    async def go() -> None:
        async with async_client(sandbox) as qstash:
            await qstash.url_group.upsert_endpoints(name, [{"url": rx.url_for(path)}])
            assert [e.url for e in (await qstash.url_group.get(name)).endpoints] == [rx.url_for(path)]
            res = await qstash.message.publish_json(url_group=name, body={"n": 1})
            assert isinstance(res, list) and res[0].url == rx.url_for(path)
            await qstash.url_group.delete(name)
            assert name not in [g.name for g in await qstash.url_group.list()]

    asyncio.run(go())
    assert rx.wait_for(1, path=path)[0].headers["upstash-topic-name"] == name

"""The Centrifugo stand-in's server HTTP API, driven by the official `cent` SDK and raw HTTP."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from cent import (
    AsyncClient,
    BatchRequest,
    BroadcastRequest,
    CentApiResponseError,
    Client,
    ConnectionsRequest,
    HistoryRemoveRequest,
    HistoryRequest,
    InfoRequest,
    PresenceRequest,
    PresenceStatsRequest,
    PublishRequest,
    StreamPosition,
    SubscribeRequest,
)
from cent.exceptions import CentUnauthorizedError


def _channel(namespace: str = "chat") -> str:
    return f"{namespace}:{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def api(sandbox: dict[str, str]) -> Client:
    return Client(sandbox["CENTRIFUGO_API_URL"], sandbox["CENTRIFUGO_API_KEY"], timeout=5)


def _post(sandbox: dict[str, str], path: str, body: Any = None, *, content: bytes | None = None,
          headers: dict[str, str] | None = None) -> httpx.Response:  # fmt: skip
    headers = {"X-API-Key": sandbox["CENTRIFUGO_API_KEY"]} if headers is None else headers
    return httpx.post(f"{sandbox['CENTRIFUGO_API_URL']}{path}", json=body, content=content, headers=headers)


def test_publish_keeps_history_with_epoch_and_offsets(api: Client) -> None:
    channel = _channel()
    first = api.publish(PublishRequest(channel=channel, data={"text": "Olá"}, tags={"kind": "msg"}))
    second = api.publish(PublishRequest(channel=channel, data={"text": "2"}))
    third = api.publish(PublishRequest(channel=channel, data={"text": "3"}))
    assert (first.offset, second.offset, third.offset) == (1, 2, 3)
    assert first.epoch and first.epoch == second.epoch == third.epoch

    everything = api.history(HistoryRequest(channel=channel, limit=-1))
    assert [p.data["text"] for p in everything.publications] == ["Olá", "2", "3"]
    assert everything.publications[0].tags == {"kind": "msg"}
    assert (everything.offset, everything.epoch) == (3, first.epoch)

    position_only = api.history(HistoryRequest(channel=channel, limit=0))
    assert position_only.publications == [] and position_only.offset == 3

    since = api.history(HistoryRequest(channel=channel, limit=10, since=StreamPosition(offset=1, epoch=first.epoch)))
    assert [p.offset for p in since.publications] == [2, 3]
    newest = api.history(HistoryRequest(channel=channel, limit=2, reverse=True))
    assert [p.offset for p in newest.publications] == [3, 2]

    with pytest.raises(CentApiResponseError) as wrong_epoch:
        api.history(HistoryRequest(channel=channel, limit=10, since=StreamPosition(offset=1, epoch="other")))
    assert wrong_epoch.value.code == 112


def test_idempotent_publish_returns_the_same_position_and_publishes_once(api: Client) -> None:
    channel = _channel("inbox")
    key = f"owner:{uuid.uuid4().hex}"
    first = api.publish(PublishRequest(channel=channel, data={"n": 1}, idempotency_key=key))
    retry = api.publish(PublishRequest(channel=channel, data={"n": 1}, idempotency_key=key))
    other = api.publish(PublishRequest(channel=channel, data={"n": 2}, idempotency_key=key + "-2"))
    assert (retry.offset, retry.epoch) == (first.offset, first.epoch) == (1, first.epoch)
    assert other.offset == 2
    history = api.history(HistoryRequest(channel=channel, limit=-1))
    assert [p.data for p in history.publications] == [{"n": 1}, {"n": 2}]


def test_broadcast_reports_each_channel(api: Client) -> None:
    good, unknown = _channel(), _channel("nope")
    key = uuid.uuid4().hex
    result = api.broadcast(BroadcastRequest(channels=[good, unknown], data={"x": 1}, idempotency_key=key))
    assert result.responses[0].result is not None and result.responses[0].result.offset == 1
    assert result.responses[1].error is not None and result.responses[1].error.code == 102
    again = api.broadcast(BroadcastRequest(channels=[good], data={"x": 1}, idempotency_key=key))
    assert again.responses[0].result is not None and again.responses[0].result.offset == 1


def test_history_remove_clears_publications_but_keeps_the_stream_position(api: Client) -> None:
    channel = _channel("conversation")
    published = [api.publish(PublishRequest(channel=channel, data=i)) for i in range(2)]
    api.history_remove(HistoryRemoveRequest(channel=channel))
    after = api.history(HistoryRequest(channel=channel, limit=-1))
    assert after.publications == []
    assert (after.offset, after.epoch) == (2, published[0].epoch)
    assert api.publish(PublishRequest(channel=channel, data=3)).offset == 3


def test_channel_without_history_publishes_without_a_position(sandbox: dict[str, str]) -> None:
    channel = _channel()
    reply = _post(sandbox, "/publish", {"channel": channel, "data": {"a": 1}, "skip_history": True})
    assert reply.json() == {"result": {}}


def test_presence_of_an_empty_channel_and_info(api: Client) -> None:
    channel = _channel()
    stats = api.presence_stats(PresenceStatsRequest(channel=channel))
    assert (stats.num_clients, stats.num_users) == (0, 0)
    assert api.presence(PresenceRequest(channel=channel)).presence == {}
    node = api.info(InfoRequest()).nodes[0]
    assert node.uid and node.name and node.version.startswith("6.")
    assert node.num_clients >= 0 and node.uptime >= 0


def test_unknown_namespace_is_error_102(api: Client) -> None:
    with pytest.raises(CentApiResponseError) as unknown:
        api.publish(PublishRequest(channel="nope:index", data={}))
    assert (unknown.value.code, unknown.value.message) == (102, "unknown channel")
    with pytest.raises(CentApiResponseError) as also_unknown:
        api.subscribe(SubscribeRequest(user="42", channel="nope:index"))
    assert also_unknown.value.code == 102


def test_wrong_api_key_is_401_with_an_empty_body(sandbox: dict[str, str]) -> None:
    with pytest.raises(CentUnauthorizedError):
        Client(sandbox["CENTRIFUGO_API_URL"], "wrong-key").info(InfoRequest())
    reply = _post(sandbox, "/info", {}, headers={"X-API-Key": "wrong-key"})
    assert (reply.status_code, reply.content) == (401, b"")
    assert _post(sandbox, "/info", {}, headers={}).status_code == 401


def test_api_key_in_authorization_header_or_query(sandbox: dict[str, str]) -> None:
    key = sandbox["CENTRIFUGO_API_KEY"]
    assert _post(sandbox, "/info", {}, headers={"Authorization": f"ApiKey {key}"}).status_code == 200
    assert _post(sandbox, f"/info?api_key={key}", {}, headers={}).status_code == 200
    assert _post(sandbox, "/info", {}, headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_malformed_bodies_are_http_400_and_bad_fields_error_107(sandbox: dict[str, str]) -> None:
    not_json = _post(sandbox, "/publish", content=b"{not json")
    assert (not_json.status_code, not_json.text) == (400, "Bad Request")
    assert _post(sandbox, "/publish", {"channel": 5, "data": {}}).status_code == 400
    assert _post(sandbox, "/publish", {"data": {}}).json() == {"error": {"code": 107, "message": "bad request"}}
    assert _post(sandbox, "/publish", {"channel": _channel()}).json()["error"]["code"] == 107
    # The stand-in keeps answering after bad input.
    assert _post(sandbox, "/info", {}).json()["result"]["nodes"]


def test_unknown_method_is_error_104(api: Client, sandbox: dict[str, str]) -> None:
    reply = _post(sandbox, "/nope", {})
    assert (reply.status_code, reply.json()) == (200, {"error": {"code": 104, "message": "method not found"}})
    transport = _post(sandbox, "/nope", {}, headers={"X-API-Key": sandbox["CENTRIFUGO_API_KEY"],
                                                     "X-Centrifugo-Error-Mode": "transport"})  # fmt: skip
    assert transport.status_code == 404
    with pytest.raises(CentApiResponseError) as pro_only:  # Centrifugo PRO's methods are not there
        api.connections(ConnectionsRequest(user="42", expression=""))
    assert pro_only.value.code == 104
    assert httpx.get(f"{sandbox['CENTRIFUGO_API_URL']}/info").status_code == 405


def test_batch_replies_without_a_result_wrapper(api: Client, sandbox: dict[str, str]) -> None:
    channel = _channel()
    replies = api.batch(BatchRequest(requests=[PublishRequest(channel=channel, data=1),
                                               PresenceStatsRequest(channel=channel)])).replies  # fmt: skip
    assert replies[0].offset == 1  # type: ignore[attr-defined]
    raw = _post(sandbox, "/batch", {"commands": [{"publish": {"channel": "nope:x", "data": 1}}, {"info": {}}]}).json()
    assert set(raw) == {"replies"}
    assert raw["replies"][0] == {"error": {"code": 102, "message": "unknown channel"}}
    assert raw["replies"][1]["info"]["nodes"]


def test_legacy_api_endpoint(sandbox: dict[str, str]) -> None:
    channel = _channel()
    body = {"method": "publish", "params": {"channel": channel, "data": {"a": 1}}}
    reply = httpx.post(sandbox["CENTRIFUGO_API_URL"], json=body, headers={"X-API-Key": sandbox["CENTRIFUGO_API_KEY"]})
    assert reply.json()["result"]["offset"] == 1


def test_transport_error_mode(sandbox: dict[str, str]) -> None:
    headers = {"X-API-Key": sandbox["CENTRIFUGO_API_KEY"], "X-Centrifugo-Error-Mode": "transport"}
    reply = _post(sandbox, "/publish", {"channel": "nope:x", "data": 1}, headers=headers)
    assert (reply.status_code, reply.json()) == (404, {"code": 102, "message": "unknown channel"})


def test_async_client_created_in_a_running_loop(sandbox: dict[str, str]) -> None:
    channel = _channel()

    async def scenario() -> tuple[int, list[Any]]:
        async with AsyncClient(sandbox["CENTRIFUGO_API_URL"], sandbox["CENTRIFUGO_API_KEY"]) as client:
            published = await client.publish(PublishRequest(channel=channel, data={"async": True}))
            history = await client.history(HistoryRequest(channel=channel, limit=10))
            return published.offset, [p.data for p in history.publications]

    assert asyncio.run(scenario()) == (1, [{"async": True}])

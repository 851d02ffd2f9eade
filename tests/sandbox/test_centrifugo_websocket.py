"""The Centrifugo stand-in's client protocol, driven by `centrifuge-python` and a raw WebSocket."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import jwt
import pytest
from cent import ChannelsRequest, Client, InfoRequest, PresenceRequest, PublishRequest
from centrifuge import Client as WsClient
from centrifuge import ClientState, SubscriptionState
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.sandbox.centrifugo_helpers import TIMEOUT, Recorder, disconnect
from tests.sandbox.centrifugo_helpers import token as _token
from tests.support import wait_until


def _channel(namespace: str = "chat") -> str:
    return f"{namespace}:{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def api(sandbox: dict[str, str]) -> Client:
    return Client(sandbox["CENTRIFUGO_API_URL"], sandbox["CENTRIFUGO_API_KEY"], timeout=5)


@asynccontextmanager
async def ws_client(sandbox: dict[str, str], token: str) -> AsyncIterator[tuple[WsClient, Recorder]]:
    events = Recorder()
    client = WsClient(sandbox["CENTRIFUGO_WS_URL"], events=events, token=token, proxy=None, timeout=TIMEOUT)
    try:
        yield client, events
    finally:
        await disconnect(client)


@asynccontextmanager
async def raw_client(sandbox: dict[str, str], token: str | None) -> AsyncIterator[tuple[ClientConnection, Any]]:
    """A bare WebSocket, connected with ``token`` unless it is None; yields it and the connect reply."""
    async with connect(sandbox["CENTRIFUGO_WS_URL"], open_timeout=TIMEOUT) as ws:
        reply = None
        if token is not None:
            reply = await _command(ws, {"id": 1, "connect": {"token": token}})
        yield ws, reply


async def _recv(ws: ClientConnection) -> list[dict[str, Any]]:
    frame = await asyncio.wait_for(ws.recv(), TIMEOUT)
    return [json.loads(line) for line in str(frame).split("\n")]


async def _command(ws: ClientConnection, command: dict[str, Any]) -> dict[str, Any]:
    await ws.send(json.dumps(command))
    while True:
        for message in await _recv(ws):
            if message.get("id") == command["id"]:
                return message


async def _closed(ws: ClientConnection) -> tuple[int | None, str | None]:
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
    return ws.close_code, ws.close_reason


def test_client_receives_what_cent_publishes(sandbox: dict[str, str], api: Client) -> None:
    channel, secret = _channel(), sandbox["CENTRIFUGO_TOKEN_HMAC_SECRET"]

    async def scenario() -> None:
        async with ws_client(sandbox, _token(secret, "42")) as (client, _):
            sub_events = Recorder()
            sub = client.new_subscription(channel, events=sub_events, recoverable=True, positioned=True)
            await client.connect()
            await sub.subscribe()
            subscribed = await sub_events.expect("subscribed")
            assert subscribed.recoverable and subscribed.stream_position.offset == 0
            await asyncio.to_thread(api.publish, PublishRequest(channel=channel, data={"text": "Olá"}, tags={"k": "v"}))
            pub = (await sub_events.expect("publication")).pub
            assert (pub.data, pub.offset, pub.tags) == ({"text": "Olá"}, 1, {"k": "v"})

    asyncio.run(scenario())


def test_token_channels_claim_makes_recoverable_server_side_subscriptions(sandbox: dict[str, str], api: Client) -> None:
    inbox, secret = _channel("inbox"), sandbox["CENTRIFUGO_TOKEN_HMAC_SECRET"]

    async def scenario() -> None:
        async with ws_client(sandbox, _token(secret, "42", channels=[inbox])) as (client, events):
            await client.connect()
            subscribed = await events.expect("subscribed")
            assert subscribed.channel == inbox and subscribed.recoverable
            await asyncio.to_thread(api.publish, PublishRequest(channel=inbox, data={"lead": 1}))
            publication = await events.expect("publication")
            assert (publication.channel, publication.pub.data, publication.pub.offset) == (inbox, {"lead": 1}, 1)

            await client.disconnect()
            await asyncio.to_thread(api.publish, PublishRequest(channel=inbox, data={"lead": 2}))
            await client.connect()  # sends the server-side subscription's position in connect.subs
            resubscribed = await events.expect("subscribed")
            assert resubscribed.was_recovering and resubscribed.recovered
            missed = await events.expect("publication")
            assert (missed.channel, missed.pub.data, missed.pub.offset) == (inbox, {"lead": 2}, 2)

    asyncio.run(scenario())


def test_private_channel_with_and_without_a_subscription_token(sandbox: dict[str, str], api: Client) -> None:
    channel, secret = "$" + _channel(), sandbox["CENTRIFUGO_TOKEN_HMAC_SECRET"]

    async def scenario() -> None:
        async with ws_client(sandbox, _token(secret, "42")) as (client, _):
            await client.connect()
            refused_events, allowed_events = Recorder(), Recorder()
            refused = client.new_subscription(channel, events=refused_events)
            await refused.subscribe()
            assert (await refused_events.expect("unsubscribed")).code == 103
            client.remove_subscription(refused)

            allowed = client.new_subscription(
                channel, events=allowed_events, token=_token(secret, "42", channel=channel)
            )
            await allowed.subscribe()
            await allowed_events.expect("subscribed")
            await asyncio.to_thread(api.publish, PublishRequest(channel=channel, data={"private": True}))
            assert (await allowed_events.expect("publication")).pub.data == {"private": True}

    asyncio.run(scenario())


def test_subscribe_permissions(sandbox: dict[str, str]) -> None:
    secret = sandbox["CENTRIFUGO_TOKEN_HMAC_SECRET"]
    private, inbox = "$" + _channel(), _channel("inbox")

    async def scenario() -> None:
        async with raw_client(sandbox, _token(secret, "42")) as (ws, connected):
            assert connected["connect"]["client"]

            async def subscribe(cmd_id: int, channel: str, token: str = "") -> dict[str, Any]:
                return await _command(ws, {"id": cmd_id, "subscribe": {"channel": channel, "token": token}})

            assert (await subscribe(2, private))["error"]["code"] == 103
            assert (await subscribe(3, inbox))["error"]["code"] == 103  # live channels: token only
            someone_else = jwt.encode({"sub": "7", "channel": private}, secret, algorithm="HS256")
            assert (await subscribe(4, private, someone_else))["error"]["code"] == 103
            other_channel = jwt.encode({"sub": "42", "channel": "$chat:other"}, secret, algorithm="HS256")
            assert (await subscribe(5, private, other_channel))["error"]["code"] == 103
            expired = _token(secret, "42", ttl=-60, channel=private)
            assert (await subscribe(6, private, expired))["error"]["code"] == 109
            assert (await subscribe(7, private, _token(secret, "42", channel=private)))["subscribe"] is not None
            assert (await subscribe(8, inbox, _token(secret, "42", channel=inbox)))["subscribe"]["recoverable"]
            assert (await subscribe(9, "nope:x"))["error"] == {"code": 102, "message": "unknown channel"}
            assert (await subscribe(10, private, _token(secret, "42", channel=private)))["error"]["code"] == 105

    asyncio.run(scenario())


def test_expired_connection_token_is_error_109(sandbox: dict[str, str]) -> None:
    expired = _token(sandbox["CENTRIFUGO_TOKEN_HMAC_SECRET"], "42", ttl=-60)

    async def scenario() -> None:
        async with raw_client(sandbox, expired) as (_, reply):
            assert reply["error"]["code"] == 109 and reply["error"]["message"] == "token expired"
        async with ws_client(sandbox, expired) as (client, events):
            await client.connect()
            error = await events.expect("error")
            assert error.error.code == 109

    asyncio.run(scenario())


def test_forged_token_closes_the_connection_with_3500(sandbox: dict[str, str]) -> None:
    forged = _token("not-the-sandbox-secret-but-long-enough-0123", "42")

    async def scenario() -> None:
        async with raw_client(sandbox, None) as (ws, _):
            await ws.send(json.dumps({"id": 1, "connect": {"token": forged}}))
            assert await _closed(ws) == (3500, "invalid token")
        async with ws_client(sandbox, forged) as (client, events):
            await client.connect()
            disconnected = await events.expect("disconnected")
            assert disconnected.code == 3500 and client.state == ClientState.DISCONNECTED

    asyncio.run(scenario())


def test_recovery_after_reconnect(sandbox: dict[str, str], api: Client) -> None:
    channel, secret = _channel(), sandbox["CENTRIFUGO_TOKEN_HMAC_SECRET"]

    async def scenario() -> None:
        async with ws_client(sandbox, _token(secret, "42")) as (client, _):
            sub_events = Recorder()
            sub = client.new_subscription(channel, events=sub_events, recoverable=True)
            await client.connect()
            await sub.subscribe()
            await sub_events.expect("subscribed")
            await asyncio.to_thread(api.publish, PublishRequest(channel=channel, data=1))
            assert (await sub_events.expect("publication")).pub.offset == 1

            await client.disconnect()
            for data in (2, 3):
                await asyncio.to_thread(api.publish, PublishRequest(channel=channel, data=data))
            await client.connect()
            resubscribed = await sub_events.expect("subscribed")
            assert resubscribed.was_recovering and resubscribed.recovered
            missed = [(await sub_events.expect("publication")).pub for _ in range(2)]
            assert [(p.offset, p.data) for p in missed] == [(2, 2), (3, 3)]
            assert sub.state == SubscriptionState.SUBSCRIBED

    asyncio.run(scenario())


def test_recovery_from_another_epoch_is_not_recovered(sandbox: dict[str, str], api: Client) -> None:
    channel, secret = _channel(), sandbox["CENTRIFUGO_TOKEN_HMAC_SECRET"]
    epoch = api.publish(PublishRequest(channel=channel, data=1)).epoch

    async def scenario() -> None:
        async with raw_client(sandbox, _token(secret, "42")) as (ws, _):
            stale = {"channel": channel, "recoverable": True, "recover": True, "epoch": "gone", "offset": 0}
            reply = (await _command(ws, {"id": 2, "subscribe": stale}))["subscribe"]
            assert reply["was_recovering"] is True and reply["recovered"] is False
            assert (reply["epoch"], reply["offset"]) == (epoch, 1) and "publications" not in reply
            current = {"channel": channel, "recover": True, "epoch": epoch, "offset": 0}
            await _command(ws, {"id": 3, "unsubscribe": {"channel": channel}})
            reply = (await _command(ws, {"id": 4, "subscribe": {**current, "recoverable": True}}))["subscribe"]
            assert reply["recovered"] is True and [p["data"] for p in reply["publications"]] == [1]

    asyncio.run(scenario())


def test_client_publish_history_and_presence(sandbox: dict[str, str], api: Client) -> None:
    channel, secret = _channel(), sandbox["CENTRIFUGO_TOKEN_HMAC_SECRET"]

    async def scenario() -> None:
        async with ws_client(sandbox, _token(secret, "42", info={"name": "Ana"})) as (client, _):
            sub_events = Recorder()
            sub = client.new_subscription(channel, events=sub_events)
            await client.connect()
            await sub.subscribe()
            await sub_events.expect("subscribed")
            await sub.publish({"from": "client"})
            pub = (await sub_events.expect("publication")).pub
            assert pub.data == {"from": "client"} and pub.info.user == "42"
            assert pub.info.conn_info == {"name": "Ana"}
            assert [p.data for p in (await sub.history(limit=10)).publications] == [{"from": "client"}]
            stats = await sub.presence_stats()
            assert (stats.num_clients, stats.num_users) == (1, 1)
            presence = await asyncio.to_thread(api.presence, PresenceRequest(channel=channel))
            assert [info.user for info in presence.presence.values()] == ["42"]
            channels = await asyncio.to_thread(api.channels, ChannelsRequest(pattern=channel))
            assert channels.channels[channel].num_clients == 1
            node = (await asyncio.to_thread(api.info, InfoRequest())).nodes[0]
            assert node.num_clients >= 1 and node.num_subs >= 1 and node.num_channels >= 1
        # Closing the connection removes its presence (once the server has seen the close).
        gone = lambda: api.presence(PresenceRequest(channel=channel)).presence == {}  # noqa: E731
        await asyncio.to_thread(wait_until, gone, timeout=TIMEOUT, what="presence to be removed")

    asyncio.run(scenario())


def test_raw_protocol_framing_and_errors(sandbox: dict[str, str]) -> None:
    channel, secret = _channel(), sandbox["CENTRIFUGO_TOKEN_HMAC_SECRET"]

    async def scenario() -> None:
        async with raw_client(sandbox, None) as (ws, _):
            await ws.send(json.dumps({"id": 1, "subscribe": {"channel": channel}}))
            assert await _closed(ws) == (3501, "bad request")  # nothing before connect

        async with raw_client(sandbox, None) as (ws, _):
            frame = [
                {"id": 1, "connect": {"token": _token(secret, "42", ttl=120)}},
                {"id": 2, "subscribe": {"channel": channel, "positioned": True, "recoverable": True, "flag": 1}},
                {"id": 3, "presence_stats": {"channel": channel}},
                {"id": 4, "rpc": {"method": "anything", "data": {}}},
                {"id": 5, "frobnicate": {}},
                {"id": 6, "history": {"channel": channel, "limit": 5}},
                {"id": 7, "unsubscribe": {"channel": channel}},
            ]
            await ws.send("\n".join(json.dumps(c) for c in frame))
            replies: dict[int, dict[str, Any]] = {}
            while len(replies) < len(frame):
                replies.update((m["id"], m) for m in await _recv(ws) if "id" in m)
            connect = replies[1]["connect"]
            assert connect["version"] == "6.0.0-zapline-sandbox" and connect["ping"] == 25 and connect["pong"]
            assert connect["expires"] and 0 < connect["ttl"] <= 120
            assert replies[2]["subscribe"]["positioned"] and replies[2]["subscribe"]["epoch"]
            assert replies[3]["presence_stats"] == {"num_clients": 1, "num_users": 1}
            assert replies[4]["error"]["code"] == 104 and replies[5]["error"]["code"] == 104
            assert replies[6]["history"]["publications"] == [] and replies[7] == {"id": 7, "unsubscribe": {}}
            await ws.send("{not json")
            assert await _closed(ws) == (3501, "bad request")

        async with raw_client(sandbox, _token(secret, "43")) as (_, reply):  # still serving
            assert reply["connect"]["client"]

    asyncio.run(scenario())


def test_refresh_and_sub_refresh(sandbox: dict[str, str]) -> None:
    channel, secret = "$" + _channel(), sandbox["CENTRIFUGO_TOKEN_HMAC_SECRET"]

    async def scenario() -> None:
        async with raw_client(sandbox, _token(secret, "42", ttl=60)) as (ws, connected):
            assert connected["connect"]["expires"] and connected["connect"]["ttl"] <= 60
            refreshed = await _command(ws, {"id": 2, "refresh": {"token": _token(secret, "42", ttl=3600)}})
            assert refreshed["refresh"]["expires"] and refreshed["refresh"]["ttl"] > 60
            sub = await _command(
                ws, {"id": 3, "subscribe": {"channel": channel, "token": _token(secret, "42", 30, channel=channel)}}
            )
            assert sub["subscribe"]["expires"] and sub["subscribe"]["ttl"] <= 30
            longer = _token(secret, "42", ttl=3600, channel=channel)
            sub_refreshed = await _command(ws, {"id": 4, "sub_refresh": {"channel": channel, "token": longer}})
            assert sub_refreshed["sub_refresh"]["ttl"] > 30
            await ws.send(json.dumps({"id": 5, "refresh": {"token": _token(secret, "someone-else")}}))
            assert await _closed(ws) == (3500, "invalid token")

    asyncio.run(scenario())

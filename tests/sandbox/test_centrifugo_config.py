"""The Centrifugo stand-in with its own configuration file: namespaces, history limits and ping/pong.

A second stand-in runs in a thread with a 600 ms ping interval and a 400 ms pong timeout, so ping/pong
is tested in about a second, with room for a pytest worker busy on 2 cores to answer in time (the
stand-in shares the worker's interpreter); the session sandbox keeps Centrifugo's 25 s default.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from centrifuge import Client as WsClient
from centrifuge import ClientState
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.sandbox.centrifugo_helpers import TIMEOUT, Recorder, disconnect, token
from tests.support import wait_until
from zapline.sandbox.centrifugo import DEFAULT_CONFIG, UVICORN_OPTIONS, Config, ConfigError, build, load_config

SECRET = "a-test-hmac-secret-that-is-long-enough-for-hs256"
API_KEY = "test-api-key"
CUSTOM = {
    "client": {"ping_interval": "600ms", "pong_timeout": "400ms", "stale_close_delay": "300ms"},
    "channel": {
        "without_namespace": {"presence": True},
        "namespaces": [
            {
                "name": "tiny",
                "history_size": 2,
                "history_ttl": "1m",
                "allow_recovery": True,
                "allow_subscribe_for_client": True,
            },
        ],  # fmt: skip
    },
}


@pytest.fixture(scope="module")
def custom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """host:port of a stand-in running the CUSTOM configuration file."""
    path = tmp_path_factory.mktemp("centrifugo") / "config.json"
    path.write_text(json.dumps(CUSTOM))
    app = build({"api_key": API_KEY, "hmac_secret": SECRET, "config_path": str(path)})
    config = uvicorn.Config(app, log_level="warning", lifespan="off", **UVICORN_OPTIONS)
    server = uvicorn.Server(config)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started, what="the custom Centrifugo stand-in to start")
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def _api(host: str, method: str, body: dict[str, Any]) -> Any:
    return httpx.post(f"http://{host}/api/{method}", json=body, headers={"X-API-Key": API_KEY}).json()


def _connect_command(user: str = "42") -> str:
    return json.dumps({"id": 1, "connect": {"token": token(SECRET, user)}})


class _Messages:
    """Messages of a raw WebSocket one at a time, whether or not the server joined them in a frame."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.buffer: list[dict[str, Any]] = []

    async def next(self) -> dict[str, Any]:
        while not self.buffer:
            frame = await asyncio.wait_for(self.ws.recv(), TIMEOUT)
            self.buffer.extend(json.loads(line) for line in str(frame).split("\n"))
        return self.buffer.pop(0)


def test_a_config_file_replaces_the_default_namespaces(custom: str) -> None:
    assert _api(custom, "publish", {"channel": "chat:index", "data": 1})["error"]["code"] == 102
    assert _api(custom, "publish", {"channel": "index", "data": 1}) == {"result": {}}  # no history there
    assert _api(custom, "publish", {"channel": "tiny:a", "data": 1})["result"]["offset"] == 1
    assert _api(custom, "history", {"channel": "index"})["error"]["code"] == 108


def test_recovery_fails_once_history_is_trimmed(custom: str) -> None:
    channel = "tiny:trimmed"
    epoch = _api(custom, "publish", {"channel": channel, "data": 1})["result"]["epoch"]
    for data in (2, 3, 4):
        _api(custom, "publish", {"channel": channel, "data": data})
    kept = _api(custom, "history", {"channel": channel, "limit": -1})["result"]["publications"]
    assert [p["data"] for p in kept] == [3, 4]

    async def scenario() -> list[dict[str, Any]]:
        async with connect(f"ws://{custom}/connection/websocket") as ws:
            await ws.send(_connect_command())
            for cmd_id, offset in ((2, 1), (3, 2)):
                sub = {"channel": channel, "recoverable": True, "recover": True, "epoch": epoch, "offset": offset}
                await ws.send(json.dumps({"id": cmd_id, "subscribe": sub}))
                await ws.send(json.dumps({"id": cmd_id + 10, "unsubscribe": {"channel": channel}}))
            messages, replies = _Messages(ws), list[dict[str, Any]]()
            while len(replies) < 2:
                message = await messages.next()
                if message == {}:
                    await ws.send("{}")  # pong, or the 400 ms pong timeout closes the connection
                elif "subscribe" in message:
                    replies.append(message["subscribe"])
            return replies

    too_far, just_enough = asyncio.run(scenario())
    assert too_far["recovered"] is False and "publications" not in too_far
    assert just_enough["recovered"] is True and [p["data"] for p in just_enough["publications"]] == [3, 4]


def test_ping_pong_and_no_pong_close(custom: str) -> None:
    async def scenario() -> tuple[int | None, str | None]:
        async with connect(f"ws://{custom}/connection/websocket") as ws:
            await ws.send(_connect_command())
            messages = _Messages(ws)
            connected = (await messages.next())["connect"]
            assert connected["pong"] is True and "ping" not in connected  # 600 ms is 0 whole seconds
            assert await messages.next() == {}
            await ws.send("{}")
            # Answered in time: the connection outlives the pong timeout and gets the next ping.
            assert await messages.next() == {}
            with pytest.raises(ConnectionClosed):  # that one goes unanswered
                while True:
                    assert await messages.next() == {}
            return ws.close_code, ws.close_reason

    assert asyncio.run(scenario()) == (3012, "no pong")


def test_a_connection_that_never_connects_is_closed_as_stale(custom: str) -> None:
    async def scenario() -> tuple[int | None, str | None]:
        async with connect(f"ws://{custom}/connection/websocket") as ws:
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), TIMEOUT)
            return ws.close_code, ws.close_reason

    assert asyncio.run(scenario()) == (3502, "stale")


def test_centrifuge_python_answers_pings_and_stays_connected(custom: str) -> None:
    def pongs() -> int:
        return int(httpx.get(f"http://{custom}/_sandbox/stats").json()["pongs_received"])

    async def scenario() -> None:
        events = Recorder()
        url = f"ws://{custom}/connection/websocket"
        client = WsClient(url, events=events, token=token(SECRET, "42", ttl=None), proxy=None)
        try:
            await client.connect()
            connected = await events.expect("connected")
            before = await asyncio.to_thread(pongs)
            await asyncio.to_thread(wait_until, lambda: pongs() >= before + 3, timeout=TIMEOUT, what="3 pongs")
            # Still the first connection: a 3012 close would have made the client reconnect.
            assert client.state == ClientState.CONNECTED and client.client_id == connected.client
            assert events.seen.count("connecting") == 1 and "disconnected" not in events.seen
        finally:
            await disconnect(client)

    asyncio.run(scenario())


def test_default_config_gives_zapline_channels_by_token_only() -> None:
    config = load_config(None)
    assert config == Config.from_dict(DEFAULT_CONFIG)
    for namespace in ("inbox", "conversation"):
        options = config.channel_options(f"{namespace}:org-1")
        assert options is not None and not options.allow_subscribe_for_client
        assert (options.history_size, options.history_ttl, options.presence) == (100, 600.0, True)
        assert options.allow_recovery and options.force_recovery
    chat = config.channel_options("$chat:private")
    assert chat is not None and chat.allow_subscribe_for_client and chat.history_ttl == 300.0
    assert config.channel_options("index") == config.without_namespace and config.without_namespace.history_enabled
    assert config.channel_options("nope:x") is None
    assert (config.client.ping_interval, config.client.pong_timeout) == (25.0, 8.0)


def test_v5_config_and_durations(tmp_path: Path) -> None:
    path = tmp_path / "v5.json"
    path.write_text(
        json.dumps({"history_size": 5, "history_ttl": "1m30s", "namespaces": [{"name": "ns", "presence": True}]})
    )
    config = load_config(path)
    assert config.without_namespace.history_ttl == 90.0
    options = config.channel_options("ns:x")
    assert options is not None and options.presence
    durations = Config.from_dict({"channel": {}, "client": {"ping_interval": "1.5s", "pong_timeout": 2}}).client
    assert (durations.ping_interval, durations.pong_timeout) == (1.5, 2.0)


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        ({"channel": {"namespaces": [{"name": "x"}]}}, "channel.namespaces[0].name"),
        ({"channel": {"namespaces": [{"name": "ok", "history_size": "ten"}]}}, "history_size"),
        ({"channel": {"without_namespace": {"history_ttl": "soon"}}}, "channel.without_namespace.history_ttl"),
        ({"channel": {}, "client": {"ping_interval": "25 seconds"}}, "client.ping_interval"),
        ({"channel": {"namespaces": [{"name": "ab"}, {"name": "ab"}]}}, "configured twice"),
    ],
)
def test_config_errors_name_the_field(raw: dict[str, Any], names: str) -> None:
    with pytest.raises(ConfigError, match=names.replace("[", r"\[").replace("]", r"\]")):
        Config.from_dict(raw)

"""The Upstash REST bridge, driven by the official upstash-redis SDK (sync and asyncio) unchanged."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Iterator

import httpx
import pytest
from upstash_redis import Redis
from upstash_redis.asyncio import Redis as AsyncRedis
from upstash_redis.errors import UpstashError


def answer(value: object) -> object:
    """What the SDK answered, compared as it came: its stubs type a few answers otherwise (``set`` as
    ``str | None``, the old value ``get=True`` asks for, where it answers True or False; ``xrange``'s
    entries as tuples, where they are lists)."""
    return value


@pytest.fixture
def redis(sandbox: dict[str, str]) -> Iterator[Redis]:
    client = Redis(sandbox["UPSTASH_REDIS_REST_URL"], sandbox["UPSTASH_REDIS_REST_TOKEN"])
    yield client
    client.close()


@pytest.fixture
def key() -> str:
    return f"test:{uuid.uuid4().hex}"


def rest(sandbox: dict[str, str], path: str, body: object = None, **headers: str) -> httpx.Response:
    auth = {"Authorization": f"Bearer {sandbox['UPSTASH_REDIS_REST_TOKEN']}", **headers}
    url = sandbox["UPSTASH_REDIS_REST_URL"] + path
    if isinstance(body, bytes):
        return httpx.post(url, content=body, headers={"Content-Type": "application/json", **auth})
    return httpx.post(url, json=body, headers=auth)


def test_strings_with_accents_and_emoji_round_trip(redis: Redis, key: str) -> None:
    text = "Olá, João! Ação 😀🇧🇷 — ünïcödé"
    assert answer(redis.set(key, text)) is True
    assert redis.get(key) == text
    assert redis.strlen(key) == len(text.encode())
    assert redis.get(f"{key}:missing") is None


def test_integers_and_set_options(redis: Redis, key: str) -> None:
    assert redis.incr(key) == 1
    assert redis.incrby(key, 41) == 42
    assert answer(redis.set(f"{key}:nx", "a", nx=True)) is True
    assert answer(redis.set(f"{key}:nx", "b", nx=True)) is False
    assert redis.get(f"{key}:nx") == "a"
    assert answer(redis.set(key, "x", ex=100)) is True
    assert 0 < redis.ttl(key) <= 100


def test_hashes_sorted_sets_and_streams(redis: Redis, key: str) -> None:
    redis.hset(key, values={"name": "Ana Souza", "city": "São Paulo"})
    assert redis.hgetall(key) == {"name": "Ana Souza", "city": "São Paulo"}
    assert redis.hget(key, "missing") is None

    redis.zadd(f"{key}:z", {"a": 1.5, "b": 2, "c": -3})
    assert redis.zrange(f"{key}:z", 0, -1, withscores=True) == [("c", -3.0), ("a", 1.5), ("b", 2.0)]
    assert redis.zscore(f"{key}:z", "a") == 1.5

    first = redis.xadd(f"{key}:s", "*", {"event": "received", "text": "Oi 👋"})
    redis.xadd(f"{key}:s", "*", {"event": "read"})
    entries = redis.xrange(f"{key}:s")
    assert answer(entries[0]) == [first, ["event", "received", "text", "Oi 👋"]]
    assert redis.xlen(f"{key}:s") == 2


def test_status_replies_are_base64_except_ok(sandbox: dict[str, str], key: str) -> None:
    # The SDK decodes base64 itself; check the wire: PONG and "string" must be encoded, OK raw.
    response = rest(sandbox, "/pipeline", [["SET", key, "v"], ["PING"], ["TYPE", key], ["GET", "nope"]],
                    **{"Upstash-Encoding": "base64"})  # fmt: skip
    assert response.json() == [
        {"result": "OK"},
        {"result": base64.b64encode(b"PONG").decode()},
        {"result": base64.b64encode(b"string").decode()},
        {"result": None},
    ]
    plain = rest(sandbox, "/", ["GET", key])
    assert plain.json() == {"result": "v"}


def test_pipeline_reports_the_error_in_the_middle_and_runs_the_rest(
    redis: Redis, sandbox: dict[str, str], key: str
) -> None:
    redis.set(f"{key}:text", "not a number")
    pipe = redis.pipeline()
    pipe.set(f"{key}:before", "1")
    pipe.incr(f"{key}:text")
    pipe.set(f"{key}:after", "2")
    with pytest.raises(UpstashError, match="not an integer"):
        pipe.exec()
    assert redis.get(f"{key}:before") == "1"
    assert redis.get(f"{key}:after") == "2"

    raw = rest(sandbox, "/pipeline", [["GET", f"{key}:before"], ["INCR", f"{key}:text"], ["ECHO", "é"]]).json()
    assert raw[0] == {"result": "1"}
    assert "error" in raw[1] and "result" not in raw[1]
    assert raw[2] == {"result": "é"}


def test_transactions(redis: Redis, sandbox: dict[str, str], key: str) -> None:
    tx = redis.multi()
    tx.set(key, "1")
    tx.incr(key)
    tx.get(key)
    assert tx.exec() == [True, 2, "2"]

    # A command Redis refuses at queue time discards the whole transaction: one error, nothing ran.
    response = rest(sandbox, "/multi-exec", [["SET", f"{key}:discarded", "1"], ["GET"]])
    assert response.status_code == 400
    assert "EXECABORT" in response.json()["error"]
    assert redis.exists(f"{key}:discarded") == 0


def test_scripts(redis: Redis, key: str) -> None:
    script = "return {KEYS[1], ARGV[1], 7, redis.call('INCR', KEYS[1])}"
    assert redis.eval(script, keys=[key], args=["ação"]) == [key, "ação", 7, 1]
    sha = redis.script_load(script)
    assert len(sha) == 40
    assert redis.evalsha(sha, keys=[key], args=["x"]) == [key, "x", 7, 2]
    assert redis.script_exists(sha, "0" * 40) == [True, False]
    with pytest.raises(UpstashError, match="NOSCRIPT"):
        redis.evalsha("0" * 40, keys=[key])


def test_wrong_token(sandbox: dict[str, str]) -> None:
    with Redis(sandbox["UPSTASH_REDIS_REST_URL"], "not-the-token") as wrong, pytest.raises(UpstashError):
        wrong.get("anything")
    response = httpx.post(sandbox["UPSTASH_REDIS_REST_URL"], json=["PING"], headers={"Authorization": "Bearer x"})
    assert response.status_code == 401
    assert "error" in response.json()
    assert httpx.post(sandbox["UPSTASH_REDIS_REST_URL"] + "/pipeline", json=[["PING"]]).status_code == 401


@pytest.mark.parametrize(
    ("path", "body", "needle"),
    [
        ("/", ["NOSUCHCOMMAND", "x"], "Command is not available: 'NOSUCHCOMMAND'"),
        ("/", ["GET"], "wrong number of arguments"),
        ("/", b"{not json", "invalid JSON"),
        ("/", {"command": "GET"}, "non-empty JSON array"),
        ("/", [], "non-empty JSON array"),
        ("/", ["SET", "k", {"nested": 1}], "invalid argument"),
        ("/", ["SUBSCRIBE", "ch"], "not allowed in REST"),
        ("/pipeline", [["GET", "k"], "PING"], "non-empty JSON array"),
    ],
)
def test_bad_input_gets_an_error_and_the_bridge_keeps_serving(
    sandbox: dict[str, str], path: str, body: object, needle: str
) -> None:
    response = rest(sandbox, path, body)
    assert response.status_code == 400
    assert needle in response.json()["error"]
    assert rest(sandbox, "/", ["PING"]).json() == {"result": "PONG"}


def test_sync_token_and_path_style(sandbox: dict[str, str], key: str) -> None:
    response = rest(sandbox, f"/set/{key}/hello")
    assert response.json() == {"result": "OK"}
    assert response.headers["Upstash-Sync-Token"]
    assert rest(sandbox, f"/get/{key}").json() == {"result": "hello"}
    # the SDK concatenates a trailing-slash base URL into "//pipeline"
    assert rest(sandbox, "//pipeline", [["GET", key]]).json() == [{"result": "hello"}]


NOT_AVAILABLE = (  # Upstash's own words for a command it does not have
    "ERR Command is not available: '{}'. See https://upstash.com/docs/redis/overall/rediscompatibility for details"
)
NOT_IN_REST = 'ERR Command "{}" is not allowed in REST or it has a special context path'


@pytest.mark.parametrize(
    ("command", "error"),
    [
        (["SWAPDB", "0", "1"], NOT_AVAILABLE.format("SWAPDB")),
        (["MOVE", "k", "1"], NOT_AVAILABLE.format("MOVE")),
        (["SHUTDOWN"], NOT_AVAILABLE.format("SHUTDOWN")),
        (["DEBUG", "SLEEP", "0"], NOT_AVAILABLE.format("DEBUG")),
        (["save"], NOT_AVAILABLE.format("SAVE")),
        (["BGSAVE"], NOT_AVAILABLE.format("BGSAVE")),
        (["REPLICAOF", "NO", "ONE"], NOT_AVAILABLE.format("REPLICAOF")),
        (["CLUSTER", "INFO"], NOT_AVAILABLE.format("CLUSTER")),
        (["OBJECT", "ENCODING", "k"], NOT_AVAILABLE.format("OBJECT")),
        (["SORT", "k"], NOT_AVAILABLE.format("SORT")),
        (["ROLE"], NOT_AVAILABLE.format("ROLE")),
        (["SCRIPT", "DEBUG", "YES"], NOT_AVAILABLE.format("SCRIPT DEBUG")),
        (["CONFIG", "RESETSTAT"], NOT_AVAILABLE.format("CONFIG RESETSTAT")),
        (["CONFIG", "SET", "appendonly", "no"], "ERR CONFIG SET is limited to notify-keyspace-events on Upstash"),
        (["SELECT", "1"], NOT_IN_REST.format("SELECT")),
        (["CLIENT", "LIST"], NOT_IN_REST.format("CLIENT")),
        (["MONITOR"], NOT_IN_REST.format("MONITOR")),
        (["WATCH", "k"], NOT_IN_REST.format("WATCH")),
        (["MULTI"], NOT_IN_REST.format("MULTI")),
        (["BLPOP", "k", "0"], NOT_IN_REST.format("BLPOP")),
        (["XREAD", "BLOCK", "0", "STREAMS", "k", "$"], NOT_IN_REST.format("XREAD")),
    ],
)
def test_commands_upstash_does_not_serve_over_rest_are_refused_as_upstash_refuses_them(
    redis: Redis, sandbox: dict[str, str], key: str, command: list[str], error: str
) -> None:
    with pytest.raises(UpstashError) as raised:
        redis.execute(command)
    assert str(raised.value) == error
    # raw: 400 and Upstash's shape, on every path the REST API takes a command on
    single = rest(sandbox, "/", command)
    assert (single.status_code, single.json()) == (400, {"error": error})
    path = rest(sandbox, "/" + "/".join(command))
    assert (path.status_code, path.json()) == (400, {"error": error})
    # a pipeline is not atomic: the refused command is an error in its place, the others run
    piped = rest(sandbox, "/pipeline", [["SET", key, "1"], command, ["INCR", key]])
    assert (piped.status_code, piped.json()) == (200, [{"result": "OK"}, {"error": error}, {"result": 2}])
    # a transaction with a command Upstash does not serve is discarded whole
    tx = rest(sandbox, "/multi-exec", [["SET", f"{key}:tx", "1"], command])
    assert (tx.status_code, tx.json()) == (400, {"error": error})
    assert redis.exists(f"{key}:tx") == 0
    assert rest(sandbox, "/", ["PING"]).json() == {"result": "PONG"}


def test_the_sdk_sees_a_refused_command_in_its_pipeline_and_transaction(redis: Redis, key: str) -> None:
    pipe = redis.pipeline()
    pipe.set(key, "1")
    pipe.execute(["OBJECT", "ENCODING", key])
    with pytest.raises(UpstashError, match="Command is not available: 'OBJECT'"):
        pipe.exec()
    assert redis.get(key) == "1"
    tx = redis.multi()
    tx.set(f"{key}:tx", "1")
    tx.execute(["SORT", key])
    # a discarded transaction is one {"error"} object, which SDK 1.8.0 cannot read (reference §4)
    with pytest.raises(AttributeError):
        tx.exec()
    assert redis.exists(f"{key}:tx") == 0


def test_commands_upstash_serves_differently_stay_within_the_database(redis: Redis, sandbox: dict[str, str]) -> None:
    # CONFIG reaches notify-keyspace-events only, as on Upstash; other parameters are not there
    parameters = redis.execute(["CONFIG", "GET", "*"])
    assert isinstance(parameters, list) and parameters[0] == "notify-keyspace-events"
    assert redis.execute(["CONFIG", "GET", "appendonly"]) == []
    assert redis.execute(["CONFIG", "SET", "notify-keyspace-events", ""]) == "OK"
    for command in (["ECHO", "é"], ["TIME"], ["DBSIZE"], ["SCRIPT", "EXISTS", "0" * 40], ["MEMORY", "USAGE", "x"]):
        assert "error" not in rest(sandbox, "/", command).json(), command


def test_command_counter(sandbox: dict[str, str], key: str) -> None:
    url = sandbox["UPSTASH_REDIS_REST_URL"] + "/_sandbox/stats"
    before = httpx.get(url).json()
    rest(sandbox, "/pipeline", [["SET", key, "1"], ["GET", key], ["DEL", key]])
    after = httpx.get(url).json()
    assert after["commands"] - before["commands"] >= 3
    assert after["requests"] - before["requests"] >= 1


def test_async_client(sandbox: dict[str, str], key: str) -> None:
    async def scenario() -> list[object]:
        async with AsyncRedis(sandbox["UPSTASH_REDIS_REST_URL"], sandbox["UPSTASH_REDIS_REST_TOKEN"]) as redis:
            await redis.hset(key, values={"nome": "Zé 😀"})
            pipe = redis.pipeline()
            pipe.hgetall(key)
            pipe.hincrby(key, "n", 5)
            results = await pipe.exec()
            sha = await redis.script_load("return ARGV[1]")
            return [*results, await redis.evalsha(sha, args=["ok"])]

    assert asyncio.run(scenario()) == [{"nome": "Zé 😀"}, 5, "ok"]

"""Which commands Upstash Redis serves over REST, so that code that would fail there fails here too.

The table is Upstash's command reference (https://upstash.com/docs/redis/commands/overview, one page
per command, "up to Redis 8.2"); a command or subcommand missing from it is refused as Upstash
refuses it. Over REST, Upstash's REST API page ("REST - Redis API Compatibility",
https://upstash.com/docs/redis/features/restapi) narrows it further: of the connection commands only
PING and ECHO, no WATCH/UNWATCH/DISCARD (a transaction is ``/multi-exec``), no blocking commands
(nor XREAD/XREADGROUP with BLOCK); the command pages mark AUTH, HELLO, QUIT, RESET, CLIENT, MONITOR
and the SUBSCRIBE family as "available over native Redis TCP, not the stateless REST endpoint"
(MONITOR and SUBSCRIBE have their own server-sent-event paths, which the sandbox does not serve).
``CONFIG GET``/``CONFIG SET`` reach ``notify-keyspace-events`` only, as on Upstash. The refusal
texts are the ones Upstash answers (Upstash documents the ``{"error": "ERR ..."}`` shape and 400).

Not checked: commands a Lua script calls (``redis.call`` inside EVAL runs on the real Redis).
"""

from __future__ import annotations

import fnmatch

__all__ = ["refusal", "rewrite"]

COMPATIBILITY_URL = "https://upstash.com/docs/redis/overall/rediscompatibility"


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


_SERVED = _names(
    """
    BITCOUNT BITFIELD BITFIELD_RO BITOP BITPOS GETBIT SETBIT
    ECHO PING AUTH HELLO QUIT RESET SELECT CLIENT
    FCALL FCALL_RO FUNCTION
    COPY DEL DUMP EXISTS EXPIRE EXPIREAT EXPIRETIME KEYS MEMORY PERSIST PEXPIRE PEXPIREAT PEXPIRETIME PTTL
    RANDOMKEY RENAME RENAMENX RESTORE SCAN TOUCH TTL TYPE UNLINK WAIT WAITAOF
    GEOADD GEODIST GEOHASH GEOPOS GEORADIUS GEORADIUS_RO GEORADIUSBYMEMBER GEORADIUSBYMEMBER_RO GEOSEARCH
    GEOSEARCHSTORE
    HDEL HEXISTS HEXPIRE HEXPIREAT HEXPIRETIME HGET HGETALL HGETDEL HGETEX HINCRBY HINCRBYFLOAT HKEYS HLEN HMGET
    HMSET HPERSIST HPEXPIRE HPEXPIREAT HPEXPIRETIME HPTTL HRANDFIELD HSCAN HSET HSETEX HSETNX HSTRLEN HTTL HVALS
    PFADD PFCOUNT PFMERGE
    JSON.ARRAPPEND JSON.ARRINDEX JSON.ARRINSERT JSON.ARRLEN JSON.ARRPOP JSON.ARRTRIM JSON.CLEAR JSON.DEBUG
    JSON.DEL JSON.FORGET JSON.GET JSON.MERGE JSON.MGET JSON.MSET JSON.NUMINCRBY JSON.NUMMULTBY JSON.OBJKEYS
    JSON.OBJLEN JSON.RESP JSON.SET JSON.STRAPPEND JSON.STRLEN JSON.TOGGLE JSON.TYPE
    BLMOVE BLMPOP BLPOP BRPOP BRPOPLPUSH LINDEX LINSERT LLEN LMOVE LMPOP LPOP LPOS LPUSH LPUSHX LRANGE LREM
    LSET LTRIM RPOP RPOPLPUSH RPUSH RPUSHX
    PSUBSCRIBE PUBLISH PUBSUB PUNSUBSCRIBE SUBSCRIBE UNSUBSCRIBE
    EVAL EVAL_RO EVALSHA EVALSHA_RO SCRIPT
    SEARCH.AGGREGATE SEARCH.ALIASADD SEARCH.ALIASDEL SEARCH.COUNT SEARCH.CREATE SEARCH.DESCRIBE SEARCH.DROP
    SEARCH.LISTALIASES SEARCH.LISTINDEXES SEARCH.QUERY SEARCH.REINDEX SEARCH.WAITINDEXING
    ACL COMMAND CONFIG DBSIZE FLUSHALL FLUSHDB INFO MONITOR TIME
    SADD SCARD SDIFF SDIFFSTORE SINTER SINTERCARD SINTERSTORE SISMEMBER SMEMBERS SMISMEMBER SMOVE SPOP
    SRANDMEMBER SREM SSCAN SUNION SUNIONSTORE
    BZMPOP BZPOPMAX BZPOPMIN ZADD ZCARD ZCOUNT ZDIFF ZDIFFSTORE ZINCRBY ZINTER ZINTERCARD ZINTERSTORE ZLEXCOUNT
    ZMPOP ZMSCORE ZPOPMAX ZPOPMIN ZRANDMEMBER ZRANGE ZRANGEBYLEX ZRANGEBYSCORE ZRANGESTORE ZRANK ZREM
    ZREMRANGEBYLEX ZREMRANGEBYRANK ZREMRANGEBYSCORE ZREVRANGE ZREVRANGEBYLEX ZREVRANGEBYSCORE ZREVRANK ZSCAN
    ZSCORE ZUNION ZUNIONSTORE
    XACK XACKDEL XADD XAUTOCLAIM XCLAIM XDEL XDELEX XGROUP XINFO XLEN XPENDING XRANGE XREAD XREADGROUP
    XREVRANGE XTRIM
    APPEND DECR DECRBY DELEX DIGEST GET GETDEL GETEX GETRANGE GETSET INCR INCRBY INCRBYFLOAT MGET MSET MSETNX
    PSETEX SET SETEX SETNX SETRANGE STRLEN
    DISCARD EXEC MULTI UNWATCH WATCH
    """
)

# Container commands: only the subcommands the reference documents. COMMAND takes no subcommand.
_SUBCOMMANDS = {
    "ACL": _names("CAT DELUSER GENPASS GENTOKEN GETUSER LIST LOAD LOG RESTTOKEN SAVE SETUSER USERS WHOAMI"),
    "CLIENT": _names("GETNAME ID INFO LIST SETINFO SETNAME"),
    "COMMAND": frozenset(),
    "CONFIG": frozenset({"GET", "SET"}),
    "FUNCTION": _names("DELETE FLUSH KILL LIST LOAD STATS"),
    "MEMORY": frozenset({"USAGE"}),
    "PUBSUB": frozenset({"CHANNELS", "NUMSUB", "NUMPAT"}),
    "SCRIPT": frozenset({"EXISTS", "FLUSH", "KILL", "LOAD"}),
    "XGROUP": frozenset({"CREATE", "CREATECONSUMER", "DELCONSUMER", "DESTROY", "SETID"}),
    "XINFO": frozenset({"CONSUMERS", "GROUPS", "STREAM"}),
}

_TCP_ONLY = _names(
    """
    AUTH HELLO QUIT RESET SELECT CLIENT MONITOR SUBSCRIBE PSUBSCRIBE UNSUBSCRIBE PUNSUBSCRIBE
    MULTI EXEC DISCARD WATCH UNWATCH
    BLPOP BRPOP BRPOPLPUSH BLMOVE BLMPOP BZPOPMAX BZPOPMIN BZMPOP
    """
)

_KEYSPACE_EVENTS = "notify-keyspace-events"
_NO_PARAMETER = "zapline-sandbox:not-on-upstash"  # CONFIG GET of this matches nothing: Upstash's empty answer


def _not_available(name: str) -> str:
    return f"ERR Command is not available: '{name}'. See {COMPATIBILITY_URL} for details"


def _not_in_rest(name: str) -> str:
    return f'ERR Command "{name}" is not allowed in REST or it has a special context path'


def refusal(args: list[bytes]) -> str | None:
    """Upstash's error text if it would refuse this command over REST; ``None`` if it serves it."""
    name = args[0].decode(errors="replace").upper()
    if name not in _SERVED:
        return _not_available(name)
    if name in _TCP_ONLY or (name in ("XREAD", "XREADGROUP") and b"BLOCK" in (a.upper() for a in args[1:])):
        return _not_in_rest(name)
    subcommands = _SUBCOMMANDS.get(name)
    if subcommands is not None and len(args) > 1:
        sub = args[1].decode(errors="replace").upper()
        if sub not in subcommands:
            return _not_available(f"{name} {sub}")
    if name == "CONFIG" and len(args) > 2 and args[1].upper() == b"SET":
        parameters = {p.decode(errors="replace").lower() for p in args[2::2]}
        if parameters != {_KEYSPACE_EVENTS}:
            return f"ERR CONFIG SET is limited to {_KEYSPACE_EVENTS} on Upstash"
    return None


def rewrite(args: list[bytes]) -> list[bytes]:
    """What the sandbox's Redis runs for a command Upstash serves differently (one database, a few
    settings): FLUSHALL empties this database only; CONFIG GET sees ``notify-keyspace-events`` only."""
    name = args[0].upper()
    if name == b"FLUSHALL":
        return [b"FLUSHDB", *args[1:]]
    if name == b"CONFIG" and len(args) > 2 and args[1].upper() == b"GET":
        patterns = [p.decode(errors="replace").lower() for p in args[2:]]
        seen = any(fnmatch.fnmatchcase(_KEYSPACE_EVENTS, p) for p in patterns)
        return [b"CONFIG", b"GET", (_KEYSPACE_EVENTS if seen else _NO_PARAMETER).encode()]
    return args

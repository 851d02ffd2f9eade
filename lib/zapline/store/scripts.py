"""Lua scripts, run with EVALSHA in one round trip (EVAL, which also caches it, on NOSCRIPT).

Every script is ``lua/prelude.lua`` (the calling convention and shared helpers) followed by its
own file.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from upstash_redis.errors import UpstashError

from zapline import hotpath
from zapline.config import get_settings
from zapline.errors import StoreRejected, StoreUnavailable
from zapline.store.keys import lua_key_functions

__all__ = ["Script", "StoreRejected", "run_redis", "script_json"]


def script_json(payload: Any) -> str:
    """A script's JSON argument. Lone surrogates (valid in a JSON string, not in UTF-8) become
    U+FFFD, which Redis's cjson would otherwise refuse."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = re.sub("[\ud800-\udfff]", "\ufffd", text)
    return text


@dataclass(frozen=True)
class Script:
    name: str
    source: str
    sha: str

    @classmethod
    @cache
    def load(cls, name: str) -> Script:
        lua = Path(__file__).parent / "lua"
        prelude = (lua / "prelude.lua").read_text().replace("--@KEYS", lua_key_functions() + "--", 1)
        source = prelude + (lua / f"{name}.lua").read_text()
        return cls(name, source, hashlib.sha1(source.encode()).hexdigest())

    async def run(self, keys: list[str], args: list[str]) -> Any:
        """EVALSHA over the REST API in one request (EVAL, which also caches it, on NOSCRIPT).

        Posted with :mod:`zapline.hotpath` rather than the SDK: this is the one Redis call of every
        inbound message, and the SDK's httpx stack was most of the function's CPU.
        """
        try:
            return await _rest(["EVALSHA", self.sha, len(keys), *keys, *args])
        except StoreUnavailable as exc:
            if "NOSCRIPT" not in exc.message:
                raise
        return await _rest(["EVAL", self.source, len(keys), *keys, *args])


def _classify(message: str) -> StoreRejected | StoreUnavailable:
    if "Error running script" in message or "user_script" in message or "WRONGTYPE" in message:
        return StoreRejected(f"the store could not apply this input: {message}")
    return StoreUnavailable(f"Upstash Redis refused the command: {message}")


async def _rest(command: list[Any]) -> Any:
    settings = get_settings()
    body = json.dumps(command, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {"Authorization": f"Bearer {settings.upstash_redis_rest_token}"}
    try:
        reply = await hotpath.post_json(settings.upstash_redis_rest_url, body, headers, within=settings.http_timeout)
    except hotpath.HotpathError as exc:
        raise StoreUnavailable(f"Upstash Redis unavailable: {exc}") from None
    try:
        answer = json.loads(reply.body)
    except ValueError:
        raise StoreUnavailable(f"Upstash Redis answered HTTP {reply.status} without JSON") from None
    if isinstance(answer, dict) and "error" in answer:
        raise _classify(str(answer["error"]))
    if reply.status != 200 or not isinstance(answer, dict) or "result" not in answer:
        raise StoreUnavailable(f"Upstash Redis answered HTTP {reply.status}")
    return answer["result"]


async def run_redis(call: Any) -> Any:
    """Await one Upstash call with the configured deadline; any failure to reach Redis is transient.

    The Upstash SDK has no timeout of its own, and raises httpx errors, JSON errors (an HTML
    error page) or ``UpstashError``; all of them mean "try again later" to QStash.
    """
    try:
        async with asyncio.timeout(get_settings().http_timeout):
            return await call
    except UpstashError as exc:
        if "Error running script" in str(exc) or "user_script" in str(exc) or "WRONGTYPE" in str(exc):
            raise StoreRejected(f"the store could not apply this input: {exc}") from None
        raise StoreUnavailable(f"Upstash Redis refused the command: {exc}") from None
    except (TimeoutError, httpx.HTTPError, ValueError, OSError) as exc:
        raise StoreUnavailable(f"Upstash Redis unavailable: {type(exc).__name__}") from None

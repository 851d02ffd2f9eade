"""The shared outgoing clients, one per event loop: httpx for Centrifugo, UAZAPI and QStash, and
the Upstash Redis REST client.

Clients are bound to the loop that created them (httpx pools die with their loop), so a function
host that runs a new loop per invocation gets fresh ones instead of "Event loop is closed".
"""

from __future__ import annotations

import asyncio

import httpx
from upstash_redis.asyncio import Redis

from zapline.config import get_settings

__all__ = ["aclose_clients", "http_client", "redis_client"]

POOL_SIZE = 8

_http: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}
_redis: dict[asyncio.AbstractEventLoop, Redis] = {}


def _forget_closed_loops() -> None:
    for cache in (_http, _redis):
        for loop in [loop for loop in cache if loop.is_closed()]:
            del cache[loop]


def http_client() -> httpx.AsyncClient:
    loop = asyncio.get_running_loop()
    client = _http.get(loop)
    if client is None:
        _forget_closed_loops()
        timeout = get_settings().http_timeout
        client = _http[loop] = _pooled_client(timeout)
    return client


def _pooled_client(timeout: float) -> httpx.AsyncClient:
    # httpcore scans every pooled connection (polling each idle socket) on every request, so a
    # small pool costs less CPU per call than a large one; one function instance rarely needs more.
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        limits=httpx.Limits(max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE),
    )


def redis_client() -> Redis:
    loop = asyncio.get_running_loop()
    client = _redis.get(loop)
    if client is None:
        _forget_closed_loops()
        settings = get_settings()
        # No SDK-level retry: its fixed 3 s sleep would hold the function; QStash retries instead.
        client = _redis[loop] = Redis(
            settings.upstash_redis_rest_url,
            settings.upstash_redis_rest_token,
            rest_retries=0,
            allow_telemetry=False,
        )
        # The SDK's own httpx client has no timeout and a 100-connection pool; give it ours.
        client._http._client = _pooled_client(settings.http_timeout)
    return client


async def aclose_clients() -> None:
    from zapline import hotpath

    await hotpath.aclose()
    loop = asyncio.get_running_loop()
    http = _http.pop(loop, None)
    if http is not None:
        await http.aclose()
    redis = _redis.pop(loop, None)
    if redis is not None:
        await redis.close()

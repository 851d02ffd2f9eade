"""The destination of a publish, rebuilt from the raw request target.

The SDK appends the destination to the path without encoding it (``/v2/publish/https://a.example/p?x=1``),
so the destination is the raw path after the route prefix plus the raw query, byte for byte, minus
what is addressed to QStash itself: ``qstash_token`` and ``upstash-*`` parameters (configuration for
callers that cannot set headers). The fragment never reaches the server. No ``//`` is collapsed.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, unquote_plus

from zapline.sandbox.qstash.errors import ApiError
from zapline.sandbox.qstash.spec import NAME, check_url

__all__ = ["Target", "parse_target", "split_query"]

TOKEN_PARAM = "qstash_token"


def split_query(raw_query: bytes) -> tuple[str, list[tuple[str, str]]]:
    """(the query without QStash's own parameters, those ``upstash-*`` parameters as header pairs)."""
    if not raw_query:
        return "", []
    kept: list[str] = []
    config: list[tuple[str, str]] = []
    for piece in raw_query.decode("utf-8", "replace").split("&"):
        name, _, value = piece.partition("=")
        lowered = unquote_plus(name).lower()
        if lowered == TOKEN_PARAM:
            continue
        if lowered.startswith("upstash-"):
            config.append((lowered, unquote_plus(value)))
            continue
        kept.append(piece)
    return "&".join(kept), config


@dataclass(frozen=True)
class Target:
    """Either a URL (kept exactly) or the name of a URL group."""

    url: str | None
    group: str | None
    config: list[tuple[str, str]]


def parse_target(raw: str, raw_query: bytes) -> Target:
    """Parse the raw path remainder after the route prefix and the raw query string."""
    query, config = split_query(raw_query)
    if "://" in raw or ":" in raw.split("/", 1)[0]:
        url = raw + ("?" + query if query else "")
        return Target(check_url(url, "destination url"), None, config)
    name = unquote(raw)
    if not NAME.fullmatch(name):
        raise ApiError(
            400,
            f"invalid destination {name!r}: give a url starting with http:// or https://, or the name of a url group",
        )
    return Target(None, name, config)

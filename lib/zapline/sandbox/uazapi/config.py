"""The options ``build()`` receives (JSON from the supervisor), validated once with clear errors."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

__all__ = ["Options"]


@dataclass(frozen=True)
class Options:
    instance_token: str  # the default instance's token (``UAZAPI_INSTANCE_TOKEN``)
    redis_url: str = ""  # where its memory survives restarts (the supervisor: database 2); empty: memory only
    admin_token: str = ""  # ``admintoken`` for /instance/init; empty disables it
    owner: str = "5511999990000"  # the default instance's own WhatsApp number
    instance_name: str = "demo"
    public_url: str = ""  # what BaseUrl and fileURL start with; empty: the URL the request came to
    echo_delay_ms: int = 50  # after a send: the echo (``messages``, fromMe) ...
    delivered_delay_ms: int = 200  # ... then the Delivered receipt ...
    read_delay_ms: int = 600  # ... then the Read receipt, each counted from the send
    max_send_delay_ms: int = 5000  # the longest ``delay`` (typing...) a send waits for
    webhook_attempts: int = 3  # UAZAPI tries a webhook about three times
    webhook_retry_ms: int = 250  # wait before retry n: n * this
    webhook_timeout_s: float = 10.0
    max_sent: int = 50_000  # sends remembered for GET /_sandbox/sent

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Options:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"unknown uazapi sandbox option(s) {', '.join(unknown)}; choices are: {', '.join(known)}")
        if not raw.get("instance_token"):
            raise ValueError("uazapi sandbox option instance_token must be set")
        options = cls(**raw)
        delays = (options.echo_delay_ms, options.delivered_delay_ms, options.read_delay_ms)
        if min(delays) < 0 or list(delays) != sorted(delays):
            raise ValueError(
                "uazapi sandbox delays must satisfy 0 <= echo_delay_ms <= delivered_delay_ms <= read_delay_ms"
            )
        if options.webhook_attempts < 1:
            raise ValueError("uazapi sandbox option webhook_attempts must be at least 1")
        return options

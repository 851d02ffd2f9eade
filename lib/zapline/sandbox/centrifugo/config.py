"""Channel namespaces and client options, read from a Centrifugo v6 (or v5) JSON configuration.

Without a configuration file the stand-in runs :data:`DEFAULT_CONFIG`: Zapline's live channels
(``inbox:``, ``conversation:``) plus ``chat:`` and ``personal:`` for experiments, and channels
without a namespace. A file replaces it entirely, like ``centrifugo --config``. Durations accept
Go's syntax (``"25s"``, ``"1m30s"``, ``"500ms"``) or a number of seconds. Options the stand-in does
not implement (proxies, engines, delta, ...) are ignored.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_CONFIG", "ChannelOptions", "ClientOptions", "Config", "ConfigError", "load_config"]

_LIVE_CHANNEL = {
    "history_size": 100,
    "history_ttl": "600s",
    "force_recovery": True,
    "allow_recovery": True,
    "presence": True,
    "allow_history_for_subscriber": True,
    "allow_presence_for_subscriber": True,
}
_PLAYGROUND = {
    "history_size": 100,
    "history_ttl": "300s",
    "force_recovery": True,
    "allow_recovery": True,
    "presence": True,
    "allow_subscribe_for_client": True,
    "allow_publish_for_subscriber": True,
    "allow_publish_for_client": True,
    "allow_history_for_subscriber": True,
    "allow_presence_for_subscriber": True,
}

DEFAULT_CONFIG: dict[str, Any] = {
    "client": {"ping_interval": "25s", "pong_timeout": "8s"},
    "channel": {
        "without_namespace": {
            "history_size": 100,
            "history_ttl": "300s",
            "allow_recovery": True,
            "presence": True,
            "allow_subscribe_for_client": True,
            "allow_history_for_subscriber": True,
            "allow_presence_for_subscriber": True,
        },
        "namespaces": [
            # Clients get these through the connection JWT's `channels` claim or a subscription
            # token only: no allow_subscribe_for_client.
            {"name": "inbox", **_LIVE_CHANNEL},
            {"name": "conversation", **_LIVE_CHANNEL},
            {"name": "chat", **_PLAYGROUND},
            {"name": "personal", **_PLAYGROUND},
        ],
    },
}

_NAMESPACE_NAME = re.compile(r"^[-a-zA-Z0-9_]{2,}$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class ConfigError(ValueError):
    """The Centrifugo configuration cannot be used; the message names the field."""


def parse_duration(value: Any, where: str) -> float:
    """Seconds from a Go duration string or a number of seconds; negative means disabled."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f'{where} must be a duration such as "25s" or a number of seconds, got {value!r}')
    if not isinstance(value, str):
        return float(value)
    text = value.strip()
    sign = -1.0 if text.startswith("-") else 1.0
    text = text.lstrip("+-")
    if text == "0":
        return 0.0
    total, pos = 0.0, 0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ConfigError(f'{where} must be a duration such as "25s", "1m30s" or "500ms", got {value!r}')
    return sign * total


@dataclass(frozen=True)
class ChannelOptions:
    history_size: int = 0
    history_ttl: float = 0.0
    force_recovery: bool = False
    allow_recovery: bool = False
    force_recovery_mode: str = "stream"
    force_positioning: bool = False
    allow_positioning: bool = False
    presence: bool = False
    allow_subscribe_for_client: bool = False
    allow_subscribe_for_anonymous: bool = False
    allow_publish_for_subscriber: bool = False
    allow_publish_for_client: bool = False
    allow_publish_for_anonymous: bool = False
    allow_history_for_subscriber: bool = False
    allow_history_for_client: bool = False
    allow_history_for_anonymous: bool = False
    allow_presence_for_subscriber: bool = False
    allow_presence_for_client: bool = False
    allow_presence_for_anonymous: bool = False

    @property
    def history_enabled(self) -> bool:
        """Centrifugo keeps a stream only when both history_size and history_ttl are set."""
        return self.history_size > 0 and self.history_ttl > 0

    @classmethod
    def from_dict(cls, raw: Any, where: str) -> ChannelOptions:
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{where} must be an object")
        values: dict[str, Any] = {}
        for option in dataclasses.fields(cls):
            if option.name not in raw:
                continue
            value, key = raw[option.name], f"{where}.{option.name}"
            if option.name == "history_ttl":
                values[option.name] = parse_duration(value, key)
            elif option.name == "history_size":
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ConfigError(f"{key} must be a non-negative integer, got {value!r}")
                values[option.name] = value
            elif option.name == "force_recovery_mode":
                if value not in ("", "stream", "cache"):
                    raise ConfigError(f'{key} must be "stream" or "cache", got {value!r}')
                values[option.name] = value or "stream"
            else:
                if not isinstance(value, bool):
                    raise ConfigError(f"{key} must be true or false, got {value!r}")
                values[option.name] = value
        return cls(**values)


@dataclass(frozen=True)
class ClientOptions:
    ping_interval: float = 25.0
    pong_timeout: float = 8.0
    stale_close_delay: float = 10.0
    expired_close_delay: float = 25.0
    expired_sub_close_delay: float = 25.0
    channel_limit: int = 128
    history_max_publication_limit: int = 300
    recovery_max_publication_limit: int = 300
    insecure: bool = False
    allow_anonymous_connect_without_token: bool = False
    token_audience: str = ""
    token_issuer: str = ""


@dataclass(frozen=True)
class Config:
    without_namespace: ChannelOptions = field(default_factory=ChannelOptions)
    namespaces: Mapping[str, ChannelOptions] = field(default_factory=dict)
    client: ClientOptions = field(default_factory=ClientOptions)
    channel_max_length: int = 255
    private_prefix: str = "$"
    namespace_boundary: str = ":"
    api_insecure: bool = False
    api_transport_errors: bool = False

    def is_private(self, channel: str) -> bool:
        return channel.startswith(self.private_prefix)

    def channel_options(self, channel: str) -> ChannelOptions | None:
        """The options of the channel's namespace; None when that namespace is not configured."""
        name = channel.removeprefix(self.private_prefix)
        namespace, boundary, _ = name.partition(self.namespace_boundary)
        if not boundary:
            return self.without_namespace
        return self.namespaces.get(namespace)

    @classmethod
    def from_dict(cls, raw: Any) -> Config:
        if not isinstance(raw, Mapping):
            raise ConfigError("the Centrifugo configuration must be a JSON object")
        if "channel" in raw:  # v6
            channel = raw["channel"]
            if not isinstance(channel, Mapping):
                raise ConfigError("channel must be an object")
            client, http_api = _section(raw, "client"), _section(raw, "http_api")
            without_ns = ChannelOptions.from_dict(channel.get("without_namespace") or {}, "channel.without_namespace")
            namespaces_raw, ns_where = channel.get("namespaces") or [], "channel.namespaces"
            token = _section(client, "token", "client.")
            client_options = _client_options(client, "client", token.get("audience", ""), token.get("issuer", ""))
            max_length, prefix = channel.get("max_length", 255), channel.get("private_prefix", "$")
            boundary = channel.get("namespace_boundary", ":")
            api_insecure, error_mode = http_api.get("insecure", False), http_api.get("error_mode", "")
        else:  # v5: channel options, namespaces and client options at the top level
            without_ns = ChannelOptions.from_dict(raw, "(top level)")
            namespaces_raw, ns_where = raw.get("namespaces") or [], "namespaces"
            client_options = _client_options(raw, "(top level)", raw.get("token_audience", ""), "")
            max_length, prefix, boundary = raw.get("channel_max_length", 255), "$", ":"
            api_insecure, error_mode = raw.get("api_insecure", False), raw.get("api_error_mode", "")
        if not isinstance(namespaces_raw, list):
            raise ConfigError(f"{ns_where} must be an array of objects with a name")
        namespaces: dict[str, ChannelOptions] = {}
        for i, item in enumerate(namespaces_raw):
            where = f"{ns_where}[{i}]"
            name = item.get("name") if isinstance(item, Mapping) else None
            if not isinstance(name, str) or not _NAMESPACE_NAME.match(name):
                raise ConfigError(f"{where}.name must match ^[-a-zA-Z0-9_]{{2,}}$, got {name!r}")
            if name in namespaces:
                raise ConfigError(f"{where}.name {name!r} is configured twice")
            namespaces[name] = ChannelOptions.from_dict(item, f"{where} ({name})")
        if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 0:
            raise ConfigError(f"channel max length must be a non-negative integer, got {max_length!r}")
        if error_mode not in ("", "transport"):
            raise ConfigError(f'http_api.error_mode must be "transport" or empty, got {error_mode!r}')
        return cls(
            without_namespace=without_ns,
            namespaces=namespaces,
            client=client_options,
            channel_max_length=max_length,
            private_prefix=str(prefix),
            namespace_boundary=str(boundary),
            api_insecure=bool(api_insecure),
            api_transport_errors=error_mode == "transport",
        )


def _section(raw: Mapping[str, Any], name: str, parent: str = "") -> Mapping[str, Any]:
    value = raw.get(name) or {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{parent}{name} must be an object")
    return value


def _client_options(raw: Any, where: str, audience: Any, issuer: Any) -> ClientOptions:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be an object")
    defaults = ClientOptions()
    values: dict[str, Any] = {"token_audience": str(audience or ""), "token_issuer": str(issuer or "")}
    for name in ("ping_interval", "pong_timeout", "stale_close_delay", "expired_close_delay",
                 "expired_sub_close_delay"):  # fmt: skip
        if name in raw:
            values[name] = max(parse_duration(raw[name], f"{where}.{name}"), 0.0)
    for name in ("channel_limit", "history_max_publication_limit", "recovery_max_publication_limit"):
        value = raw.get(name, raw.get(f"client_{name}", getattr(defaults, name)))
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{where}.{name} must be a non-negative integer, got {value!r}")
        values[name] = value
    for name in ("insecure", "allow_anonymous_connect_without_token"):
        value = raw.get(name, raw.get(f"client_{name}", False))
        if not isinstance(value, bool):
            raise ConfigError(f"{where}.{name} must be true or false, got {value!r}")
        values[name] = value
    return ClientOptions(**values)


def load_config(path: str | Path | None) -> Config:
    """The configuration in the JSON file at ``path``, or :data:`DEFAULT_CONFIG` when None."""
    if path is None:
        return Config.from_dict(DEFAULT_CONFIG)
    try:
        raw = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read the Centrifugo configuration {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"the Centrifugo configuration {path} is not valid JSON: {exc}") from None
    return Config.from_dict(raw)

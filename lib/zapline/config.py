"""Settings: read once from the environment (and ``.env`` for local use), validated eagerly.

A plain pydantic model rather than pydantic-settings: the latter costs ~120 ms of import on every
cold start for what is, here, a dictionary lookup. Every field's alias is its environment variable
and its description says what it expects, so a bad setting fails with a message naming both.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from zapline.errors import ConfigError

__all__ = ["Settings", "get_settings", "load_settings", "read_env_file"]


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")) or len(value) < 10:
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")


def _ws_url(value: str) -> str:
    if not value.startswith(("ws://", "wss://")):
        raise ValueError("must be a ws:// or wss:// URL")
    return value


def _rate(value: str) -> str:
    count, _, period = value.partition("/")
    if not count.strip().isdigit() or int(count) < 1 or not period.strip() or not period.strip()[:-1].isdigit():
        raise ValueError("must look like 20/1s, 30/60s or 100/1m (messages per period)")
    if period.strip()[-1] not in "smhd":
        raise ValueError("period unit must be s, m, h or d")
    return value.replace(" ", "")


def _seconds_list(value: str) -> str:
    try:
        steps = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise ValueError("must be comma-separated whole seconds, e.g. 3600,86400,259200") from None
    if any(s <= 0 for s in steps) or steps != sorted(steps):
        raise ValueError("must be positive and increasing")
    return value


def _secret(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
WsUrl = Annotated[str, AfterValidator(_ws_url)]
Secret = Annotated[str, AfterValidator(_secret)]
Rate = Annotated[str, AfterValidator(_rate)]
SecondsList = Annotated[str, AfterValidator(_seconds_list)]


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", hide_input_in_errors=True)

    app_url: HttpUrl = Field(
        alias="APP_URL",
        description="public base URL of this deployment, e.g. https://zapline.example.com; QStash signs "
        "deliveries for APP_URL + path, so it must be the URL QStash calls",
    )
    upstash_redis_rest_url: HttpUrl = Field(
        alias="UPSTASH_REDIS_REST_URL", description="Upstash Redis REST URL, e.g. https://eu1-x.upstash.io"
    )
    upstash_redis_rest_token: Secret = Field(alias="UPSTASH_REDIS_REST_TOKEN", description="Upstash Redis REST token")
    qstash_url: HttpUrl = Field("https://qstash.upstash.io", alias="QSTASH_URL", description="QStash API base URL")
    qstash_token: Secret = Field(alias="QSTASH_TOKEN", description="QStash token, for publishing")
    qstash_current_signing_key: Secret = Field(
        alias="QSTASH_CURRENT_SIGNING_KEY", description="QStash current signing key (sig_...)"
    )
    qstash_next_signing_key: Secret = Field(
        alias="QSTASH_NEXT_SIGNING_KEY", description="QStash next signing key (sig_...)"
    )
    centrifugo_api_url: HttpUrl = Field(
        alias="CENTRIFUGO_API_URL", description="Centrifugo server API URL including /api"
    )
    centrifugo_api_key: Secret = Field(alias="CENTRIFUGO_API_KEY", description="Centrifugo HTTP API key")
    centrifugo_token_hmac_secret: Secret = Field(
        alias="CENTRIFUGO_TOKEN_HMAC_SECRET",
        description="Centrifugo HMAC secret used to mint connection and subscription tokens",
    )
    centrifugo_ws_url: WsUrl | None = Field(
        None, alias="CENTRIFUGO_WS_URL", description="Centrifugo WebSocket URL given to live inboxes"
    )
    http_timeout: float = Field(
        10.0, alias="ZAPLINE_HTTP_TIMEOUT", gt=0, le=60, description="seconds allowed for each outgoing call"
    )
    max_payload_bytes: int = Field(
        512 * 1024, alias="ZAPLINE_MAX_PAYLOAD_BYTES", ge=1024, description="largest webhook body accepted"
    )
    send_rate_realtime: Rate = Field(
        "20/1s", alias="ZAPLINE_SEND_RATE_REALTIME", description="operator and AI replies per instance, e.g. 20/1s"
    )
    send_rate_automation: Rate = Field(
        "30/1m", alias="ZAPLINE_SEND_RATE_AUTOMATION", description="follow-ups, NPS, birthdays per instance"
    )
    send_rate_bulk: Rate = Field(
        "100/1m", alias="ZAPLINE_SEND_RATE_BULK", description="campaign messages per instance, e.g. 100/1m"
    )
    followup_after: SecondsList = Field(
        "3600,86400,259200",
        alias="ZAPLINE_FOLLOWUP_AFTER",
        description="default follow-up steps: seconds of lead silence after our last message, increasing",
    )
    nps_delay: int = Field(60, alias="ZAPLINE_NPS_DELAY", ge=0, description="seconds from close to the NPS survey")
    nps_expiry: int = Field(
        86400, alias="ZAPLINE_NPS_EXPIRY", ge=60, description="seconds an unanswered NPS survey stays open"
    )
    opt_out_keywords: str = Field(
        "PARAR,STOP,SAIR,CANCELAR,DESCADASTRAR",
        alias="ZAPLINE_OPT_OUT_KEYWORDS",
        description="comma-separated words that, sent alone by a lead, opt them out of automated messages",
    )
    retention_batch: int = Field(
        500, alias="ZAPLINE_RETENTION_BATCH", ge=10, le=5000,
        description="messages (and dead letters, conversations indexed) the retention job handles per round; "
        "more waits for the next round, a job of its own",
    )  # fmt: skip
    retention_alias_sweep_after: int = Field(
        1000, alias="ZAPLINE_RETENTION_ALIAS_SWEEP_AFTER", ge=1,
        description="aliases of deleted messages (their edits and reactions) an organisation accrues before the "
        "retention job scans for them",
    )  # fmt: skip
    openai_base_url: HttpUrl = Field(
        "https://api.openai.com/v1", alias="OPENAI_BASE_URL", description="OpenAI API base URL, ending in /v1"
    )
    openai_api_key: Annotated[str | None, BeforeValidator(lambda v: v or None)] = Field(
        None, alias="OPENAI_API_KEY", description="OpenAI API key (sk-...); unset: AI jobs are refused with that reason"
    )
    ai_model: str = Field(
        "gpt-4o-mini", alias="ZAPLINE_AI_MODEL", min_length=1, description="default chat model for replies"
    )
    ai_vision_model: str = Field(
        "gpt-4o-mini", alias="ZAPLINE_AI_VISION_MODEL", min_length=1, description="model reading images and documents"
    )
    ai_transcribe_model: str = Field(
        "whisper-1", alias="ZAPLINE_AI_TRANSCRIBE_MODEL", min_length=1, description="model transcribing voice notes"
    )
    ai_debounce_seconds: int = Field(
        4, alias="ZAPLINE_AI_DEBOUNCE", ge=0, le=120,
        description="seconds an AI reply waits for the lead's next message, so quick messages get one answer",
    )  # fmt: skip
    ai_daily_token_budget: int = Field(
        200_000, alias="ZAPLINE_AI_DAILY_TOKENS", ge=0,
        description="default tokens per organisation per local day before its AI pauses (each may set its own)",
    )  # fmt: skip
    ai_models: str = Field(
        "gpt-4o-mini,gpt-4o", alias="ZAPLINE_AI_MODELS", min_length=1,
        description="comma-separated chat models an organisation may pick (PUT /api/v1/ai); ZAPLINE_AI_MODEL always",
    )  # fmt: skip
    ai_max_daily_tokens: int = Field(
        2_000_000, alias="ZAPLINE_AI_MAX_DAILY_TOKENS", ge=0,
        description="the most tokens a day an organisation may give itself (the deployment pays OpenAI)",
    )  # fmt: skip
    ai_max_media_bytes: int = Field(
        10 * 1024 * 1024, alias="ZAPLINE_AI_MAX_MEDIA_BYTES", ge=1024, le=50 * 1024 * 1024,
        description="largest image, voice note or document the AI downloads",
    )  # fmt: skip
    clock_url: HttpUrl | None = Field(
        None,
        alias="ZAPLINE_CLOCK_URL",
        description='sandbox only: a URL answering {"now": <unix ms>} that the hourly tick and campaign windows go by '
        "instead of the function's clock (the sandbox QStash's /_sandbox/clock, so moving its clock moves local "
        "times); unset in production",
    )
    allow_private_media_urls: bool = Field(
        False,
        alias="ZAPLINE_ALLOW_PRIVATE_MEDIA_URLS",
        description="true or false: accept media URLs on loopback, private or link-local addresses (sandbox only)",
    )
    admin_token: Annotated[str | None, BeforeValidator(lambda v: v or None)] = Field(
        None,
        alias="ZAPLINE_ADMIN_TOKEN",
        min_length=32,
        description="platform admin token for deployment-wide operator calls (schedules); at least 32 characters; "
        "unset: those calls are refused",
    )
    log_format: str = Field(
        "auto",
        alias="ZAPLINE_LOG_FORMAT",
        pattern="^(auto|json|text)$",
        description="auto, json or text (auto: readable lines on a terminal, JSON lines otherwise)",
    )
    log_level: str = Field(
        "INFO", alias="ZAPLINE_LOG_LEVEL", pattern="^(DEBUG|INFO|WARNING|ERROR)$", description="log level"
    )


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a ``.env`` file: ``KEY=value`` lines, ``#`` comments, optional quotes, ``export`` prefix."""
    values: dict[str, str] = {}
    try:
        text = path.read_text()
    except FileNotFoundError:
        return values
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key.strip()] = value
    return values


def _describe(error: ValidationError) -> str:
    fields = Settings.model_fields
    by_alias = {f.alias: f for f in fields.values()}
    lines = []
    for item in error.errors():
        name = str(item["loc"][0]) if item["loc"] else "?"
        field = by_alias.get(name)
        expected = field.description if field else ""
        problem = "missing" if item["type"] == "missing" else item["msg"].removeprefix("Value error, ")
        lines.append(f"  {name}: {problem} (expected: {expected})")
    return "Zapline settings are invalid; see .env.example:\n" + "\n".join(lines)


def load_settings(environ: dict[str, str] | None = None, env_file: Path | None = Path(".env")) -> Settings:
    """Build settings from ``env_file`` overlaid by ``environ`` (default: ``os.environ``)."""
    source = {**(read_env_file(env_file) if env_file else {}), **(os.environ if environ is None else environ)}
    names = {f.alias for f in Settings.model_fields.values()}
    try:
        return Settings.model_validate({k: v for k, v in source.items() if k in names and v != ""})
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, loaded and validated on first use."""
    return load_settings()

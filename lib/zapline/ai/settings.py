"""An organisation's AI settings (``GET``/``PUT /api/v1/ai``), stored as JSON in the org hash.

The inbound path never reads them: whether the AI is on is mirrored as the field ``ai`` of every
instance hash, which the ingest script reads anyway (so the check costs no Redis command).
"""

from __future__ import annotations

import json
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from zapline.clients import redis_client
from zapline.config import get_settings
from zapline.errors import BadRequest
from zapline.store.keys import OrgKeys
from zapline.store.scripts import run_redis

__all__ = [
    "AI_FIELD",
    "AiSettings",
    "BusinessHours",
    "ai_settings",
    "allowed_models",
    "chat_model",
    "check_allowed",
    "daily_budget",
    "instance_flag",
    "save_ai_settings",
]

AI_FIELD = "ai"  # org hash: the settings as JSON; instance hash: the reply debounce (seconds) while the AI is on
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class BusinessHours(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: list[Day] = Field(default_factory=lambda: list[Day](["mon", "tue", "wed", "thu", "fri"]), max_length=7)
    opens: str = Field("09:00", description="HH:MM, the organisation's local time")
    closes: str = Field("18:00", description="HH:MM, the organisation's local time")

    @field_validator("opens", "closes")
    @classmethod
    def _time(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError("must be HH:MM (00:00-23:59)")
        return value


class AiSettings(BaseModel):
    """What the AI may do for the organisation and what it knows. Defaults: off."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(False, description="answer leads, read their media, learn from closed conversations")
    model: str | None = Field(
        None,
        max_length=60,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="one ZAPLINE_AI_MODELS allows; unset: the default",
    )
    persona: str = Field(
        "Você é a assistente virtual da empresa no WhatsApp. Responda em português do Brasil, com frases curtas, "
        "cordiais e objetivas.",
        max_length=2000,
        description="instructions: who the AI is and how it writes",
    )
    business_facts: str = Field("", max_length=8000, description="what the AI may tell leads: products, prices")
    business_hours: BusinessHours = Field(default_factory=BusinessHours)
    handoff_rules: list[str] = Field(
        default_factory=lambda: ["o cliente pede para falar com uma pessoa", "reclamação, cancelamento ou reembolso"],
        max_length=20,
        description="when to hand the conversation to a human (the model calls its hand_off tool)",
    )
    analyze_media: bool = Field(True, description="read images, voice notes and documents")
    owner_assistant: bool = Field(True, description="answer the owner in the instance's own chat")
    debounce_seconds: int | None = Field(
        None, ge=0, le=120, description="seconds a reply waits for the lead's next message; unset: ZAPLINE_AI_DEBOUNCE"
    )
    daily_token_budget: int | None = Field(
        None,
        ge=0,
        le=100_000_000,
        description="tokens per local day (at most ZAPLINE_AI_MAX_DAILY_TOKENS); unset: ZAPLINE_AI_DAILY_TOKENS",
    )

    @field_validator("handoff_rules")
    @classmethod
    def _rules(cls, rules: list[str]) -> list[str]:
        if any(len(rule) > 300 or not rule.strip() for rule in rules):
            raise ValueError("each rule is 1 to 300 characters")
        return rules


def allowed_models() -> list[str]:
    """The chat models an organisation may pick: the deployment pays for them (``ZAPLINE_AI_MODELS``)."""
    settings = get_settings()
    listed = [m.strip() for m in settings.ai_models.split(",") if m.strip()]
    return list(dict.fromkeys([settings.ai_model, *listed]))


def chat_model(settings: AiSettings) -> str:
    """The organisation's model while the deployment still allows it, else the deployment's default."""
    return settings.model if settings.model in allowed_models() else get_settings().ai_model


def daily_budget(settings: AiSettings) -> int:
    """Tokens a day: the organisation's own, never past the deployment's ``ZAPLINE_AI_MAX_DAILY_TOKENS``."""
    deployment = get_settings()
    own = deployment.ai_daily_token_budget if settings.daily_token_budget is None else settings.daily_token_budget
    return min(own, deployment.ai_max_daily_tokens)


def check_allowed(settings: AiSettings) -> None:
    """What an owner may not choose on this deployment: ``BadRequest`` naming the field and the limit."""
    if settings.model is not None and settings.model not in allowed_models():
        raise BadRequest(f"model: this deployment allows {', '.join(allowed_models())}")
    ceiling = get_settings().ai_max_daily_tokens
    if settings.daily_token_budget is not None and settings.daily_token_budget > ceiling:
        raise BadRequest(f"daily_token_budget: at most {ceiling} on this deployment")


def instance_flag(settings: AiSettings) -> str | None:
    """The instance hash's ``ai`` field: present (the reply debounce, seconds) while the AI is on."""
    if not settings.enabled:
        return None
    debounce = settings.debounce_seconds
    return str(get_settings().ai_debounce_seconds if debounce is None else debounce)


async def ai_settings(org_id: str) -> AiSettings:
    raw = await run_redis(redis_client().hget(OrgKeys(org_id).org, AI_FIELD))
    return AiSettings.model_validate_json(raw) if raw else AiSettings()


async def save_ai_settings(org_id: str, settings: AiSettings) -> AiSettings:
    """Store them, and mirror ``enabled`` on every instance of the organisation (one pipeline)."""
    keys = OrgKeys(org_id)
    redis = redis_client()
    instance_ids = list((await run_redis(redis.hgetall(keys.instances)) or {}).values())
    pipe = redis.pipeline()
    pipe.hset(keys.org, AI_FIELD, json.dumps(settings.model_dump(mode="json"), ensure_ascii=False))
    flag = instance_flag(settings)
    for instance_id in instance_ids:
        if flag is not None:
            pipe.hset(keys.instance(instance_id), AI_FIELD, flag)
        else:
            pipe.hdel(keys.instance(instance_id), AI_FIELD)
    await run_redis(pipe.exec())
    return settings

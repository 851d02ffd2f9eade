"""Tokens per organisation per local day, and the daily budget that pauses the AI past it.

Counted in the day's counters (``GET /api/v1/stats/daily``): ``ai_tokens`` (the budget's measure),
``ai_tokens:<purpose>``, ``ai_calls`` and ``ai_replies``. Past the budget every AI job of the
organisation stops before calling the model until the local day turns, and the owner is told once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from zapline.clients import redis_client
from zapline.errors import RecordMissing
from zapline.logs import get_logger
from zapline.store.clock import org_day
from zapline.store.keys import DAILY_COUNTER_TTL, OrgKeys
from zapline.store.scripts import run_redis

if TYPE_CHECKING:
    from zapline.ai.settings import AiSettings

__all__ = ["AI_PURPOSES", "Budget", "budget_exhausted", "budget_left", "charge"]

log = get_logger("zapline.ai.budget")

AI_PURPOSES = ("reply", "assistant", "image", "audio", "document", "learn")


@dataclass(frozen=True)
class Budget:
    day: str
    used: int
    limit: int

    @property
    def exhausted(self) -> bool:
        return self.used >= self.limit


async def budget_left(org_id: str, limit: int) -> Budget:
    """Today's use against the organisation's budget (``limit``: ``ai.settings.daily_budget``)."""
    day = await org_day(org_id)
    used = await run_redis(redis_client().hget(OrgKeys(org_id).daily(day), "ai_tokens"))
    return Budget(day, int(used or 0), limit)


async def budget_exhausted(org_id: str, settings: AiSettings) -> bool:
    """Past today's budget: the owner is told once a day; nothing calls the model."""
    from zapline.ai.settings import daily_budget  # AI jobs only: the metrics route reads AI_PURPOSES
    from zapline.owner import message_owner

    budget = await budget_left(org_id, daily_budget(settings))
    if not budget.exhausted:
        return False
    text = (f"A IA atingiu o limite diário de {budget.limit:,} tokens ({budget.used:,} usados) e está pausada até "
            "amanhã. Ajuste o limite em Configurações > IA se precisar.").replace(",", ".")  # fmt: skip
    try:
        await message_owner(org_id, text, key=f"ai-budget-{budget.day}", cause="ai_budget")
    except RecordMissing:
        log.warning("AI budget exhausted; no owner number to tell", org=org_id, day=budget.day)
    return True


async def charge(org_id: str, purpose: str, tokens: int, *, replies: int = 0) -> int:
    """Count one model call's tokens on today's counters; return today's total."""
    day = await org_day(org_id)
    key = OrgKeys(org_id).daily(day)
    pipe = redis_client().pipeline()
    pipe.hincrby(key, "ai_tokens", tokens)
    pipe.hincrby(key, f"ai_tokens:{purpose}", tokens)
    pipe.hincrby(key, "ai_calls", 1)
    if replies:
        pipe.hincrby(key, "ai_replies", replies)
    pipe.expire(key, DAILY_COUNTER_TTL)
    total, *_ = await run_redis(pipe.exec())
    return int(total)

"""The conversation loop without workers: follow-ups, closing, NPS surveys and opt-out.

Each timer is a delayed QStash message. Follow-up steps carry the conversation's follow-up
*epoch*; anything that should stop the chain (the lead writes, we write again, the conversation
closes, the lead opts out) moves the epoch and cancels the armed step. A step that fires anyway
(the cancel lost a race, or failed) sees a different epoch and does nothing.
"""

from __future__ import annotations

import json
from typing import Any

from zapline.clients import redis_client
from zapline.config import get_settings
from zapline.errors import BadRequest, PermanentError, QueueUnavailable
from zapline.jobs.kinds import FOLLOWUP, LEARN, NPS, FollowupJob, LearnJob, NpsJob
from zapline.keywords import nps_score, opt_out_keyword
from zapline.logs import get_logger
from zapline.outbound import queue_message
from zapline.publications import conversation_updated, publish
from zapline.qstash import cancel_quietly
from zapline.registry.jobs import enqueue
from zapline.store import outbound as store
from zapline.store import sweep
from zapline.store.keys import OrgKeys, timer_member
from zapline.store.scripts import run_redis

__all__ = [
    "close_conversation",
    "operator_reply",
    "followup_steps",
    "nps_score",
    "opt_out",
    "opt_out_keyword",
    "schedule_followup",
    "set_followup_steps",
]

log = get_logger("zapline.automation")

DEFAULT_TEXTS = (
    "Oi {name}! Conseguiu ver minha última mensagem? Fico à disposição. 🙂",
    "{name}, passando para saber se posso ajudar em algo mais.",
    "Última mensagem por aqui, {name}: quando quiser retomar, é só responder. Até breve!",
)
NPS_QUESTION = "De 0 a 10, quanto você recomendaria nosso atendimento a um amigo?"
NPS_CHOICES = [str(n) for n in range(11)]


# --- follow-ups ---------------------------------------------------------------------------------


async def followup_steps(org_id: str) -> list[dict[str, Any]]:
    raw = await run_redis(redis_client().hget(OrgKeys(org_id).org, "followups"))
    if raw:
        steps: list[dict[str, Any]] = json.loads(raw)
        return steps
    after = [int(s) for s in get_settings().followup_after.split(",") if s.strip()]
    return [{"after_seconds": s, "text": DEFAULT_TEXTS[min(i, len(DEFAULT_TEXTS) - 1)]} for i, s in enumerate(after)]


async def set_followup_steps(org_id: str, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    clean: list[dict[str, Any]] = []
    for step in steps:
        after, text = step.get("after_seconds"), step.get("text")
        if not isinstance(after, int) or after <= 0 or not isinstance(text, str) or not text.strip():
            raise BadRequest("each step needs after_seconds (a positive integer) and a non-empty text")
        clean.append({"after_seconds": after, "text": text})
    delays = [int(s["after_seconds"]) for s in clean]
    if delays != sorted(set(delays)):
        raise BadRequest("after_seconds must increase from one step to the next")
    await run_redis(redis_client().hset(OrgKeys(org_id).org, "followups", json.dumps(clean, ensure_ascii=False)))
    return clean


async def schedule_followup(org_id: str, conversation_id: str, epoch: int, step: int) -> str | None:
    """Publish follow-up ``step`` (0-based) of the chain started at ``epoch``, and arm it."""
    steps = await followup_steps(org_id)
    if step >= len(steps):
        if step == 0:  # no steps at all: nothing to arm
            await sweep.confirm_timer(org_id, timer_member("fu", conversation_id, epoch))
        return None
    previous = steps[step - 1]["after_seconds"] if step else 0
    job = FollowupJob(org_id=org_id, conversation_id=conversation_id, epoch=epoch, step=step)
    qstash_id = await enqueue(FOLLOWUP, job, delay=steps[step]["after_seconds"] - previous)
    armed = await store.arm_followup(org_id, conversation_id, epoch=epoch, step=step, qstash_id=qstash_id)
    if isinstance(armed, store.Stale):  # the lead answered while we were publishing
        await cancel_quietly(qstash_id)
        return None
    return qstash_id


async def operator_reply(org_id: str, conversation_id: str, **message: Any) -> dict[str, Any]:
    """Queue an operator's message in the realtime lane and restart the follow-up chain from it."""
    created = await queue_message(org_id, conversation_id, lane="realtime", restart_followups=True, **message)
    if created.followup_epoch is not None:
        await cancel_quietly(created.cancel)
        try:
            await schedule_followup(org_id, conversation_id, created.followup_epoch, 0)
        except QueueUnavailable as exc:  # the reply is queued; its follow-ups wait for the sweeper
            log.warning("follow-ups not scheduled yet", org=org_id, conversation=conversation_id, error=exc.message)
            await sweep.mark(org_id)
        except PermanentError as exc:  # QStash refuses the timer (e.g. a delay past its plan's maximum)
            log.error("follow-ups refused by QStash", org=org_id, conversation=conversation_id, error=exc.message)
            await sweep.confirm_timer(org_id, timer_member("fu", conversation_id, created.followup_epoch))
    return created.message


# --- closing and NPS ----------------------------------------------------------------------------


async def close_conversation(org_id: str, conversation_id: str) -> dict[str, Any]:
    closed = await store.close(org_id, conversation_id, nps=True)
    await cancel_quietly(closed.cancel)
    # a repeated close re-publishes a survey the first one stored but could not queue (deduplicated)
    if closed.nps or closed.conversation.get("nps_state") == "scheduled":
        await schedule_nps(org_id, conversation_id)
    if not closed.already:
        await publish_conversation(org_id, conversation_id, "closed")
        await _learn(org_id, conversation_id)
    return closed.conversation


async def _learn(org_id: str, conversation_id: str) -> None:
    """The AI's lessons from the closed conversation (``ai/learn.py``), when the AI is on."""
    from zapline.ai.settings import ai_settings

    if not (await ai_settings(org_id)).enabled:
        return
    try:
        await enqueue(LEARN, LearnJob(org_id=org_id, conversation_id=conversation_id))
    except QueueUnavailable as exc:  # a lesson is not worth failing the close over
        log.warning("learning not queued", org=org_id, conversation=conversation_id, error=exc.message)


async def schedule_nps(org_id: str, conversation_id: str) -> None:
    """Publish the survey's job; if QStash is down, the sweeper publishes it later."""
    job = NpsJob(org_id=org_id, conversation_id=conversation_id, action="send")
    try:
        await enqueue(NPS, job, delay=get_settings().nps_delay)
    except QueueUnavailable as exc:
        log.warning("survey not scheduled yet; the sweeper will", org=org_id, conversation=conversation_id,
                    error=exc.message)  # fmt: skip
        await sweep.mark(org_id)
        return
    await sweep.confirm_timer(org_id, timer_member("nps", conversation_id))


async def send_nps_survey(org_id: str, conversation_id: str) -> str:
    claim = await store.claim_nps(org_id, conversation_id)
    if not claim.send:
        return f"skipped ({claim.state})"
    survey = await queue_message(
        org_id,
        conversation_id,
        kind="poll",
        text=NPS_QUESTION,
        choices=NPS_CHOICES,
        lane="automation",
        message_id=f"msg_nps_{conversation_id}",
        author="nps",
    )
    # the expiry before "sent": a retry after a crash in between still finds the state "sending"
    expire = NpsJob(org_id=org_id, conversation_id=conversation_id, action="expire")
    await enqueue(NPS, expire, delay=get_settings().nps_expiry)
    await store.mark_nps_sent(org_id, conversation_id, survey.message["id"])
    await publish_conversation(org_id, conversation_id, "awaiting_nps")
    return "sent"


async def expire_nps_survey(org_id: str, conversation_id: str) -> str:
    if await store.expire_nps(org_id, conversation_id):
        await publish_conversation(org_id, conversation_id, "closed")
        return "expired"
    return "skip"


async def publish_conversation(org_id: str, conversation_id: str, status: str) -> None:
    await publish(conversation_updated(org_id, conversation_id, status))


async def opt_out(org_id: str, lead_id: str, reason: str = "operator") -> None:
    opted = await store.opt_out(org_id, lead_id, reason=reason)
    for message_id in opted.cancel:
        await cancel_quietly(message_id)

"""jobs/ai-reply: answer a lead, once, unless a human has the conversation.

One job per lead message, published with a debounce and a per-conversation flow-control key
(parallelism 1): a job whose trigger is no longer the lead's latest message steps aside for the
later one, so three quick messages get one answer. The answer's id follows from the trigger's
(``msg_ai_…``), and an existing answer ends the job before the model is called: a retried or
duplicated job never sends twice nor pays twice.

Never in groups, to opted-out leads, while awaiting an NPS answer (the conversation is not open),
or where a human took over (``ai_paused``: an operator's reply, the model's ``hand_off``, or the
API's takeover); the API resumes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from zapline.ai import knowledge, prompts
from zapline.ai import store as ai_store
from zapline.ai.budget import budget_exhausted, charge
from zapline.ai.client import chat
from zapline.ai.settings import ai_settings, chat_model
from zapline.automation import operator_reply
from zapline.errors import PermanentError, QueueUnavailable
from zapline.http import Delivery
from zapline.jobs.kinds import AI_FOLLOWUP, AiFollowupJob, AiReplyJob
from zapline.logs import get_logger
from zapline.outbound import queue_message
from zapline.publications import conversation_updated, publish
from zapline.registry.jobs import enqueue
from zapline.store.clock import org_timezone
from zapline.store.leads import LeadChanges, update_lead

__all__ = ["TOOLS", "followup", "reply"]

log = get_logger("zapline.ai.reply")

MAX_ROUNDS = 3  # model calls per reply: an answer, or tool calls then an answer
HISTORY = 20


class HandOff(BaseModel):
    """Hand the conversation to a human: the AI stops answering it until an operator resumes it."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=300)


class ScheduleFollowup(BaseModel):
    """Write to the lead later, if they have not written by then."""

    model_config = ConfigDict(extra="forbid")
    after_hours: float = Field(ge=1, le=168, description="1 to 168 hours (QStash's longest delay on its smallest plan)")
    text: str = Field(min_length=1, max_length=1000)


class UpdateLead(BaseModel):
    """Record what the lead told about themselves."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=100)
    email: str | None = Field(None, max_length=254)
    birthday: str | None = Field(None, description="YYYY-MM-DD, or --MM-DD without the year")
    tags: list[str] | None = Field(None, max_length=10)


def _tool(name: str, model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema.pop("title", None)
    return {"type": "function", "function": {"name": name, "description": model.__doc__ or name,
                                             "parameters": schema}}  # fmt: skip


TOOLS = [_tool("hand_off", HandOff), _tool("schedule_followup", ScheduleFollowup), _tool("update_lead", UpdateLead)]


@dataclass
class Turn:
    """What the model's tool calls decided, applied after the answer is queued."""

    handed_off: str | None = None
    followup: ScheduleFollowup | None = None
    lead_updated: list[str] = field(default_factory=list)


def reply_id(trigger: str) -> str:
    return "msg_ai_" + trigger.removeprefix("msg_")


async def _run_tool(org_id: str, lead_id: str | None, name: str, arguments: str, turn: Turn) -> str:
    """Validate and apply one tool call; the answer goes back to the model (an invalid call too)."""
    try:
        if name == "hand_off":
            turn.handed_off = HandOff.model_validate_json(arguments).reason
            return "ok: a human will take over"
        if name == "schedule_followup":
            turn.followup = ScheduleFollowup.model_validate_json(arguments)
            return f"ok: follow-up in {turn.followup.after_hours:g} h unless the lead writes"
        if name == "update_lead":
            wanted = UpdateLead.model_validate_json(arguments)
            if not lead_id:
                return "error: no lead in this conversation"
            changes = LeadChanges.model_validate(wanted.model_dump(exclude_none=True))
            await update_lead(org_id, lead_id, changes, source="ai")
            turn.lead_updated = sorted(changes.model_fields_set)
            return "ok: lead updated"
    except ValidationError as exc:
        first = exc.errors()[0]
        return f"error: {'.'.join(str(p) for p in first['loc']) or 'arguments'}: {first['msg']}"
    return f"error: no tool {name!r}"


def _latest_inbound(messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((m for m in reversed(messages) if m.get("direction") == "in"), None)


async def _stale(org_id: str, conversation_id: str, trigger: str) -> str | None:
    """Checked again after the model call: a human took over (an operator's reply, a takeover) or the
    lead wrote again — then this answer is dropped (the later message's own job answers it)."""
    conversation = await ai_store.conversation(org_id, conversation_id)
    if conversation.get(ai_store.PAUSED) or conversation.get("status") != "open":
        return "taken_over"
    latest = _latest_inbound([m for m in await ai_store.recent_messages(org_id, conversation_id, 10)
                              if m.get("kind") != "group_event"])  # fmt: skip
    return "superseded" if latest is not None and latest["id"] != trigger else None


async def reply(job: AiReplyJob, delivery: Delivery) -> dict[str, Any]:
    org_id, conversation_id = job.org_id, job.conversation_id
    settings = await ai_settings(org_id)
    if not settings.enabled:
        return {"outcome": "skipped", "reason": "ai_disabled"}
    conversation = await ai_store.conversation(org_id, conversation_id)
    if conversation.get("is_group") == "1":
        return {"outcome": "skipped", "reason": "group"}
    if conversation.get("status") != "open":
        return {"outcome": "skipped", "reason": f"conversation {conversation.get('status')}"}
    if conversation.get(ai_store.PAUSED):
        return {"outcome": "skipped", "reason": f"paused ({conversation[ai_store.PAUSED]})"}
    lead = await ai_store.lead(org_id, conversation.get("lead_id"))
    if lead.get("opted_out") == "1":
        return {"outcome": "skipped", "reason": "opted_out"}
    answer_id = reply_id(job.trigger)
    messages = await ai_store.recent_messages(org_id, conversation_id, HISTORY)
    if any(m["id"] == answer_id for m in messages):
        return {"outcome": "already_answered", "message_id": answer_id}
    spoken = [m for m in messages if m.get("kind") != "group_event"]
    latest_in = _latest_inbound(spoken)
    if latest_in is None or latest_in["id"] != job.trigger:
        return {"outcome": "superseded", "reason": "the lead wrote again"}
    after = spoken[spoken.index(latest_in) + 1 :]
    if any(
        m.get("direction") == "out" and m.get("author") != "ai" for m in after
    ):  # the AI's own earlier answers don't count
        return {"outcome": "skipped", "reason": "a human answered"}
    if await budget_exhausted(org_id, settings):
        return {"outcome": "skipped", "reason": "budget_exhausted"}

    system = prompts.system_prompt(settings, await knowledge.approved(org_id), await org_timezone(org_id))
    chat_messages = [{"role": "system", "content": system}, prompts.facts_message(lead), *prompts.history(messages)]
    model = chat_model(settings)
    turn = Turn()
    text = ""
    for _ in range(MAX_ROUNDS):
        completion = await chat(org_id, "reply", model=model, messages=chat_messages, tools=TOOLS)
        if not completion.tool_calls:
            text = "" if completion.refusal else (completion.content or "").strip()
            break
        chat_messages.append(completion.raw_message)
        for call_id, name, arguments in completion.tool_calls:
            result = await _run_tool(org_id, conversation.get("lead_id"), name, arguments, turn)
            chat_messages.append({"role": "tool", "tool_call_id": call_id, "content": result})
    if not text and not turn.handed_off:
        turn.handed_off = "the model gave no answer"
    stale = await _stale(org_id, conversation_id, job.trigger)  # the model took seconds: is the answer still wanted?
    if stale:
        return {"outcome": stale, "reason": "the conversation moved on while the model answered"}
    answer: dict[str, Any] = {"outcome": "answered" if text else "handed_off", "message_id": answer_id}
    if turn.handed_off:  # before the answer goes: a retry after it would find the answer and stop
        await ai_store.pause_ai(org_id, conversation_id, "handoff")
    if text:
        if turn.followup or turn.handed_off:  # the model's own plan replaces the default follow-up chain
            created = await queue_message(org_id, conversation_id, text=text[:4096], lane="realtime",
                                          message_id=answer_id, author="ai")  # fmt: skip
            epoch = created.followup_epoch
        else:
            await operator_reply(org_id, conversation_id, text=text[:4096], message_id=answer_id, author="ai")
            epoch = None
        await charge(org_id, "reply", 0, replies=1)
        if turn.followup and not turn.handed_off:
            epoch = epoch if epoch is not None else int(conversation.get("followup_epoch") or 0)
            job_fu = AiFollowupJob(org_id=org_id, conversation_id=conversation_id, epoch=epoch,
                                   text=turn.followup.text)  # fmt: skip
            try:
                await enqueue(AI_FOLLOWUP, job_fu, delay=int(turn.followup.after_hours * 3600))
                answer["followup_in_hours"] = turn.followup.after_hours
            except (PermanentError, QueueUnavailable) as exc:  # the answer is out: never fail the job over it
                log.warning("AI follow-up not scheduled", org=org_id, conversation=conversation_id, error=exc.message)
                answer["followup_error"] = exc.message
    if turn.handed_off:
        await publish(conversation_updated(org_id, conversation_id, "open"))
        answer["handed_off"] = turn.handed_off
    if turn.lead_updated:
        answer["lead_updated"] = turn.lead_updated
    log.info("ai reply", org=org_id, conversation=conversation_id, qstash_message_id=delivery.message_id,
             outcome=answer["outcome"])  # fmt: skip
    return answer


async def followup(job: AiFollowupJob, delivery: Delivery) -> dict[str, Any]:
    """The model's follow-up: sent only while the lead stayed silent since it was scheduled."""
    conversation = await ai_store.conversation(job.org_id, job.conversation_id)
    if int(conversation.get("followup_epoch") or 0) != job.epoch:
        return {"outcome": "stale", "reason": "the lead wrote since"}
    if conversation.get("status") != "open" or conversation.get(ai_store.PAUSED):
        return {"outcome": "skipped", "reason": "conversation closed or taken over"}
    created = await queue_message(job.org_id, job.conversation_id, text=job.text, lane="automation",
                                  message_id=f"msg_aifu_{job.conversation_id[5:]}_{job.epoch}", author="ai",
                                  guard_epoch=job.epoch)  # fmt: skip
    return {"outcome": "queued", "message_id": created.message["id"]}

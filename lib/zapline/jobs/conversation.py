"""jobs/followup and jobs/nps: timers of the conversation loop (see zapline.automation)."""

from __future__ import annotations

import re
from typing import Any

from zapline import automation
from zapline.http import Delivery
from zapline.jobs.kinds import FollowupJob, NpsJob
from zapline.outbound import queue_message
from zapline.store.outbound import Fire, fire_followup

__all__ = ["followup", "nps"]


def _personal(template: str, name: str | None) -> str:
    """The template with the lead's first name; without a name, the sentence still reads well."""
    first = (name or "").strip().split(" ")[0]
    if first:
        return template.replace("{name}", first)
    text = re.sub(r"\s+([,!?.])", r"\1", template.replace("{name}", "")).lstrip(" ,")
    return " ".join(text.split())[:1].upper() + " ".join(text.split())[1:]


async def followup(job: FollowupJob, delivery: Delivery) -> dict[str, Any]:
    fire = await fire_followup(job.org_id, job.conversation_id, epoch=job.epoch)
    if not isinstance(fire, Fire):
        return {"outcome": "stale"}
    steps = await automation.followup_steps(job.org_id)
    if job.step >= len(steps):
        return {"outcome": "no_such_step"}
    queued = await queue_message(
        job.org_id,
        job.conversation_id,
        text=_personal(steps[job.step]["text"], fire.lead_name),
        lane="automation",
        message_id=f"msg_fu_{job.conversation_id}_{job.epoch}_{job.step}",
        author="followup",
        guard_epoch=job.epoch,  # not sent if the lead answers while it waits in its lane
    )
    await automation.schedule_followup(job.org_id, job.conversation_id, job.epoch, job.step + 1)
    return {"outcome": "sent", "step": job.step, "message_id": queued.message["id"]}


async def nps(job: NpsJob, delivery: Delivery) -> dict[str, Any]:
    if job.action == "send":
        return {"outcome": await automation.send_nps_survey(job.org_id, job.conversation_id)}
    return {"outcome": await automation.expire_nps_survey(job.org_id, job.conversation_id)}

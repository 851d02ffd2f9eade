"""High-priority notifications: at once to the owner's WhatsApp (``message_owner``, automation lane)
and live on the inbox channel (``owner.notification``).

| cause | when | at most once an hour per |
|---|---|---|
| ``urgent`` | a lead's message holds an urgent keyword ("urgente", "procon", …: configurable) | conversation |
| ``low_nps`` | a lead answers the NPS survey with 0–6 | conversation |
| ``send_failures`` | ``BURST`` sends of an instance failed within ``BURST_WINDOW_MS`` | instance |
| ``disconnected`` | UAZAPI reports the instance disconnected | instance |

The hourly limit is a marker per cause and subject (``SET NX EX 3600``) whose value names the trigger
(the lead's message, the hour): a retried delivery of the same trigger finds its own marker and queues
the owner message again under the same key, which sends it once.

The inbound path is hot: a lead's message costs nothing here unless it matches. The keyword check is
pure Python over the text, and each organisation's keyword list is cached in the warm function for
``automations.notifying.CACHE_SECONDS`` (one ``HGET`` a minute at most). This module imports nothing heavy.
"""

from __future__ import annotations

from typing import Any

from zapline.automations.notifying import notification_settings
from zapline.automations.words import fold
from zapline.clients import redis_client
from zapline.errors import RecordMissing, TransientError
from zapline.logs import get_logger
from zapline.publications import owner_notification, publish
from zapline.store.clock import now_ms
from zapline.store.ingest import IngestResult
from zapline.store.keys import NOTIFY_MARK_TTL, SEND_FAILURES_TTL, OrgKeys
from zapline.store.registry import InstanceRef
from zapline.store.scripts import run_redis
from zapline.uazapi.normalize import WhatsAppMessage

__all__ = ["after_inbound", "connection_changed", "send_failed"]

log = get_logger("zapline.notifications")

BURST = 5
BURST_WINDOW_MS = 10 * 60 * 1000
LOW_NPS = 6


async def _notify(org_id: str, cause: str, subject: str, trigger: str, text: str, *,
                  instance_id: str | None, about: dict[str, str]) -> bool:  # fmt: skip
    """Tell the owner, unless a notification of ``cause`` about ``subject`` went out this hour for
    another trigger. True when queued (again, for a retried trigger)."""
    redis = redis_client()
    mark = OrgKeys(org_id).notify_mark(cause, subject)
    claimed = await run_redis(redis.set(mark, trigger, nx=True, ex=NOTIFY_MARK_TTL))
    if not claimed and await run_redis(redis.get(mark)) != trigger:
        return False
    from zapline.owner import message_owner  # only when notifying: the job registry is not light

    key = f"notify-{cause}-{trigger}"
    for candidate in dict.fromkeys([instance_id, None]):  # that instance, else any with an owner number
        try:
            await message_owner(org_id, text, key=key, cause=f"notify:{cause}", instance_id=candidate)
            break
        except RecordMissing:
            continue
    else:
        log.warning("no owner number: notification shown live only", org=org_id, cause=cause)
    await publish(owner_notification(org_id, cause, text, key=key, about=about))
    log.info("owner notified", org=org_id, cause=cause, subject=subject)
    return True


def _quote(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def after_inbound(ref: InstanceRef, message: WhatsAppMessage, result: IngestResult) -> None:
    """A lead's stored message: urgent words, or a low NPS answer (a retried delivery included)."""
    stored = result.message
    if message.from_me or message.is_group or not stored or result.outcome not in ("stored", "duplicate"):
        return
    low_nps = result.nps_score is not None and result.nps_score <= LOW_NPS
    if not low_nps and not message.text:
        return
    enabled, urgent = await notification_settings(ref.org_id)
    if not enabled:
        return
    match = None if low_nps or urgent is None else urgent.search(fold(message.text))
    if not (low_nps or match):
        return
    who = message.contact_name or message.phone or "um cliente"
    conversation_id, message_id = str(stored["conversation_id"]), str(stored["id"])
    about = {"conversation_id": conversation_id, "message_id": message_id, "instance_id": ref.instance_id}
    if stored.get("lead_id"):
        about["lead_id"] = str(stored["lead_id"])
    if low_nps:
        text = f"⚠️ *NPS baixo*: {who} deu nota {result.nps_score} ao atendimento. Vale entrar em contato."
        await _notify(ref.org_id, "low_nps", conversation_id, message_id, text, instance_id=ref.instance_id,
                      about=about)  # fmt: skip
    elif match:
        text = f'🚨 *Mensagem urgente* de {who} ("{match.group(0)}"):\n"{_quote(message.text)}"'
        await _notify(ref.org_id, "urgent", conversation_id, message_id, text, instance_id=ref.instance_id,
                      about=about)  # fmt: skip


async def _instance_name(org_id: str, instance_id: str) -> str:
    name = await run_redis(redis_client().hget(OrgKeys(org_id).instance(instance_id), "name"))
    return str(name or instance_id)


async def connection_changed(ref: InstanceRef, status: str | None, reason: str | None) -> None:
    """UAZAPI's connection event: a disconnected instance is an emergency (no message in or out)."""
    if status != "disconnected" or not (await notification_settings(ref.org_id))[0]:
        return
    name = await _instance_name(ref.org_id, ref.instance_id)
    why = f" ({_quote(reason, 80)})" if reason else ""
    text = (f"🔌 *Instância desconectada*: {name} saiu do WhatsApp{why}. Reconecte para voltar a receber "
            "e enviar mensagens.")  # fmt: skip
    hour = str(now_ms() // 3_600_000)
    await _notify(ref.org_id, "disconnected", ref.instance_id, f"{ref.instance_id}-{hour}", text,
                  instance_id=await _connected_instance(ref.org_id, ref.instance_id),
                  about={"instance_id": ref.instance_id})  # fmt: skip


async def _connected_instance(org_id: str, instead_of: str) -> str | None:
    """Another instance of the organisation that has an owner number and is not disconnected (the
    disconnected one cannot send): None when there is none, and the owner message waits in QStash's
    retries for the instance to come back."""
    keys = OrgKeys(org_id)
    redis = redis_client()
    ids = [i for i in (await run_redis(redis.hgetall(keys.instances)) or {}).values() if i != instead_of]
    if not ids:
        return None
    pipe = redis.pipeline()
    for instance_id in sorted(ids):
        pipe.hmget(keys.instance(instance_id), "owner", "status")
    for instance_id, (owner, status) in zip(sorted(ids), await run_redis(pipe.exec()), strict=True):
        if owner and status != "disconnected":
            return str(instance_id)
    return None


async def send_failed(org_id: str, instance_id: str, message_id: str) -> None:
    """A send UAZAPI refused (from ``jobs/send``'s failure path): ``BURST`` within the window notify the
    owner. Best effort: a failure here never changes the send job's own answer."""
    try:
        await _count_failure(org_id, instance_id, message_id)
    except TransientError as exc:
        log.warning("failed send not counted for notifications", org=org_id, instance=instance_id, error=exc.message)


async def _count_failure(org_id: str, instance_id: str, message_id: str) -> None:
    key, now = OrgKeys(org_id).send_failures(instance_id), now_ms()
    pipe = redis_client().pipeline()
    pipe.zadd(key, {message_id: now})
    pipe.zremrangebyscore(key, 0, now - BURST_WINDOW_MS)
    pipe.zcard(key)
    pipe.expire(key, SEND_FAILURES_TTL)
    failed = int((await run_redis(pipe.exec()))[2])
    if failed < BURST or not (await notification_settings(org_id))[0]:
        return
    name = await _instance_name(org_id, instance_id)
    text = (f"⚠️ *Falhas de envio*: {failed} mensagens da instância {name} falharam nos últimos 10 minutos. "
            "Veja as mensagens com falha no painel.")  # fmt: skip
    hour = str(now // 3_600_000)
    about: dict[str, Any] = {"instance_id": instance_id, "failed": str(failed)}
    await _notify(org_id, "send_failures", instance_id, f"{instance_id}-{hour}", text, instance_id=instance_id,
                  about=about)  # fmt: skip

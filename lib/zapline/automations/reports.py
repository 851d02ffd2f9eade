"""The owner's reports: the daily summary (18:00) and the weekly report (Sundays 23:00), in pt-BR.

Both read what the store already counts (the daily counters of ``lua/prelude.lua``'s ``count``,
conversations, messages) and send one WhatsApp message to the owner, keyed by the firing so a
repeat sends nothing.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta
from typing import Any

from zapline.automations import store
from zapline.automations.firing import Firing
from zapline.automations.settings import AllSettings, render
from zapline.errors import RecordMissing
from zapline.logs import get_logger
from zapline.owner import message_owner

__all__ = ["daily_summary", "nps", "tell_owner", "waiting_for_reply", "weekly_report"]

log = get_logger("zapline.automations")

WAITING_LISTED = 5
TOP_LEADS = 5


def nps(counters: dict[str, int]) -> int | None:
    """Promoters minus detractors in % of the answers (None without any)."""
    answers = counters.get("nps_responses", 0)
    if not answers:
        return None
    return round(100 * (counters.get("nps_promoters", 0) - counters.get("nps_detractors", 0)) / answers)


async def tell_owner(firing: Firing, text: str) -> str:
    """Send the firing's message to the owner, once: ``sent``, or ``no_owner`` when no instance of the
    organisation has an owner number (nobody to tell; not an error to retry)."""
    try:
        await message_owner(firing.org_id, text, key=firing.key(), cause=firing.schedule)
    except RecordMissing:
        log.warning("no owner number: automation not sent", org=firing.org_id, schedule=firing.schedule)
        return "no_owner"
    return "sent"


def failed_sends(counters: dict[str, int]) -> int:
    return sum(v for k, v in counters.items() if k.startswith("sends:") and k.endswith(":failed"))


def since(ms: int, now_ms: int) -> str:
    """How long ago, as the owner reads it: "40 min", "3 h", "2 dias"."""
    minutes = max(0, now_ms - ms) // 60_000
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} dias"


def _who(conversation: dict[str, Any]) -> str:
    return str(conversation.get("title") or conversation.get("lead_phone") or conversation.get("chat_jid", "")
               ).split("@")[0][:40]  # fmt: skip


def _br(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def waiting_for_reply(conversations: list[dict[str, Any]], at_ms: int) -> list[dict[str, Any]]:
    """Open conversations whose last message is the lead's, longest wait first."""
    waiting = [
        c for c in conversations
        if c.get("status") == "open" and c.get("last_direction") == "in" and c.get("is_group") != "1"
        and int(c.get("last_inbound_at") or 0) <= at_ms
    ]  # fmt: skip
    return sorted(waiting, key=lambda c: int(c.get("last_inbound_at") or 0))


def _nps_line(counters: dict[str, int], what: str) -> str:
    score = nps(counters)
    if score is None:
        return f"NPS {what}: sem respostas"
    return f"NPS {what}: {score} ({counters.get('nps_responses', 0)} respostas)"


async def daily_summary(firing: Firing, settings: AllSettings) -> dict[str, Any]:
    counters = await store.sum_days(firing.org_id, [firing.day])
    recent = await store.active_conversations(firing.org_id, firing.days_ago_ms(30), firing.ms)
    waiting = waiting_for_reply(recent, firing.ms)
    gone = await store.opted_out(firing.org_id, [c["lead_id"] for c in waiting if c.get("lead_id")])
    waiting = [c for c in waiting if c.get("lead_id") not in gone]  # "PARAR" waits for no answer
    lines = [
        render(settings.daily_summary.text, date=_br(firing.day)),
        f"Mensagens recebidas: {counters.get('inbound', 0)}",
        f"Mensagens enviadas: {counters.get('outbound', 0)}",
        f"Novos contatos: {counters.get('new_leads', 0)}",
        f"Novas conversas: {counters.get('new_conversations', 0)}",
        f"Aguardando resposta: {len(waiting)}",
    ]
    lines += [f"• {_who(c)}, há {since(int(c['last_inbound_at']), firing.ms)}" for c in waiting[:WAITING_LISTED]]
    if len(waiting) > WAITING_LISTED:
        lines.append(f"• e mais {len(waiting) - WAITING_LISTED}")
    lines += [_nps_line(counters, "do dia"), f"Envios com falha: {failed_sends(counters)}"]
    outcome = await tell_owner(firing, "\n".join(lines))
    return {"outcome": outcome, "waiting": len(waiting), "inbound": counters.get("inbound", 0)}


def _change(now: int, before: int) -> str:
    if before == 0:
        return "" if now == 0 else " (antes: 0)"
    percent = round(100 * (now - before) / before)
    return f" ({'+' if percent >= 0 else ''}{percent}% vs. {before})"


def week_of(day: date) -> list[date]:
    """Monday to Sunday of the week holding ``day``."""
    monday = day - timedelta(days=day.weekday())
    return [monday + timedelta(days=i) for i in range(7)]


async def weekly_report(firing: Firing, settings: AllSettings) -> dict[str, Any]:
    week = week_of(firing.day)
    before = [d - timedelta(days=7) for d in week]
    this, last = await store.sum_days(firing.org_id, week), await store.sum_days(firing.org_id, before)
    zone = firing.at.tzinfo
    start_ms = int(datetime.combine(week[0], time(), zone).timestamp() * 1000)
    end_ms = int(datetime.combine(week[-1] + timedelta(days=1), time(), zone).timestamp() * 1000)
    conversations = await store.active_conversations(firing.org_id, start_ms, store.NO_END)  # active since Monday
    counts = await store.message_counts(firing.org_id, [c["id"] for c in conversations], start_ms, end_ms)
    per_lead: Counter[str] = Counter()
    names: dict[str, str] = {}
    for conversation in conversations:
        lead = conversation.get("lead_id") or ""
        if lead and counts.get(conversation["id"]):
            per_lead[lead] += counts[conversation["id"]]
            names.setdefault(lead, _who(conversation))
    lines = [render(settings.weekly_report.text, start=_br(week[0]), end=_br(week[-1]))]
    for field, label in (("inbound", "Mensagens recebidas"), ("outbound", "Mensagens enviadas"),
                         ("new_leads", "Novos contatos"), ("new_conversations", "Novas conversas")):  # fmt: skip
        lines.append(f"{label}: {this.get(field, 0)}{_change(this.get(field, 0), last.get(field, 0))}")
    if per_lead:
        lines.append("Clientes mais ativos:")
        for i, (lead, n) in enumerate(per_lead.most_common(TOP_LEADS), 1):
            lines.append(f"{i}. {names[lead]}: {n} {'mensagem' if n == 1 else 'mensagens'}")
    lines += [
        _nps_line(this, "da semana") + (f" (semana anterior: {nps(last)})" if nps(last) is not None else ""),
        f"IA: {this.get('ai_replies', 0)} respostas, {this.get('ai_tokens', 0)} tokens"
        + _change(this.get("ai_tokens", 0), last.get("ai_tokens", 0)),
        f"Envios com falha: {failed_sends(this)}",
    ]
    outcome = await tell_owner(firing, "\n".join(lines))
    return {"outcome": outcome, "week": week[0].isoformat(), "inbound": this.get("inbound", 0),
            "top_leads": len(per_lead)}  # fmt: skip

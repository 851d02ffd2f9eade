"""Opportunities (Tuesdays and Thursdays 15:00): leads who showed buying intent and went quiet, to the owner.

Buying intent is the AI's tag ``buying_intent`` on the lead, or one of the organisation's keywords
("preço", "quanto custa", "orçamento", …) in the lead's own messages of the last ``lookback_days``.
Quiet: the lead's last message is at least ``quiet_days`` old. Not listed: a lead whose latest
conversation closed with a sale (the AI's ``learn`` job wrote ``ai_outcome: sale`` on it), one tagged as
sold (``SOLD_TAGS``, by an operator), or opted out.
"""

from __future__ import annotations

from typing import Any

from zapline.automations import store
from zapline.automations.firing import Firing
from zapline.automations.reports import since, tell_owner
from zapline.automations.settings import AllSettings, render
from zapline.automations.words import fold, keyword_pattern
from zapline.store.leads import iter_leads, lead_activity
from zapline.store.records import Lead

__all__ = ["INTENT_TAG", "SOLD_TAGS", "opportunities"]

INTENT_TAG = "buying_intent"
SOLD_TAGS = frozenset({"sale", "sold", "won", "venda", "vendido", "comprou"})
LISTED = 15


def _sold(lead: Lead) -> bool:
    return any(fold(tag) in SOLD_TAGS for tag in lead.tags)


async def opportunities(firing: Firing, settings: AllSettings) -> dict[str, Any]:
    cfg = settings.opportunities
    pattern = keyword_pattern(cfg.keywords)
    quiet_before, lookback = firing.days_ago_ms(cfg.quiet_days), firing.days_ago_ms(cfg.lookback_days)
    found: list[tuple[int, Lead, str]] = []  # (last inbound ms, lead, why)
    async for batch in iter_leads(firing.org_id):
        live = [lead for lead in batch if not lead.opted_out and not _sold(lead)]
        activity = await lead_activity(firing.org_id, [lead.id for lead in live])
        quiet = [(lead, last) for lead in live if (last := activity[lead.id].last_inbound_at)
                 and lookback <= last <= quiet_before]  # fmt: skip
        if not quiet:
            continue
        conversations = await store.latest_conversations(firing.org_id, [lead.id for lead, _ in quiet])
        outcomes = await store.conversation_field(firing.org_id, list(conversations.values()), "ai_outcome")
        quiet = [(lead, last) for lead, last in quiet if outcomes.get(conversations.get(lead.id, "")) != "sale"]
        tagged = [(lead, last) for lead, last in quiet if INTENT_TAG in lead.tags]
        found += [(last, lead, "marcado pela IA") for lead, last in tagged]
        rest = [(lead, last) for lead, last in quiet if INTENT_TAG not in lead.tags]
        if not rest or pattern is None:
            continue
        texts = await store.inbound_texts(firing.org_id, [conversations[lead.id] for lead, _ in rest
                                                          if lead.id in conversations], lookback)  # fmt: skip
        for lead, last in rest:
            said = texts.get(conversations.get(lead.id, ""), [])
            match = next((m for text in said if (m := pattern.search(fold(text)))), None)
            if match:
                found.append((last, lead, f'disse "{match.group(0)}"'))
    if not found:
        return {"outcome": "none", "leads": 0}
    found.sort(key=lambda item: item[0], reverse=True)
    lines = [render(cfg.text, count=len(found))]
    for last, lead, why in found[:LISTED]:
        who = lead.name or lead.phone or lead.id
        phone = f" ({lead.phone})" if lead.name and lead.phone else ""
        lines.append(f"• {who}{phone}: {why}, em silêncio há {since(last, firing.ms)}")
    if len(found) > LISTED:
        lines.append(f"• e mais {len(found) - LISTED}")
    return {"outcome": await tell_owner(firing, "\n".join(lines)), "leads": len(found)}

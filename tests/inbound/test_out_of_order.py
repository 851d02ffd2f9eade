"""Messages that arrive out of WhatsApp order: the conversation opens, and counts, on the earliest."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

from tests.inbound.conftest import Inbound

DAY_MS = 86_400_000


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, ZoneInfo("America/Sao_Paulo")).date().isoformat()  # the tenant's zone


def test_an_earlier_message_arriving_later_moves_the_opening_and_its_counters(fresh: Inbound, contact: str) -> None:
    now = int(time.time() * 1000)
    earlier = now - 2 * DAY_MS
    today, that_day = _day(now), _day(earlier)

    fresh.stored(fresh.uazapi.text("segunda mensagem", contact=contact, timestamp=now))
    assert (fresh.counters(today)["new_leads"], fresh.counters(today)["new_conversations"]) == (1, 1)

    fresh.stored(fresh.uazapi.text("primeira mensagem", contact=contact, timestamp=earlier))
    conv = fresh.conversation(f"{contact}@s.whatsapp.net")
    assert conv["opened_at"] == earlier
    assert conv["preview"] == "segunda mensagem"  # the latest still shows
    moved_from, moved_to = fresh.counters(today), fresh.counters(that_day)
    assert (moved_from.get("new_leads"), moved_from.get("new_conversations"), moved_from["inbound"]) == (0, 0, 1)
    assert (moved_to["new_leads"], moved_to["new_conversations"], moved_to["inbound"]) == (1, 1, 1)

    fresh.stored(fresh.uazapi.text("no meio", contact=contact, timestamp=earlier + DAY_MS))  # not the earliest
    assert fresh.conversation(f"{contact}@s.whatsapp.net")["opened_at"] == earlier
    assert fresh.counters(that_day)["new_conversations"] == 1
    assert fresh.counters(_day(earlier + DAY_MS)).get("new_conversations", 0) == 0

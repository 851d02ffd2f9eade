"""Group membership in the group's conversation, poll tallies, and why an instance disconnected."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from tests.inbound.conftest import Inbound
from zapline.sandbox.uazapi.payloads import wa_id

_groups = itertools.count(120363000000770001)


def _group_change(inbound: Inbound, group: str, **event: Any) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")  # ISO-8601, as UAZAPI's
    return inbound.uazapi.envelope("groups", type="Group", event={
        "JID": f"{group}@g.us", "Notify": "", "Timestamp": now,
        "PrevParticipantVersionID": "1", "ParticipantVersionID": "2", "JoinReason": "",
        "Join": None, "Leave": None, "Name": None, "Topic": None, **event,
    })  # fmt: skip


def test_members_joining_and_leaving_show_in_the_group_conversation(inbound: Inbound) -> None:
    group = str(next(_groups))
    inbound.stored(inbound.uazapi.text("Bom dia, grupo", group=group, name="Clientes VIP"))
    before = inbound.conversation(f"{group}@g.us")
    joined = _group_change(inbound, group, Join=["5511999990003@s.whatsapp.net"],
                           Sender="5511999990003@s.whatsapp.net")  # fmt: skip
    assert inbound.stored(joined)["outcome"] == "stored"
    assert inbound.stored(joined)["outcome"] == "duplicate"  # the same webhook again: one message
    left = _group_change(inbound, group, ParticipantVersionID="3", Leave=["5511999990004@s.whatsapp.net"],
                         SenderPN="5511999990002@s.whatsapp.net")  # fmt: skip
    inbound.stored(left)
    conv = inbound.conversation(f"{group}@g.us")
    events = [(m["kind"], m["text"]) for m in inbound.messages(conv["id"]) if m["kind"] == "group_event"]
    assert events == [
        ("group_event", "+5511999990003 entrou"),
        ("group_event", "+5511999990002 removeu +5511999990004"),
    ]
    assert conv["unread"] == before["unread"]  # a notice, not something to answer
    assert conv["title"] == "Clientes VIP"
    renamed = _group_change(inbound, group, ParticipantVersionID="4", Name={"Name": "VIP"})
    assert inbound.stored(renamed)["outcome"] == "ignored"


def test_a_poll_keeps_a_tally_where_a_voters_latest_vote_counts(inbound: Inbound) -> None:
    group, poll = str(next(_groups)), wa_id()
    early = inbound.uazapi.poll_vote(poll, vote="Não", group=group, participant="5511999990005")
    inbound.stored(early)  # a vote before its poll: counted when the poll arrives
    inbound.stored(inbound.uazapi.poll(question="Reunião amanhã?", options="Sim|Não", group=group,
                                       from_me=True, message_id=poll))  # fmt: skip
    inbound.stored(inbound.uazapi.poll_vote(poll, vote="Sim", group=group, participant="5511999990006"))
    changed = inbound.uazapi.poll_vote(poll, vote="Sim", group=group, participant="5511999990005")
    assert inbound.stored(changed)["outcome"] == "stored"  # the vote is kept as a message too
    conv = inbound.conversation(f"{group}@g.us")
    [stored] = [m for m in inbound.messages(conv["id"]) if m["kind"] == "poll"]
    assert stored["tally"] == {"Sim": 2, "Não": 0}

    published = inbound.history(f"conversation:{inbound.tenant.org_id}:{conv['id']}")
    live = [p["poll"]["tally"] for p in published if p["type"] == "message.created" and "poll" in p]
    assert live == [{"Sim": 1, "Não": 1}, {"Sim": 2, "Não": 0}]


def test_a_disconnect_shows_its_reason_live(fresh: Inbound) -> None:
    assert fresh.stored(fresh.uazapi.connection("disconnected"))["outcome"] == "connection"
    [status] = [p for p in fresh.history(f"inbox:{fresh.tenant.org_id}") if p["type"] == "instance.status"]
    assert (status["status"], status["reason"]) == ("disconnected", "401: logged out")

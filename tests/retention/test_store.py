"""Each kind of deletion of ``store/retention.py`` against a flushed redis-server: messages and
what names them, conversations left with nothing, orphaned aliases, dead letters, ended campaigns'
recipients, the batch bound."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import redis as redis_py

from tests.retention.conftest import DAY_MS, now_ms, run
from zapline.campaigns.view import view
from zapline.sandbox.uazapi.payloads import Uazapi, body
from zapline.store import campaigns, outbound, queries, registry, retention
from zapline.store.ingest import IngestResult, ingest_message, record_sent
from zapline.store.keys import FIELDS, OrgKeys
from zapline.uazapi.events import MessagesEvent, parse_event
from zapline.uazapi.normalize import normalize_message

TOKEN = "uaz-token"
uazapi = Uazapi(token=TOKEN)


class Shop:
    """An organisation with one instance, fed webhooks straight into the ingest script."""

    def __init__(self) -> None:
        async def make() -> tuple[str, registry.InstanceRef]:
            org, _ = await registry.create_org("Loja", "America/Sao_Paulo")
            _, key = await registry.create_instance(org["id"], name="main", token=TOKEN, base_url="https://u.test")
            return org["id"], registry.parse_instance_key(key)

        self.org_id, self.ref = run(make())
        self.keys = OrgKeys(self.org_id)

    def ingest(self, payload: dict[str, Any]) -> IngestResult:
        event = parse_event(body(payload))
        assert isinstance(event, MessagesEvent)
        return run(ingest_message(self.ref, TOKEN, normalize_message(event)))

    def says(self, contact: str, text: str, at: int) -> tuple[str, dict[str, Any]]:
        """(its WhatsApp id, the stored message)."""
        payload = uazapi.text(text, contact=contact, timestamp=at)
        result = self.ingest(payload)
        assert result.outcome == "stored" and result.message
        return payload["message"]["messageid"], result.message

    def feed(self, as_of: int | None = None, limit: int = 500, firing: str | None = None) -> retention.Fed:
        """A feed; each call a firing of its own unless ``firing`` says which."""
        firing = firing or f"test-{uuid.uuid4().hex}"
        return run(retention.feed(self.org_id, firing=firing, as_of=as_of or now_ms(), limit=limit))

    def trim(self, cutoff: int, limit: int = 500) -> retention.Trimmed:
        self.feed()
        return run(retention.trim(self.org_id, cutoff=cutoff, limit=limit, closed_before=now_ms() - DAY_MS))


OLD, NEW = now_ms() - 200 * DAY_MS, now_ms() - DAY_MS
CUTOFF = now_ms() - 180 * DAY_MS


def test_old_messages_leave_and_the_conversation_lists_what_remains(db: redis_py.Redis) -> None:
    shop = Shop()
    old = [shop.says("5511970000001", f"antiga {i}", OLD + i)[1] for i in range(3)]
    new = [shop.says("5511970000001", f"nova {i}", NEW + i)[1] for i in range(2)]
    conv_id = new[-1]["conversation_id"]

    trimmed = shop.trim(CUTOFF)

    assert (trimmed.messages, trimmed.conversations, trimmed.more) == (3, 0, False)
    assert not any(db.exists(shop.keys.message(m["id"])) for m in old)
    assert db.zrange(shop.keys.conversation_messages(conv_id), 0, -1) == [m["id"] for m in new]
    conversation = run(queries.get_conversation(shop.org_id, conv_id))
    assert (conversation.message_count, conversation.preview) == (2, "nova 1")
    listed = run(queries.list_messages(shop.org_id, conv_id))
    assert [m.text for m in listed.items] == ["nova 0", "nova 1"]
    assert shop.trim(CUTOFF).messages == 0  # a second run finds nothing more


def test_a_round_deletes_at_most_its_batch_and_says_when_more_waits(db: redis_py.Redis) -> None:
    shop = Shop()
    for contact in ("5511970000002", "5511970000003"):
        for i in range(12):
            shop.says(contact, f"m{i}", OLD + i)
    rounds = [shop.trim(CUTOFF, limit=10) for _ in range(3)]
    assert [(r.messages, r.more) for r in rounds] == [(10, True), (10, True), (4, False)]
    assert db.keys(shop.keys.message("*")) == []


def test_the_feed_reads_a_batch_of_conversations_and_then_only_those_active_since(db: redis_py.Redis) -> None:
    shop = Shop()
    shop.says("5511970000004", "oi", NEW - 10 * DAY_MS)
    for contact in ("5511970000005", "5511970000006"):
        shop.says(contact, "oi", NEW)
    feeds = [shop.feed(limit=2, firing="day-1") for _ in range(4)]
    # a pass in rounds of 2 (a page ends inclusive: its last instant is read again, once); then the
    # firing's later rounds (continuing its trim, say) read nothing more
    assert [(f.indexed, f.more) for f in feeds] == [(2, True), (2, True), (0, False), (0, False)]
    # the next firing reads again only what was active a day (the lookback) before the last pass ended
    assert shop.feed(limit=3, firing="day-2") == retention.Fed(2, False)
    assert db.zcard(shop.keys.retention_index) == 3


def test_a_sent_message_leaves_with_its_whatsapp_alias_and_outbox_entry(db: redis_py.Redis) -> None:
    shop = Shop()
    _, first = shop.says("5511970000007", "oi", OLD)
    conv_id = first["conversation_id"]
    message = {"id": "msg_ret_sent", "kind": "text", "text": "olá", "lane": "realtime"}
    run(outbound.create_outbound(shop.org_id, conv_id, message, preview="olá", restart_followups=False))
    run(record_sent(shop.org_id, "msg_ret_sent", "WA-RET-SENT", OLD + 1))
    pending = {"id": "msg_ret_pending", "kind": "text", "text": "ainda", "lane": "realtime"}
    run(outbound.create_outbound(shop.org_id, conv_id, pending, preview="ainda", restart_followups=False))
    db.zadd(shop.keys.conversation_messages(conv_id), {"msg_ret_pending": OLD + 2})  # never sent, long ago
    alias = shop.keys.wa_message(shop.ref.instance_id, "WA-RET-SENT")
    assert db.get(alias) == "msg_ret_sent" and db.zscore(shop.keys.outbox, "msg_ret_pending") is not None

    trimmed = shop.trim(CUTOFF)

    assert (trimmed.messages, trimmed.aliases) == (3, 1)
    assert not db.exists(alias) and db.zscore(shop.keys.outbox, "msg_ret_pending") is None


def test_edit_and_reaction_aliases_are_scanned_for_once_enough_are_orphaned(db: redis_py.Redis) -> None:
    shop = Shop()
    contact = "5511970000008"
    old_wa, old = shop.says(contact, "antiga", OLD)
    new_wa, new = shop.says(contact, "nova", NEW)
    reaction = uazapi.reaction(old_wa, "👍", target_from_me=False, contact=contact, timestamp=OLD + 5)
    edit = uazapi.edited(old_wa, "antiga, editada", contact=contact, timestamp=OLD + 6)
    kept = uazapi.reaction(new_wa, "❤️", target_from_me=False, contact=contact, timestamp=NEW + 5)
    for payload in (reaction, edit, kept):
        assert shop.ingest(payload).outcome == "updated"
    alias = {name: shop.keys.wa_message(shop.ref.instance_id, p["message"]["messageid"])
             for name, p in (("reaction", reaction), ("edit", edit), ("kept", kept))}  # fmt: skip
    early = shop.keys.wa_message(shop.ref.instance_id, "WA-EARLY")
    db.set(early, "early", ex=3600)  # an edit waiting for its message: it expires on its own
    assert db.get(alias["reaction"]) == old["id"] and db.get(alias["kept"]) == new["id"]

    assert shop.trim(CUTOFF).messages == 1
    assert db.hget(shop.keys.retention_state, "alias_debt") == "2"  # the reaction and the edit
    waiting = run(retention.sweep_aliases(shop.org_id, firing="day-1", threshold=3, scans=10))
    assert (waiting.scanned, waiting.aliases) == (0, 0)  # 2 owed, fewer than 3: no scan yet
    for i in range(6):  # more aliases, so a scan of 2 keys a call takes several calls
        db.set(shop.keys.wa_message(shop.ref.instance_id, f"WA-LIVE-{i}"), new["id"])

    async def sweep_until_done() -> list[retention.AliasSweep]:
        calls: list[retention.AliasSweep] = []
        while len(calls) < 200 and (not calls or calls[-1].more):
            calls.append(await retention.sweep_aliases(shop.org_id, firing="day-2", threshold=2, scans=1, count=2))
        return calls

    calls = run(sweep_until_done())

    assert len(calls) > 2 and all(c.scanned == 1 for c in calls) and not calls[-1].more
    assert sum(c.aliases for c in calls) == 2
    assert not db.exists(alias["reaction"]) and not db.exists(alias["edit"])
    assert db.get(alias["kept"]) == new["id"] and db.get(early) == "early"
    assert db.hget(shop.keys.retention_state, "alias_debt") == "0"
    paid = run(retention.sweep_aliases(shop.org_id, firing="day-9", threshold=2, scans=10))
    assert paid.scanned == 0  # paid: no further scan until more is owed
    db.hincrby(shop.keys.retention_state, "alias_debt", 5)  # owed again, say by the firing's next rounds
    assert run(retention.sweep_aliases(shop.org_id, firing="day-2", threshold=2, scans=10)).scanned == 0
    assert run(retention.sweep_aliases(shop.org_id, firing="day-3", threshold=2, scans=10)).scanned == 1


def test_a_closed_conversation_left_empty_goes_and_its_lead_stays(db: redis_py.Redis) -> None:
    shop = Shop()
    gone, surveyed, just, idle = (shop.says(f"5511970000{n:03d}", "antiga", OLD)[1]["conversation_id"]
                                  for n in (9, 10, 15, 11))  # fmt: skip
    run(outbound.close(shop.org_id, gone, nps=False))
    run(outbound.close(shop.org_id, surveyed, nps=True))  # its survey is still to be sent: it stays
    for conv_id in (gone, surveyed):
        db.hset(shop.keys.conversation(conv_id), "closed_at", now_ms() - 2 * DAY_MS)  # closed two days ago
    run(outbound.close(shop.org_id, just, nps=False))  # closed just now: its close's jobs may still read it
    # idle: open, it stays, empty
    lead_id = str(db.hget(shop.keys.conversation(gone), "lead_id"))
    assert lead_id.startswith("lead_")

    trimmed = shop.trim(CUTOFF)

    assert (trimmed.messages, trimmed.conversations) == (4, 1)
    assert not db.exists(shop.keys.conversation(gone)) and db.zscore(shop.keys.inbox, gone) is None
    assert db.zscore(shop.keys.lead_conversations(lead_id), gone) is None
    assert db.hget(shop.keys.lead(lead_id), "id") == lead_id
    chat_field = FIELDS["instance_chat"].format("5511970000009@s.whatsapp.net")
    chat = str(db.hget(shop.keys.instance(shop.ref.instance_id), chat_field))
    assert chat.startswith(f"|{lead_id}|")  # no conversation; the lead and early-event mark stay
    listed = {c.id: c for c in run(queries.list_conversations(shop.org_id)).items}
    assert gone not in listed and listed[surveyed].status == listed[just].status == "closed"
    assert (listed[idle].message_count, listed[idle].preview, listed[idle].status) == (0, None, "open")

    # the lead writes again: a new conversation, the same lead
    again = shop.ingest(uazapi.text("voltei", contact="5511970000009", timestamp=NEW))
    assert (again.outcome, again.new_conversation, again.new_lead) == ("stored", True, False)
    assert again.conversation and again.conversation["lead_id"] == lead_id and again.conversation["id"] != gone


def test_a_conversation_emptied_is_indexed_again_when_its_lead_writes(db: redis_py.Redis) -> None:
    shop = Shop()
    conv_id = shop.says("5511970000012", "antiga", OLD)[1]["conversation_id"]
    assert shop.trim(CUTOFF).messages == 1
    assert db.zscore(shop.keys.retention_index, conv_id) is None
    shop.says("5511970000012", "nova", NEW)
    shop.feed()
    assert db.zscore(shop.keys.retention_index, conv_id) == NEW
    assert shop.trim(NEW + 1).messages == 1  # a later cutoff finds it


def test_a_phone_clock_ahead_does_not_hide_later_conversations(db: redis_py.Redis) -> None:
    shop = Shop()
    now = now_ms()
    shop.says("5511970000013", "do futuro", now + 20 * 3_600_000)  # a phone 20 hours ahead
    shop.feed(as_of=now - 3 * DAY_MS)  # a run three days ago
    assert float(db.hget(shop.keys.retention_state, "indexed_through") or 0) == now - 3 * DAY_MS
    conv_id = shop.says("5511970000014", "anteontem", now - 2 * DAY_MS)[1]["conversation_id"]
    shop.feed(as_of=now - DAY_MS)
    assert db.zscore(shop.keys.retention_index, conv_id) == now - 2 * DAY_MS


def test_dead_letters_older_than_the_cutoff_are_found_oldest_first_and_bounded(db: redis_py.Redis) -> None:
    shop = Shop()
    ages = [9, 8, 8, 1, 0]  # days ago, as the failures function records them (newest first in the list)
    for n, days in enumerate(ages):
        at = now_ms() - days * DAY_MS
        record = {"dlq_id": f"dlq-{n}", "job": "send", "path": "/api/jobs/send", "reason": "x", "at": at}
        db.lpush(shop.keys.dead_letters, json.dumps(record))
    cutoff = now_ms() - 7 * DAY_MS
    found = run(retention.expired_dead_letters(shop.org_id, cutoff=cutoff, limit=2))
    assert [letter.dlq_id for letter in found] == ["dlq-0", "dlq-1"]
    everything = run(retention.expired_dead_letters(shop.org_id, cutoff=cutoff, limit=500))
    assert [letter.dlq_id for letter in everything] == ["dlq-0", "dlq-1", "dlq-2"]


def test_the_setting_defaults_to_180_days_and_keeps_its_bounds(db: redis_py.Redis) -> None:
    shop = Shop()
    assert run(retention.message_days(shop.org_id)) == 180
    assert run(retention.set_message_days(shop.org_id, 30)) == 30
    assert run(retention.message_days(shop.org_id)) == 30
    with pytest.raises(ValueError, match="7..3650"):
        run(retention.set_message_days(shop.org_id, 6))


def test_each_round_is_added_to_its_firings_totals_once(db: redis_py.Redis) -> None:
    shop = Shop()

    def finish(local_time: str, round: int, messages: int, more: bool) -> dict[str, Any]:
        counts = {"messages": messages, "dead_letters": 0}
        return run(retention.finish(shop.org_id, local_time=local_time, round=round, counts=counts, more=more,
                                    cutoff=CUTOFF, days=180))  # fmt: skip

    finish("2026-01-01T03:30", 0, 10, True)
    finish("2026-01-01T03:30", 0, 10, True)  # QStash delivered round 0 again: not counted twice
    last = finish("2026-01-01T03:30", 1, 4, False)
    assert (last["rounds"], last["totals"]["messages"], last["finished"]) == (2, 14, True)
    nxt = finish("2026-01-02T03:30", 0, 3, False)
    assert (nxt["rounds"], nxt["totals"]["messages"]) == (1, 3)
    assert run(retention.last_run(shop.org_id)) == nxt


def test_a_trim_costs_two_commands_a_message_and_seven_a_conversation(db: redis_py.Redis) -> None:
    """What the README states the retention job costs, counted by redis-server (``INFO commandstats``:
    the EVALSHA and each command its script runs, as Upstash bills them)."""
    shop = Shop()
    for c in range(10):
        for i in range(10):
            shop.says(f"55119700001{c:02d}", f"m{i}", OLD + i)
    shop.feed()  # loads the script, too: the trim's EVALSHA finds it

    db.config_resetstat()
    trimmed = run(retention.trim(shop.org_id, cutoff=CUTOFF, limit=500, closed_before=now_ms()))
    calls = {name: stat["calls"] for name, stat in db.info("commandstats").items()}

    assert trimmed.messages == 100
    assert calls["cmdstat_get"] == 100 and calls["cmdstat_del"] == 100  # each message: read once, deleted once
    billed = sum(n for name, n in calls.items() if not name.startswith("cmdstat_config"))
    assert billed <= 2 * 100 + 7 * 10 + 2, calls


def _campaign(shop: Shop, phones: list[str], status: str = "running") -> str:
    """A campaign fanned out to ``phones`` (each queued), as ``admin/campaigns.py`` stores one."""
    cid = f"camp_{uuid.uuid4().hex[:12]}"
    run(campaigns.write_recipients(shop.org_id, cid, [json.dumps({"p": p}) for p in phones]))
    n = len(phones)
    record: dict[str, str | int] = {
        "id": cid, "name": "Promo", "instance_id": shop.ref.instance_id, "template": "Oi", "status": status,
        "audience": "recipients", "timezone": "America/Sao_Paulo", "created_at": now_ms(),
        "cursor": n, "epoch": 0, "resolved": 1, "total": n, "n:published": n,
    }  # fmt: skip
    run(campaigns.create(shop.org_id, record))
    return cid


def test_ended_campaigns_lose_their_recipients_after_the_period_and_keep_their_counters(db: redis_py.Redis) -> None:
    shop = Shop()
    done = _campaign(shop, ["5511970000001", "5511970000002"])
    run(campaigns.finish_send(shop.org_id, done, index=0, outcome="sent"))
    run(campaigns.finish_send(shop.org_id, done, index=1, outcome="skip:opted_out"))
    run(campaigns.attribute(shop.org_id, [{"c": done, "n": "delivered", "w": "msg_0"}]))
    cancelled = _campaign(shop, ["5511970000003"])
    assert run(campaigns.cancel(shop.org_id, cancelled)).outcome == "cancelled"
    going = _campaign(shop, ["5511970000004"])
    ended = db.zrange(shop.keys.campaigns_ended, 0, -1)
    assert sorted(ended) == sorted([done, cancelled])  # completed and cancelled: listed; running: not
    before = view(run(campaigns.get(shop.org_id, done)))
    assert before["status"] == "completed" and before["recipients_deleted_at"] is None

    # ended within the period: kept
    assert run(retention.prune_campaigns(shop.org_id, cutoff=now_ms() - DAY_MS, limit=10)) == (0, False)
    assert db.exists(shop.keys.campaign_marks(done), shop.keys.campaign_recipients(done)) == 2

    # past it: a bounded batch at a time, each campaign once
    later = now_ms() + 1000
    assert run(retention.prune_campaigns(shop.org_id, cutoff=later, limit=1)) == (1, True)
    assert run(retention.prune_campaigns(shop.org_id, cutoff=later, limit=1)) == (1, True)
    assert run(retention.prune_campaigns(shop.org_id, cutoff=later, limit=1)) == (0, False)
    for cid in (done, cancelled):
        keys = (shop.keys.campaign_recipients(cid), shop.keys.campaign_marks(cid), shop.keys.campaign_held(cid))
        assert db.exists(*keys) == 0
    assert db.exists(shop.keys.campaign_recipients(going)) == 1  # a running campaign keeps its list
    after = view(run(campaigns.get(shop.org_id, done)))
    assert after["counters"] == before["counters"] and after["counters"]["delivered"] == 1
    assert after["recipients_deleted_at"] is not None

    # a very late job, retry or receipt of a pruned campaign changes nothing and writes nothing back
    run(campaigns.finish_send(shop.org_id, cancelled, index=0, outcome="skip:cancelled"))
    run(campaigns.finish_send(shop.org_id, done, index=0, outcome="sent"))
    run(campaigns.attribute(shop.org_id, [{"c": done, "n": "read", "w": "msg_0"}]))
    prepared = run(campaigns.prepare_send(shop.org_id, done, index=1, jid="5511970000002@s.whatsapp.net",
                                          new_lead_id="lead_x", new_conv_id="conv_x"))  # fmt: skip
    assert prepared.outcome == "done"
    assert view(run(campaigns.get(shop.org_id, done)))["counters"] == before["counters"]
    assert db.exists(shop.keys.campaign_marks(done), shop.keys.campaign_marks(cancelled)) == 0

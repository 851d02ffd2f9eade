"""One test per store operation's typed result, on an empty database each."""

from __future__ import annotations

import pytest
import redis as redis_py

from tests.store.conftest import run
from zapline.errors import LeadOptedOut, RecordMissing, UnknownInstance
from zapline.sandbox.uazapi.payloads import Uazapi, body
from zapline.store import outbound, registry, sweep
from zapline.store.ingest import authenticate_instance, ingest_message, ingest_receipts, record_sent
from zapline.store.keys import OrgKeys, sweep_marks
from zapline.uazapi.events import MessagesEvent, parse_event
from zapline.uazapi.normalize import normalize_message


def tenant() -> tuple[str, registry.InstanceRef, str]:
    async def make() -> tuple[str, registry.InstanceRef, str]:
        org, _ = await registry.create_org("Loja", "America/Sao_Paulo")
        record, key = await registry.create_instance(
            org["id"], name="main", token="uaz-token", base_url="https://u.test"
        )
        return org["id"], registry.parse_instance_key(key), key

    return run(make())


def lead_writes(ref: registry.InstanceRef, text: str, *, contact: str = "5511977770001") -> outbound.Record:
    event = parse_event(body(Uazapi(token="uaz-token").text(text, contact=contact)))
    assert isinstance(event, MessagesEvent)
    result = run(ingest_message(ref, "uaz-token", normalize_message(event)))
    assert result.outcome == "stored" and result.conversation
    return result.conversation


def test_only_the_instances_key_and_token_authenticate(db: redis_py.Redis) -> None:
    org_id, ref, key = tenant()
    run(authenticate_instance(ref, "uaz-token"))
    run(authenticate_instance(ref, None))  # the key alone
    with pytest.raises(UnknownInstance, match="token"):
        run(authenticate_instance(ref, "other"))
    forged = registry.parse_instance_key(key[:-4] + "AAAA")
    with pytest.raises(UnknownInstance, match="no instance"):
        run(authenticate_instance(forged, "uaz-token"))
    rotated = registry.parse_instance_key(run(registry.rotate_instance_key(org_id, ref.instance_id)))
    run(authenticate_instance(rotated, "uaz-token"))
    run(authenticate_instance(ref, "uaz-token"))  # the previous key, for webhooks on their way
    assert key.rsplit(".", 1)[1] not in str(db.hgetall(OrgKeys(org_id).instance(ref.instance_id)))


def test_a_message_is_stored_once_and_its_duplicate_says_so(db: redis_py.Redis) -> None:
    org_id, ref, _ = tenant()
    event = parse_event(body(Uazapi(token="uaz-token").text("oi", contact="5511977770001")))
    assert isinstance(event, MessagesEvent)
    message = normalize_message(event)
    first = run(ingest_message(ref, "uaz-token", message))
    again = run(ingest_message(ref, "uaz-token", message))
    assert (first.outcome, first.new_lead, first.new_conversation) == ("stored", True, True)
    assert (again.outcome, again.original) == ("duplicate", "created")
    assert db.zcard(OrgKeys(org_id).conversation_messages(first.conversation["id"])) == 1  # type: ignore[index]


def test_receipts_only_move_forward(db: redis_py.Redis) -> None:
    org_id, ref, _ = tenant()
    conversation = lead_writes(ref, "oi")
    created = run(outbound.create_outbound(org_id, conversation["id"], {"id": "msg_r1", "kind": "text", "text": "x",
                                           "lane": "realtime"}, preview="x", restart_followups=False))  # fmt: skip
    run(record_sent(org_id, created.message["id"], "WA-R1", 1_796_000_000_000))
    read = run(ingest_receipts(ref, "uaz-token", ["WA-R1"], "read", 1_796_000_001_000))
    late = run(ingest_receipts(ref, "uaz-token", ["WA-R1"], "delivered", 1_796_000_002_000))
    assert [e["status"] for e in read.changed] == ["read"] and late.changed == []


def test_an_outbound_message_is_claimed_once(db: redis_py.Redis) -> None:
    org_id, ref, _ = tenant()
    conversation = lead_writes(ref, "oi")
    message = {"id": "msg_c1", "kind": "text", "text": "olá", "lane": "realtime"}
    created = run(outbound.create_outbound(org_id, conversation["id"], message, preview="olá", restart_followups=True))
    repeat = run(outbound.create_outbound(org_id, conversation["id"], message, preview="olá", restart_followups=True))
    epoch = created.followup_epoch
    assert (created.existing, repeat.existing, repeat.followup_epoch) == (False, True, None) and epoch
    assert db.zscore(OrgKeys(org_id).outbox, "msg_c1") is not None  # until QStash confirms its job
    assert db.zrange(OrgKeys(org_id).timers, 0, -1) == [f"fu|{conversation['id']}|{epoch}"]

    claimed = run(outbound.claim_send(org_id, "msg_c1", lease_ms=60_000))
    busy = run(outbound.claim_send(org_id, "msg_c1", lease_ms=60_000))
    assert isinstance(claimed, outbound.Claimed) and claimed.token == "uaz-token" and not claimed.was_sending
    assert isinstance(busy, outbound.Busy) and busy.retry_after_ms > 0
    run(outbound.release_send(org_id, "msg_c1"))  # UAZAPI said it did not send
    again = run(outbound.claim_send(org_id, "msg_c1", lease_ms=60_000))
    assert isinstance(again, outbound.Claimed) and not again.was_sending
    run(record_sent(org_id, "msg_c1", "WA-C1", None))
    assert isinstance(run(outbound.claim_send(org_id, "msg_c1", lease_ms=60_000)), outbound.Done)


def test_a_lead_who_opted_out_stops_everything(db: redis_py.Redis) -> None:
    org_id, ref, _ = tenant()
    conversation = lead_writes(ref, "oi")
    message = {"id": "msg_o1", "kind": "text", "text": "promo", "lane": "bulk"}
    run(outbound.create_outbound(org_id, conversation["id"], message, preview="promo", restart_followups=False))
    assert run(outbound.opt_out(org_id, conversation["lead_id"], reason="test")).cancel == []
    stopped = run(outbound.claim_send(org_id, "msg_o1", lease_ms=60_000))
    assert isinstance(stopped, outbound.Stopped) and stopped.outcome == "failed"
    assert run(outbound.fail_send(org_id, "msg_o1", "gave up: later"))["error"] == "opted_out"  # first reason kept
    with pytest.raises(LeadOptedOut):
        run(outbound.create_outbound(org_id, conversation["id"], {**message, "id": "msg_o2"}, preview="x",
                                     restart_followups=False))  # fmt: skip


def test_follow_up_timers_are_stale_once_the_chain_moved_on(db: redis_py.Redis) -> None:
    org_id, ref, _ = tenant()
    conversation = lead_writes(ref, "oi")
    conv_id = conversation["id"]
    message = {"id": "msg_f1", "kind": "text", "text": "x", "lane": "realtime"}
    epoch = run(outbound.create_outbound(org_id, conv_id, message, preview="x", restart_followups=True)).followup_epoch
    assert epoch is not None
    armed = run(outbound.arm_followup(org_id, conv_id, epoch=epoch, step=0, qstash_id="q1"))
    assert isinstance(armed, outbound.Armed)
    assert db.zcard(OrgKeys(org_id).timers) == 0  # armed: nothing left for the sweeper
    fire = run(outbound.fire_followup(org_id, conv_id, epoch=epoch))
    assert isinstance(fire, outbound.Fire) and fire.conversation["id"] == conv_id
    lead_writes(ref, "respondi", contact="5511977770001")  # the lead answered: the chain is over
    assert isinstance(run(outbound.fire_followup(org_id, conv_id, epoch=epoch)), outbound.Stale)
    stale = run(outbound.arm_followup(org_id, conv_id, epoch=epoch, step=1, qstash_id="q2"))
    assert isinstance(stale, outbound.Stale)


def test_close_then_survey_then_expiry(db: redis_py.Redis) -> None:
    org_id, ref, _ = tenant()
    conv_id = lead_writes(ref, "oi")["id"]
    closed = run(outbound.close(org_id, conv_id, nps=True))
    again = run(outbound.close(org_id, conv_id, nps=True))
    assert (closed.already, closed.nps, again.already) == (False, True, True)
    assert db.zrange(OrgKeys(org_id).timers, 0, -1) == [f"nps|{conv_id}"]
    claim = run(outbound.claim_nps(org_id, conv_id))
    assert claim.send and run(outbound.claim_nps(org_id, conv_id)).send  # a retry finishes the same survey
    assert run(outbound.expire_nps(org_id, conv_id)) is True
    assert run(outbound.expire_nps(org_id, conv_id)) is False


def test_missing_records_are_permanent_domain_errors(db: redis_py.Redis) -> None:
    org_id, _, _ = tenant()
    with pytest.raises(RecordMissing, match="no conversation conv_000000000000"):
        run(outbound.close(org_id, "conv_000000000000", nps=True))
    with pytest.raises(RecordMissing, match="no message msg_none"):
        run(outbound.claim_send(org_id, "msg_none", lease_ms=1000))


def test_the_sweeper_sees_only_what_qstash_never_confirmed(db: redis_py.Redis) -> None:
    org_id, ref, _ = tenant()
    conv_id = lead_writes(ref, "oi")["id"]
    for message_id in ("msg_s1", "msg_s2"):
        run(outbound.create_outbound(org_id, conv_id, {"id": message_id, "kind": "text", "text": "x",
                                     "lane": "realtime"}, preview="x", restart_followups=False))  # fmt: skip
    run(sweep.confirm_queued(org_id, "msg_s1"))
    run(sweep.mark(org_id))
    assert run(sweep.marked_orgs(everyone=False)) == [org_id]
    [backlog] = run(sweep.backlog([org_id], older_than_ms=0))
    assert (backlog.messages, backlog.timers) == (["msg_s2"], [])
    run(sweep.unmark(org_id, marked_before=10**15))
    assert db.zscore(sweep_marks(), org_id) is not None  # something is left: still marked
    run(sweep.confirm_queued(org_id, "msg_s2"))
    run(sweep.unmark(org_id, marked_before=10**15))
    assert db.zscore(sweep_marks(), org_id) is None


def test_a_receipt_that_waits_is_applied_even_when_another_message_opens_the_chat(db: redis_py.Redis) -> None:
    """Found by make chaos: Read for X arrives first, then Y opens the conversation, then X."""
    _, ref, _ = tenant()
    uazapi = Uazapi(token="uaz-token")
    x = parse_event(body(uazapi.text("x", contact="5511977770009", message_id="WA-X")))
    y = parse_event(body(uazapi.text("y", contact="5511977770009", message_id="WA-Y")))
    assert isinstance(x, MessagesEvent) and isinstance(y, MessagesEvent)
    waiting = run(ingest_receipts(ref, "uaz-token", ["WA-X"], "read", 1_796_000_001_000, chat=x.message.chatid))
    assert waiting.current == []
    run(ingest_message(ref, "uaz-token", normalize_message(y)))
    stored = run(ingest_message(ref, "uaz-token", normalize_message(x)))
    assert stored.message is not None and stored.message["status"] == "read"


def test_every_steady_message_of_a_chat_stays_in_its_conversation(db: redis_py.Redis) -> None:
    org_id, ref, _ = tenant()
    first = lead_writes(ref, "um", contact="5511977770010")
    run(ingest_receipts(ref, "uaz-token", ["WA-NOT-YET"], "delivered", 1_796_000_001_000,
                        chat="5511977770010@s.whatsapp.net"))  # fmt: skip
    for text in ("dois", "três"):
        assert lead_writes(ref, text, contact="5511977770010")["id"] == first["id"]
    assert db.zcard(OrgKeys(org_id).conversation_messages(first["id"])) == 3


def test_an_echo_without_our_track_id_is_not_stored_twice(db: redis_py.Redis) -> None:
    """Found in review: our send recorded under WhatsApp's id, then its echo without track_id."""
    org_id, ref, _ = tenant()
    conversation = lead_writes(ref, "oi", contact="5511977770011")
    message = {"id": "msg_e1", "kind": "text", "text": "resposta", "lane": "realtime"}
    run(outbound.create_outbound(org_id, conversation["id"], message, preview="resposta", restart_followups=False))
    run(record_sent(org_id, "msg_e1", "WA-ECHO-1", 1_796_000_000_500))
    echo = parse_event(body(Uazapi(token="uaz-token").text("resposta", contact="5511977770011", from_me=True,
                                                           message_id="WA-ECHO-1")))  # fmt: skip
    assert isinstance(echo, MessagesEvent)
    for _ in range(2):
        result = run(ingest_message(ref, "uaz-token", normalize_message(echo)))
        assert result.outcome == "duplicate" and result.message and result.message["id"] == "msg_e1"
    assert db.zcard(OrgKeys(org_id).conversation_messages(conversation["id"])) == 2


def test_a_lead_first_known_by_lid_learns_its_phone(db: redis_py.Redis) -> None:
    org_id, ref, _ = tenant()
    uazapi = Uazapi(token="uaz-token")
    by_lid = uazapi.text("oi", contact="5511977770012")
    by_lid["message"].update({"chatid": "98765432101234@lid", "sender_pn": ""})
    by_lid["chat"].update({"wa_chatid": "98765432101234@lid", "phone": ""})
    event = parse_event(body(by_lid))
    assert isinstance(event, MessagesEvent) and normalize_message(event).phone is None
    first = run(ingest_message(ref, "uaz-token", normalize_message(event)))
    assert first.conversation is not None
    with_phone = uazapi.text("meu número", contact="5511977770012")
    with_phone["message"].update({"chatid": "98765432101234@lid", "sender_pn": "5511977770012@s.whatsapp.net"})
    with_phone["chat"].update({"wa_chatid": "98765432101234@lid"})
    event = parse_event(body(with_phone))
    assert isinstance(event, MessagesEvent) and normalize_message(event).phone == "+5511977770012"
    run(ingest_message(ref, "uaz-token", normalize_message(event)))
    lead_id = first.conversation["lead_id"]
    assert db.hget(OrgKeys(org_id).lead_index, "+5511977770012") == lead_id
    assert db.hget(OrgKeys(org_id).lead(lead_id), "phone") == "+5511977770012"


def test_a_receipt_without_its_chat_still_waits_for_its_message(db: redis_py.Redis) -> None:
    org_id, ref, _ = tenant()
    lead_writes(ref, "oi", contact="5511977770013")
    run(ingest_receipts(ref, "uaz-token", ["WA-LATE"], "read", 1_796_000_001_000, chat=""))
    assert not any("userdata" in field for field in db.hkeys(OrgKeys(org_id).instance(ref.instance_id)))


def test_messages_are_counted_per_local_hour_and_read_back_per_day(db: redis_py.Redis) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from zapline.store.queries import daily

    org_id, ref, _ = tenant()
    for text in ("um", "dois"):
        lead_writes(ref, text, contact="5511977770014")
    local = datetime.now(ZoneInfo("America/Sao_Paulo"))
    raw = db.hgetall(OrgKeys(org_id).daily(local.date().isoformat()))
    assert raw.get(f"inbound:{local.hour:02d}") == "2" and "inbound" not in raw  # still one HINCRBY a message
    counters, hourly = run(daily(org_id, local.date().isoformat()))
    assert counters["inbound"] == 2 and hourly["inbound"][local.hour] == 2 and sum(hourly["outbound"]) == 0

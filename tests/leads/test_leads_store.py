"""Lead profile updates by source, and reads over every lead, on an empty database each."""

from __future__ import annotations

import json

import pytest
import redis as redis_py
from pydantic import ValidationError

from tests.leads.conftest import run
from zapline.errors import InvalidPayload, RecordMissing
from zapline.sandbox.uazapi.payloads import Uazapi, body
from zapline.store import outbound, registry
from zapline.store.ingest import ingest_message, record_sent
from zapline.store.keys import OrgKeys
from zapline.store.leads import LeadChanges, apply_lead_changes, iter_leads, lead_activity, update_lead
from zapline.store.records import Lead
from zapline.uazapi.events import MessagesEvent, parse_event
from zapline.uazapi.normalize import normalize_message


def tenant() -> tuple[str, registry.InstanceRef]:
    async def make() -> tuple[str, registry.InstanceRef]:
        org, _ = await registry.create_org("Loja", "America/Sao_Paulo")
        _, key = await registry.create_instance(org["id"], name="main", token="uaz-token", base_url="https://u.test")
        return org["id"], registry.parse_instance_key(key)

    return run(make())


def writes(ref: registry.InstanceRef, contact: str, text: str = "oi", *, from_me: bool = False) -> dict[str, str]:
    event = parse_event(body(Uazapi(token="uaz-token").text(text, contact=contact, from_me=from_me)))
    assert isinstance(event, MessagesEvent)
    result = run(ingest_message(ref, "uaz-token", normalize_message(event)))
    assert result.outcome == "stored" and result.conversation
    return result.conversation


def lead_of(ref: registry.InstanceRef, contact: str) -> str:
    return str(writes(ref, contact)["lead_id"])


def change(org_id: str, lead_id: str, source: str, **fields: object) -> Lead:
    return run(update_lead(org_id, lead_id, LeadChanges.model_validate(fields), source=source))  # type: ignore[arg-type]


def test_a_lead_stored_before_profiles_still_parses(db: redis_py.Redis) -> None:
    org_id, ref = tenant()
    lead_id = lead_of(ref, "5511977770001")
    lead = Lead.model_validate(db.hgetall(OrgKeys(org_id).lead(lead_id)))
    assert (lead.tags, lead.fields, lead.labels, lead.edited) == ([], {}, [], [])
    assert (lead.email, lead.birthday, lead.profile_picture, lead.updated_at) == (None, None, None, None)


def test_an_operator_sets_only_the_given_fields_and_claims_them(db: redis_py.Redis) -> None:
    org_id, ref = tenant()
    lead_id = lead_of(ref, "5511977770002")
    lead = change(org_id, lead_id, "operator", name="Ana Souza", email="ana@Example.com", birthday="--05-14",
                  tags=["vip", "vip", "sp"], fields={"plan": "gold"})  # fmt: skip
    assert (lead.name, lead.email, lead.birthday, lead.tags, lead.fields) == (
        "Ana Souza", "ana@example.com", "--05-14", ["vip", "sp"], {"plan": "gold"})  # fmt: skip
    assert sorted(lead.edited) == ["birthday", "email", "fields.plan", "name", "tags"]
    assert lead.phone == "+5511977770002" and lead.updated_at
    stored = db.hgetall(OrgKeys(org_id).lead(lead_id))
    assert json.loads(stored["tags"]) == ["vip", "sp"] and json.loads(stored["fields"]) == {"plan": "gold"}
    again = change(org_id, lead_id, "operator", email=None, fields={"plan": None, "city": "Recife"})
    assert again.email is None and again.fields == {"city": "Recife"} and again.name == "Ana Souza"
    assert "fields.city" in again.edited


def test_ai_and_sync_leave_what_an_operator_edited(db: redis_py.Redis) -> None:
    org_id, ref = tenant()
    lead_id = lead_of(ref, "5511977770003")
    change(org_id, lead_id, "operator", name="Ana (cliente VIP)", tags=["vip"], fields={"plan": "gold"})
    ai = change(org_id, lead_id, "ai", name="Ana", email="ana@example.com", tags=["lead-quente"],
                fields={"plan": "basic", "interest": "sofa"})  # fmt: skip
    assert ai.name == "Ana (cliente VIP)" and ai.tags == ["vip"]  # tags edited: the AI adds nothing either
    assert ai.fields == {"interest": "sofa", "plan": "gold"} and ai.email == "ana@example.com"
    assert "email" not in ai.edited  # the AI claims nothing
    synced = change(org_id, lead_id, "sync", name="Ana WhatsApp", email="x@example.com", labels=["Cliente"],
                    profile_picture="https://pps.whatsapp.net/a.jpg")  # fmt: skip
    assert synced.name == "Ana (cliente VIP)" and synced.email == "x@example.com"  # email: the AI's, not edited
    assert synced.labels == ["Cliente"] and synced.profile_picture == "https://pps.whatsapp.net/a.jpg"


def test_ai_tags_join_the_leads_up_to_twenty(db: redis_py.Redis) -> None:
    org_id, ref = tenant()
    lead_id = lead_of(ref, "5511977770004")
    change(org_id, lead_id, "sync", tags=["a", "b"])
    assert change(org_id, lead_id, "ai", tags=["b", "c"]).tags == ["a", "b", "c"]
    assert change(org_id, lead_id, "sync", tags=["z"]).tags == ["z"]  # not the AI: replaces
    many = change(org_id, lead_id, "ai", tags=[f"t{i}" for i in range(20)])
    assert many.tags == ["z", *(f"t{i}" for i in range(19))]


def test_an_update_that_changes_nothing_writes_nothing(db: redis_py.Redis) -> None:
    org_id, ref = tenant()
    lead_id = lead_of(ref, "5511977770005")
    first = run(apply_lead_changes(org_id, lead_id, LeadChanges(name="Bia", labels=["Novo"]), source="sync"))
    assert sorted(first.changed) == ["labels", "name"]
    before = db.hgetall(OrgKeys(org_id).lead(lead_id))
    same = run(apply_lead_changes(org_id, lead_id, LeadChanges(name="Bia", labels=["Novo"]), source="sync"))
    assert same.changed == [] and db.hgetall(OrgKeys(org_id).lead(lead_id)) == before


def test_an_unknown_lead_is_missing_and_nothing_is_created(db: redis_py.Redis) -> None:
    org_id, _ = tenant()
    with pytest.raises(RecordMissing):
        change(org_id, "lead_000000000000", "operator", name="x")
    assert not db.exists(OrgKeys(org_id).lead("lead_000000000000"))


def test_at_most_thirty_custom_fields(db: redis_py.Redis) -> None:
    org_id, ref = tenant()
    lead_id = lead_of(ref, "5511977770006")
    change(org_id, lead_id, "operator", fields={f"f{i}": "v" for i in range(30)})
    with pytest.raises(InvalidPayload, match="30"):
        change(org_id, lead_id, "operator", fields={"one_more": "v", "f0": "changed"})
    assert json.loads(db.hget(OrgKeys(org_id).lead(lead_id), "fields") or "{}")["f0"] == "v"  # nothing applied
    ai = change(org_id, lead_id, "ai", fields={"one_more": "v"})  # the AI's extra key is dropped, no error
    assert len(ai.fields) == 30 and "one_more" not in ai.fields


@pytest.mark.parametrize(
    "fields",
    [{"name": "x" * 101}, {"email": "ana@"}, {"birthday": "1990-02-30"}, {"birthday": "--13-01"},
     {"birthday": "14/05/1990"}, {"tags": ["x" * 41]}, {"tags": [f"t{i}" for i in range(21)]},
     {"fields": {"Plan": "x"}}, {"fields": {"plan": "x" * 201}}, {"fields": {f"k{i}": "v" for i in range(31)}},
     {"phone": "+5511999990000"}, {"edited": []}],
)  # fmt: skip
def test_changes_are_validated(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        LeadChanges.model_validate(fields)


def test_iter_leads_visits_every_lead_once(db: redis_py.Redis) -> None:
    org_id, ref = tenant()
    ids = {lead_of(ref, f"55119777701{n:02d}") for n in range(25)}
    assert len(db.hgetall(OrgKeys(org_id).lead_index)) == 50  # each by phone and by LID

    async def collect() -> list[list[Lead]]:
        return [batch async for batch in iter_leads(org_id, batch=10)]

    batches = run(collect())
    assert len([lead.id for batch in batches for lead in batch]) == 25
    assert {lead.id for batch in batches for lead in batch} == ids
    assert all(len(batch) <= 10 for batch in batches)


def test_lead_activity_reads_the_latest_messages_either_way(db: redis_py.Redis) -> None:
    org_id, ref = tenant()
    wrote = writes(ref, "5511977770201")
    ours = writes(ref, "5511977770202", "promo", from_me=True)  # only we wrote to this one
    created = run(outbound.create_outbound(org_id, wrote["id"], {"id": "msg_a1", "kind": "text", "text": "x",
                                           "lane": "realtime"}, preview="x", restart_followups=False))  # fmt: skip
    run(record_sent(org_id, created.message["id"], "WA-A1", 1_796_000_000_000))
    activity = run(lead_activity(org_id, [wrote["lead_id"], ours["lead_id"], "lead_000000000000"]))
    conv = db.hgetall(OrgKeys(org_id).conversation(wrote["id"]))
    assert activity[wrote["lead_id"]].replied and activity[wrote["lead_id"]].last_inbound_at == int(
        conv["last_inbound_at"]
    )
    assert not activity[ours["lead_id"]].replied and activity[ours["lead_id"]].last_outbound_at
    assert activity["lead_000000000000"].last_inbound_at is None

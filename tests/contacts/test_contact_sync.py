"""The contact sync end to end: the start job, batch jobs through the sandbox QStash, the UAZAPI
simulator answering ``/chat/find`` and ``/labels``, leads enriched in Redis."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.contacts.helpers import Sync
from tests.conversation_loop import Loop
from tests.support import AppProcess, wait_until, zapline_cli
from zapline.store.keys import OrgKeys


@pytest.fixture
def sync(app: AppProcess, sandbox: dict[str, str]) -> Iterator[Sync]:
    found = Sync(Loop(app, sandbox))
    yield found
    found.redis.close()


def many(sync: Sync, leads: int, strangers: int) -> tuple[dict[str, str], list[str]]:
    """``leads`` customers who wrote and ``strangers`` who never did, spread over UAZAPI's order of chats."""
    numbers = sync.numbers(leads + strangers)
    total = len(numbers)
    wrote = [n for i, n in enumerate(numbers) if i * leads // total != (i + 1) * leads // total]
    others = [n for n in numbers if n not in wrote]
    sync.set_contacts([{"number": n, "name": f"Estranho {n[-3:]}"} for n in others])  # chats UAZAPI has
    return sync.leads_write(wrote), others


def test_a_sync_of_110_chats_runs_in_three_batch_jobs_and_creates_no_lead(sync: Sync) -> None:
    leads, strangers = many(sync, 60, 50)
    profiles = [{"number": n, "picture": f"https://pps.whatsapp.net/v/{n}.jpg",
                 "labels": ["Cliente VIP"] if i % 2 else ["Novo", "Orçamento"],
                 **({"agenda_name": f"Agenda {n[-3:]}"} if i % 3 == 0 else {})}
                for i, n in enumerate(sorted(leads))]  # fmt: skip
    sync.set_contacts(profiles)
    conversations = len(sync.tenant.api("/conversations", limit="200").json()["items"])

    started = sync.start("2026-01-15T06:00")
    assert (started["run"], started["instances"]) == ("20260115T0600", 1)
    state = sync.finished("20260115T0600")

    assert sync.find_calls() == [(0, 200), (50, 200), (100, 200)]
    assert (state["batches"], state["seen"], state["matched"], state["unknown"], state["updated"]) == (
        "3", "110", "60", "50", "60")  # fmt: skip
    assert wait_until(lambda: sync.deliveries() == 3, what="three batch jobs delivered")
    for i, number in enumerate(sorted(leads)):
        lead = sync.lead(leads[number])
        assert lead["profile_picture"] == f"https://pps.whatsapp.net/v/{number}.jpg"
        assert lead["labels"] == (["Cliente VIP"] if i % 2 else ["Novo", "Orçamento"])
        assert lead["name"] == (f"Agenda {number[-3:]}" if i % 3 == 0 else f"Cliente {number[-3:]}")
        assert lead["edited"] == []
    for number in strangers:  # enriched only: a chat without a lead stays without one
        assert sync.tenant.api("/leads", phone=f"+{number}").status_code == 404
    assert len(sync.tenant.api("/conversations", limit="200").json()["items"]) == conversations


def test_an_operator_edited_name_survives_the_sync(sync: Sync) -> None:
    leads = sync.leads_write(sync.numbers(3))
    edited_number, *others = sorted(leads)
    operator = httpx.patch(f"{sync.loop.app.url}/api/v1/leads/{leads[edited_number]}", json={"name": "Dona Ana (VIP)"},
                           headers={"Authorization": f"Bearer {sync.tenant.api_key}"}, timeout=30)  # fmt: skip
    assert operator.status_code == 200, operator.text
    sync.set_contacts([{"number": n, "agenda_name": f"Agenda {n[-3:]}", "labels": ["Cliente"]} for n in leads])

    sync.start("2026-01-15T12:00")
    state = sync.finished("20260115T1200")

    edited = sync.lead(leads[edited_number])
    assert edited["name"] == "Dona Ana (VIP)" and edited["edited"] == ["name"]
    assert edited["labels"] == ["Cliente"]  # what the operator did not edit is still synced
    assert [sync.lead(leads[n])["name"] for n in others] == [f"Agenda {n[-3:]}" for n in others]
    assert state["updated"] == "3"


def test_a_failed_batch_is_retried_alone_and_the_run_goes_on(sync: Sync) -> None:
    many(sync, 30, 80)
    sync.fault(status=429, retry_after=0, count=1, offset=50)
    sync.start("2026-01-15T18:00")
    state = sync.finished("20260115T1800")
    assert sync.find_calls() == [(0, 200), (50, 429), (50, 200), (100, 200)]
    assert (state["batches"], state["seen"], state["matched"]) == ("3", "110", "30")


def test_a_run_stopped_by_a_dead_batch_is_resumed_at_its_cursor_by_the_next(sync: Sync) -> None:
    leads, _ = many(sync, 30, 80)
    sync.set_contacts([{"number": n, "labels": ["Sincronizado"]} for n in leads])
    sync.fault(status=429, retry_after=0, count=4, offset=50)  # the first attempt and QStash's 3 retries
    sync.start("2026-01-16T00:00")
    wait_until(lambda: sync.find_calls().count((50, 429)) == 4, timeout=60, what="every attempt of batch 2 failed")
    stopped = sync.state()
    assert (stopped["run"], stopped["status"], stopped["offset"], stopped["batches"]) == (
        "20260116T0000", "running", "50", "1")  # fmt: skip

    resumed = sync.start("2026-01-16T06:00")
    assert resumed["resumed"] == {sync.tenant.instance_id: 50}
    state = sync.finished("20260116T0600")
    assert sync.find_calls() == [(0, 200), *[(50, 429)] * 4, (50, 200), (100, 200)]  # batch 1 not read again
    assert (state["start_offset"], state["previous_run"], state["batches"]) == ("50", "20260116T0000", "2")
    assert all(sync.lead(lead_id)["labels"] == ["Sincronizado"] for lead_id in leads.values())


def test_a_second_run_without_changes_writes_nothing(sync: Sync) -> None:
    leads = sync.leads_write(sync.numbers(5))
    sync.set_contacts([{"number": n, "picture": f"https://pps.whatsapp.net/v/{n}.jpg", "labels": ["A"]} for n in leads])
    sync.start("2026-01-17T00:00")
    assert sync.finished("20260117T0000")["updated"] == "5"
    before = {n: sync.lead(lead_id) for n, lead_id in leads.items()}
    digests_key = OrgKeys(sync.tenant.org_id).contact_digests(sync.tenant.instance_id)
    digests = sync.redis.hgetall(digests_key)

    again = sync.start("2026-01-17T06:00")
    state = sync.finished(again["run"])
    assert (state["updated"], state["unchanged"], state["kept"]) == ("0", "5", "0")
    assert {n: sync.lead(lead_id) for n, lead_id in leads.items()} == before
    assert sync.redis.hgetall(digests_key) == digests

    changed = sorted(leads)[2]
    sync.set_contacts([{"number": changed, "picture": "https://pps.whatsapp.net/v/new.jpg"}])
    state = sync.finished(sync.start("2026-01-17T12:00")["run"])
    assert (state["updated"], state["unchanged"]) == ("1", "4")
    assert sync.lead(leads[changed])["profile_picture"] == "https://pps.whatsapp.net/v/new.jpg"
    assert {n: sync.lead(leads[n]) for n in leads if n != changed} == {n: before[n] for n in leads if n != changed}


def test_a_retried_start_publishes_each_first_batch_once(sync: Sync) -> None:
    sync.leads_write(sync.numbers(2))
    first = sync.start("2026-01-18T00:00")
    again = sync.start("2026-01-18T00:00")  # QStash delivering the start job twice
    assert first["instances"] == again["instances"] == 1
    sync.finished("20260118T0000")
    assert sync.find_calls() == [(0, 200)]
    assert sync.state()["batches"] == "1"


def test_the_operator_can_run_the_sync_now(sync: Sync) -> None:
    leads = sync.leads_write(sync.numbers(2))
    sync.set_contacts([{"number": n, "labels": ["Agora"]} for n in leads])
    ran = httpx.post(f"{sync.loop.app.url}/api/v1/schedules/contact-sync/run", timeout=30,
                     headers={"Authorization": f"Bearer {sync.tenant.api_key}"})  # fmt: skip
    assert ran.status_code == 200, ran.text
    wait_until(lambda: sync.state().get("status") == "done", timeout=60, what="the run-now sync done")
    assert all(sync.lead(lead_id)["labels"] == ["Agora"] for lead_id in leads.values())


def test_schedules_list_shows_the_contact_sync(app: AppProcess, sandbox: dict[str, str]) -> None:
    listed = zapline_cli({**sandbox, "APP_URL": app.url}, "schedules", "list")
    row = next(r for r in listed["schedules"] if r["name"] == "contact-sync")
    assert (row["cron"], row["timezone"], row["fan_out"], row["job"]) == (
        "0 */6 * * *", "org", "per_org", "contact-sync-start")  # fmt: skip
    assert row["qstash_schedule"] == "zapline-tick"  # no QStash schedule of its own

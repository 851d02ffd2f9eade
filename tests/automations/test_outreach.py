"""Birthdays and inactive leads, each firing delivered to the jobs function as QStash delivers it (the
firing's local time says which day it is); what the leads get is read from the UAZAPI simulator."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.automations.helpers import Shop, new_number
from tests.support import AppProcess

SP = ZoneInfo("America/Sao_Paulo")


@pytest.fixture
def shop(app: AppProcess, sandbox: dict[str, str]) -> Shop:
    shop = Shop({**sandbox, "APP_URL": app.url})
    shop.configure(birthdays={"enabled": True}, inactive={"enabled": True})  # they write to leads: opt-in
    return shop


def local(days: float = 0) -> datetime:
    return datetime.now(SP) + timedelta(days=days)


def test_a_birthday_is_greeted_once_a_year_in_the_leads_conversation_never_an_opted_out_lead(shop: Shop) -> None:
    ana, bia, caio, duda = (new_number() for _ in range(4))
    shop.customer_says(ana, "Oi!", name="Ana Souza")
    shop.customer_says(bia, "Bom dia", name="Bia")
    shop.customer_says(caio, "Olá", name="Caio")
    shop.customer_says(duda, "PARAR", name="Duda")  # opts out
    shop.edit_lead(ana, birthday="1990-07-14")
    shop.edit_lead(bia, birthday="--07-15")
    shop.edit_lead(duda, birthday="--07-14")

    first = shop.fire("birthdays", "2030-07-14T09:00")
    assert (first["outcome"], first["sent"], first["skipped"].get("opted_out")) == ("done", 1, 1)
    [greeting] = shop.wait_sent(ana, "aniversário")
    assert greeting.startswith("Feliz aniversário, Ana! 🎉")
    [conversation] = [c for c in shop.api("GET", "/conversations").json()["items"]
                      if c["lead_id"] == shop.lead(ana)["id"]]  # fmt: skip
    messages = shop.api("GET", f"/conversations/{conversation['id']}/messages").json()["items"]
    assert [(m["direction"], m["text"]) for m in messages] == [("in", "Oi!"), ("out", greeting)]

    assert shop.fire("birthdays", "2030-07-14T09:00", retried=1)["outcome"] == "already_done"  # a late retry
    again = shop.fire("birthdays", "now-2030-07-14T15:00:00")  # the owner runs it again that day
    assert (again["sent"], again["skipped"].get("greeted_this_year")) == (0, 1)
    assert shop.fire("birthdays", "2030-07-15T09:00")["sent"] == 1  # Bia's day
    shop.wait_sent(bia, "Feliz aniversário, Bia!")
    assert shop.fire("birthdays", "2031-07-14T09:00")["sent"] == 1  # a year later: Ana again
    assert len(shop.wait_sent(ana, "aniversário", count=2)) == 2
    assert shop.sent(caio) == [] and shop.sent(duda) == []


def test_an_inactive_lead_gets_one_reactivation_per_period_and_an_opted_out_one_none(shop: Shop) -> None:
    shop.configure(inactive={"days": 3, "text": "Oi {first_name}, faz {days} dias! Podemos ajudar?"})
    eva, fabi = new_number(), new_number()
    shop.customer_says(eva, "Oi", name="Eva Reis")
    shop.customer_says(fabi, "Oi", name="Fabi")
    assert shop.api("POST", f"/leads/{shop.lead(fabi)['id']}/opt-out").status_code == 200

    soon = local(days=2).strftime("%Y-%m-%dT10:00")  # two days: not inactive yet
    assert shop.fire("inactive", soon)["sent"] == 0
    later = local(days=5).strftime("%Y-%m-%dT10:00")
    assert shop.fire("inactive", later)["sent"] == 1
    assert shop.wait_sent(eva, "Podemos ajudar") == ["Oi Eva, faz 3 dias! Podemos ajudar?"]
    assert shop.fire("inactive", later, retried=1)["outcome"] == "already_done"

    next_week = shop.fire("inactive", local(days=7).strftime("%Y-%m-%dT10:00"))  # within the 3-day period
    assert (next_week["sent"], next_week["skipped"].get("reactivated_this_period")) == (0, 1)
    assert shop.fire("inactive", local(days=12).strftime("%Y-%m-%dT10:00"))["sent"] == 1  # a new period
    assert len(shop.wait_sent(eva, "Podemos ajudar", count=2)) == 2
    assert shop.sent(fabi) == []


def test_a_switched_off_automation_does_nothing_unless_the_owner_runs_it(shop: Shop) -> None:
    gil = new_number()
    shop.customer_says(gil, "Oi", name="Gil")
    shop.edit_lead(gil, birthday="--03-09")
    shop.configure(birthdays={"enabled": False})
    assert shop.fire("birthdays", "2030-03-09T09:00")["outcome"] == "disabled"
    assert shop.fire("birthdays", "now-2030-03-09T11:00:00")["sent"] == 1
    shop.wait_sent(gil, "Feliz aniversário, Gil!")

"""``GET``/``PUT /api/v1/automations`` over real HTTP: defaults, partial changes, and ``enabled`` as the
schedule's own pause flag (so ``/api/v1/schedules`` always agrees)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.automations.helpers import Shop
from tests.support import AppProcess

NAMES = ["daily-summary", "birthdays", "inactive", "opportunities", "weekly-report"]


@pytest.fixture(scope="module")
def shop(app: AppProcess, sandbox: dict[str, str]) -> Shop:
    return Shop({**sandbox, "APP_URL": app.url}, timezone="Europe/Lisbon")


def _paused(shop: Shop) -> dict[str, bool]:
    return {s["name"]: s["paused"] for s in shop.api("GET", "/schedules").json()["schedules"] if s["name"] in NAMES}


def test_automations_start_at_their_local_times_with_portuguese_texts_lead_facing_ones_off(shop: Shop) -> None:
    answer = shop.api("GET", "/automations")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["timezone"] == "Europe/Lisbon"
    runs = {s["name"]: s for s in body["schedules"]}
    assert sorted(runs) == sorted(NAMES)
    assert {n: (r["cron"], r["enabled"]) for n, r in runs.items()} == {
        "daily-summary": ("0 18 * * *", True), "birthdays": ("0 9 * * *", False), "inactive": ("0 10 * * 1", False),
        "opportunities": ("0 15 * * 2,4", True), "weekly-report": ("0 23 * * 0", True),
    }  # fmt: skip
    assert runs["daily-summary"]["next_run"][11:19] == "18:00:00"
    assert runs["daily-summary"]["next_run"][-6:] in ("+00:00", "+01:00")  # Lisbon, winter or summer
    assert "{first_name}" in body["birthdays"]["text"] and "aniversário" in body["birthdays"]["text"]
    assert (body["inactive"]["days"], body["opportunities"]["quiet_days"]) == (30, 2)
    assert "quanto custa" in body["opportunities"]["keywords"]
    assert body["notifications"] == {
        "enabled": True,
        "urgent_keywords": ["urgente", "reclamação", "procon", "cancelar"],
    }


def test_switching_an_automation_off_is_pausing_its_schedule_and_the_other_way_round(shop: Shop) -> None:
    off = shop.configure(birthdays={"enabled": False})
    assert off["birthdays"]["enabled"] is False
    assert [s["enabled"] for s in off["schedules"] if s["name"] == "birthdays"] == [False]
    assert _paused(shop)["birthdays"] is True and _paused(shop)["daily-summary"] is False

    assert shop.api("POST", "/schedules/birthdays/resume").status_code == 200
    # birthdays write to leads: resuming the schedule alone does not turn them on, the owner's choice does
    assert shop.api("GET", "/automations").json()["birthdays"]["enabled"] is False
    assert shop.configure(birthdays={"enabled": True})["birthdays"]["enabled"] is True
    assert _paused(shop)["birthdays"] is False
    assert shop.api("POST", "/schedules/weekly-report/pause").status_code == 200
    assert shop.api("GET", "/automations").json()["weekly_report"]["enabled"] is False
    assert shop.configure(weekly_report={"enabled": True})["weekly_report"]["enabled"] is True
    assert _paused(shop)["weekly-report"] is False


def test_a_change_names_only_what_it_changes(shop: Shop) -> None:
    shop.configure(inactive={"days": 45})
    changed = shop.configure(inactive={"text": "Oi {first_name}, faz {days} dias!"}, notifications={"urgent_keywords":
                             ["Urgente", "PROCON", "urgente"]})  # fmt: skip
    assert changed["inactive"] == {"enabled": False, "days": 45, "text": "Oi {first_name}, faz {days} dias!"}
    assert changed["notifications"]["urgent_keywords"] == ["urgente", "procon"]
    again = shop.api("GET", "/automations").json()
    assert again["inactive"] == changed["inactive"] and again["birthdays"]["enabled"] is True
    assert again["notifications"] == {"enabled": True, "urgent_keywords": ["urgente", "procon"]}


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"birthdays": {"text": "Parabéns {nome}!"}}, 400, "{nome} is not a placeholder"),
        ({"daily_summary": {"text": "{date.__class__}"}}, 400, "not a placeholder"),
        ({"inactive": {"days": 0}}, 400, "inactive.days"),
        ({"inactive": {"days": "30"}}, 400, "inactive.days"),
        ({"opportunities": {"keywords": ["x"]}}, 400, "opportunities.keywords"),
        ({"weekly_report": {"text": "x" * 1001}}, 413, "weekly_report.text"),
        ({"birthday": {"enabled": False}}, 400, "birthday"),
        ({"birthdays": {"enabled": False, "when": "09:00"}}, 400, "birthdays.when"),
        ([], 400, "JSON object"),
    ],
)
def test_a_bad_change_is_refused_with_its_reason_and_changes_nothing(
    shop: Shop, body: Any, status: int, reason: str
) -> None:
    before = shop.api("GET", "/automations").json()
    answer = shop.api("PUT", "/automations", json=body)
    assert answer.status_code == status, answer.text
    assert reason in answer.json()["error"]
    assert shop.api("GET", "/automations").json() == before


def test_an_agent_key_may_neither_read_nor_change_automations(shop: Shop) -> None:
    agent = shop.api("POST", "/keys", json={"role": "agent", "name": "atendente"}).json()["api_key"]
    for method, kwargs in (("GET", {}), ("PUT", {"json": {"birthdays": {"enabled": False}}})):
        answer = shop.api(method, "/automations", headers={"Authorization": f"Bearer {agent}"}, **kwargs)
        assert answer.status_code == 403, answer.text
    assert _paused(shop)["birthdays"] is False

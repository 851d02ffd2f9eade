"""The automations' pure rules: templates, birthdays, keywords, a firing's local time."""

from __future__ import annotations

from datetime import date

import pytest

from zapline.automations.firing import firing_of
from zapline.automations.outreach import birthday_today
from zapline.automations.reports import nps, since, waiting_for_reply, week_of
from zapline.automations.settings import Birthdays, Inactive, render
from zapline.automations.words import fold, keyword_pattern
from zapline.errors import InvalidPayload


def test_a_template_names_only_its_placeholders_and_an_unknown_name_leaves_no_stray_comma() -> None:
    assert render("Feliz aniversário, {first_name}! 🎉", first_name="Ana") == "Feliz aniversário, Ana! 🎉"
    assert render("Feliz aniversário, {first_name}! 🎉", first_name="") == "Feliz aniversário! 🎉"
    assert render("Oi {first_name}, quanto tempo!", first_name="") == "Oi, quanto tempo!"
    assert render("{days} dias e {other}", days=30) == "30 dias e {other}"  # not a placeholder: kept as typed


@pytest.mark.parametrize("text", ["Oi {nome}", "{name.__class__}", "{name!r}", "{0}", "   "])
def test_a_template_with_anything_but_its_placeholders_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        Birthdays(text=text)


def test_the_inactive_text_may_name_the_days() -> None:
    assert Inactive(text="Faz {days} dias, {first_name}!").text == "Faz {days} dias, {first_name}!"
    with pytest.raises(ValueError, match="days"):
        Inactive(days=0)


@pytest.mark.parametrize(
    ("birthday", "today", "greeted"),
    [
        ("1990-07-14", date(2031, 7, 14), True),
        ("--07-14", date(2031, 7, 14), True),
        ("1990-07-14", date(2031, 7, 15), False),
        ("--02-29", date(2031, 2, 28), True),  # no 29 February in 2031: the 28th
        ("--02-29", date(2032, 2, 28), False),  # 2032 has one
        ("2000-02-29", date(2032, 2, 29), True),
        ("--02-28", date(2032, 2, 28), True),
        (None, date(2031, 7, 14), False),
        ("junk", date(2031, 7, 14), False),
    ],
)
def test_whose_birthday_is_today(birthday: str | None, today: date, greeted: bool) -> None:
    assert birthday_today(birthday, today) is greeted


def test_keywords_ignore_case_and_accents_and_match_at_a_words_start() -> None:
    pattern = keyword_pattern(["Reclamação", "parcel", "quanto custa"])
    assert pattern is not None
    assert pattern.search(fold("Quero fazer uma RECLAMACAO")) is not None
    assert pattern.search(fold("dá pra parcelar?")) is not None
    assert pattern.search(fold("Quanto   custa?")) is None  # words as typed, not any spacing
    assert pattern.search(fold("quanto custa?")) is not None
    assert pattern.search(fold("encomendei uma aparcelada")) is None  # inside a word
    assert keyword_pattern([" ", ""]) is None


def test_a_firing_is_the_local_time_the_tick_planned_or_the_owners_run_now() -> None:
    firing = firing_of("org_0000000000", "daily-summary", "2025-01-15T18:00", "America/Sao_Paulo")
    assert (firing.day, firing.manual, firing.at.isoformat()) == (date(2025, 1, 15), False, "2025-01-15T18:00:00-03:00")
    assert firing.ms == 1736974800000
    assert firing.key() == "daily-summary-2025-01-15T1800"
    manual = firing_of("org_0000000000", "birthdays", "now-2025-07-01T10:11:12", "Europe/Lisbon")
    assert (manual.manual, manual.at.isoformat()) == (True, "2025-07-01T10:11:12+01:00")
    for junk in ("tomorrow", "2025-01-15", "2025-01-15T18:00+01:00", "now-"):
        with pytest.raises(InvalidPayload):
            firing_of("org_0000000000", "birthdays", junk, "UTC")


def test_report_arithmetic() -> None:
    assert nps({"nps_responses": 4, "nps_promoters": 3, "nps_detractors": 1}) == 50
    assert nps({}) is None
    assert [since(0, ms) for ms in (59_000, 45 * 60_000, 3 * 3_600_000, 3 * 86_400_000)] == [
        "0 min", "45 min", "3 h", "3 dias",
    ]  # fmt: skip
    assert week_of(date(2025, 1, 15))[0] == date(2025, 1, 13) and week_of(date(2025, 1, 19))[-1] == date(2025, 1, 19)
    conversations = [
        {"id": "a", "status": "open", "last_direction": "in", "last_inbound_at": "200"},
        {"id": "b", "status": "open", "last_direction": "out", "last_inbound_at": "100"},
        {"id": "c", "status": "closed", "last_direction": "in", "last_inbound_at": "100"},
        {"id": "d", "status": "open", "last_direction": "in", "last_inbound_at": "100"},
        {"id": "e", "status": "open", "last_direction": "in", "last_inbound_at": "900"},  # after the firing
    ]
    assert [c["id"] for c in waiting_for_reply(conversations, 500)] == ["d", "a"]


def test_each_automation_is_declared_once_everywhere_it_is_named() -> None:
    from zapline.automations import NAMES
    from zapline.automations.settings import SCHEDULED
    from zapline.jobs.automations import AUTOMATIONS
    from zapline.jobs.kinds import AUTOMATION, AutomationJob
    from zapline.registry.schedules import SCHEDULES

    declared = [s for s in SCHEDULES if s.job is AUTOMATION]
    assert [s.name for s in declared] == list(NAMES) == list(SCHEDULED) == list(AUTOMATIONS)
    assert all((s.timezone, s.fan_out) == ("org", "per_org") for s in declared)
    for name in NAMES:
        AutomationJob(org_id="org_0000000000", schedule=name, local_time="2025-01-15T18:00")
    with pytest.raises(ValueError):
        AutomationJob(org_id="org_0000000000", schedule="contact-sync", local_time="2025-01-15T18:00")

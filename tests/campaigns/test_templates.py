"""Campaign templates, windows and audiences as plain functions: rendering, fallbacks, refusals, no
evaluation of anything; the window's next opening (DST included); the list's phones and skips."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from zapline.campaigns.audience import list_entries, matches
from zapline.campaigns.templates import Template, TemplateError, context_for
from zapline.campaigns.timing import Window, parse_start, send_times
from zapline.errors import BadRequest


def render(text: str, name: str | None = "Ana Maria Souza", phone: str = "+5511999990001", **fields: str) -> str:
    return Template.parse(text).render(context_for(name, phone), fields)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Olá {{name}}!", "Olá Ana Maria Souza!"),
        ("Olá {{ first_name }}, tudo bem?", "Olá Ana, tudo bem?"),
        ("Seu número: {{phone}}", "Seu número: +5511999990001"),
        ("Oferta em {{cidade}} para {{fields.plano}}", "Oferta em Recife para ouro"),
        ("{{name}}{{name}}", "Ana Maria SouzaAna Maria Souza"),
        ("{ name } {{first_name}}", "{ name } Ana"),  # single braces are text
    ],
)
def test_placeholders_render_the_recipients_values(template: str, expected: str) -> None:
    assert render(template, cidade="Recife", plano="ouro") == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Olá {{name}}, tudo bem?", "Olá, tudo bem?"),  # the default fallback: empty, and the space goes
        ("Olá {{name}}!", "Olá!"),
        ("Olá {{name}} tudo bem?", "Olá tudo bem?"),
        ("Olá {{name|cliente}}, tudo bem?", "Olá cliente, tudo bem?"),
        ("Olá {{ first_name | amigo }}", "Olá amigo"),
        ("{{cidade|sua cidade}} tem frete grátis", "sua cidade tem frete grátis"),
        ("Olá {{name|}}\nLinha dois", "Olá\nLinha dois"),
        ("{{name}}", ""),
    ],
)
def test_a_missing_value_takes_the_fallback(template: str, expected: str) -> None:
    assert render(template, name=None) == expected


def test_a_blank_value_counts_as_missing_and_values_are_never_rendered_again() -> None:
    assert render("Olá {{name|cliente}}", name="   ") == "Olá cliente"
    assert render("Olá {{name}}", name="{{phone}} {{__class__}}") == "Olá {{phone}} {{__class__}}"
    assert render("Cupom {{cupom}}", cupom="{% raw %}") == "Cupom {% raw %}"


@pytest.mark.parametrize(
    ("template", "named"),
    [
        ("{{__class__}}", "{{__class__}}"),
        ("{{name.__class__}}", "{{name.__class__}}"),
        ("{{fields.__dict__}}", "{{fields.__dict__}}"),
        ("{{ name.upper() }}", "{{ name.upper() }}"),
        ("{{name[0]}}", "{{name[0]}}"),
        ("{{name|a|b}}", "{{name|a|b}}"),
        ("{{name|{x}}}", "{{name|{x}}"),
        ("{{}}", "{{}}"),
        ("{{ 7*7 }}", "{{ 7*7 }}"),
        ("{%- for x in y %}", "'{%'"),
        ("Oi {{name}", "'{{'"),
        ("Oi name}}", "'}}'"),
        ("{{{name}}}", "{{{name}}"),
    ],
)
def test_unknown_syntax_is_refused_naming_it(template: str, named: str) -> None:
    with pytest.raises(TemplateError) as refused:
        Template.parse(template)
    assert named in str(refused.value)


def test_nothing_but_names_is_looked_up() -> None:
    template = Template.parse("{{name}} {{fields.format}} {{mro}}")
    assert [(p.name, p.custom) for p in template.placeholders] == [("name", False), ("format", True), ("mro", True)]
    assert template.render({"name": "Ana"}, {}) == "Ana"


SAO_PAULO = "America/Sao_Paulo"
LISBON = "Europe/Lisbon"


def at(text: str, zone: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


def test_a_window_opens_at_its_next_local_start() -> None:
    window = Window.of("09:00", "20:00", SAO_PAULO)
    assert window.contains(at("2026-03-10T09:00", SAO_PAULO)) and not window.contains(at("2026-03-10T20:00", SAO_PAULO))
    assert window.next_opening(at("2026-03-10T21:30", SAO_PAULO)) == at("2026-03-11T09:00", SAO_PAULO)
    assert window.next_opening(at("2026-03-10T07:00", SAO_PAULO)) == at("2026-03-10T09:00", SAO_PAULO)
    inside = at("2026-03-10T12:00", SAO_PAULO)
    assert window.next_opening(inside) == inside


def test_a_window_across_midnight_and_across_a_dst_change() -> None:
    night = Window.of("22:00", "06:00", SAO_PAULO)
    assert night.contains(at("2026-03-10T23:30", SAO_PAULO)) and night.contains(at("2026-03-11T05:59", SAO_PAULO))
    assert night.next_opening(at("2026-03-11T06:00", SAO_PAULO)) == at("2026-03-11T22:00", SAO_PAULO)
    # Lisbon moves to summer time on 2026-03-29 at 01:00: 09:00 that day is 08:00 UTC, not 09:00
    lisbon = Window.of("09:00", "18:00", LISBON)
    opening = lisbon.next_opening(at("2026-03-28T19:00", LISBON) + 86400)
    assert datetime.fromtimestamp(opening, ZoneInfo("UTC")).isoformat() == "2026-03-30T08:00:00+00:00"
    assert lisbon.next_opening(at("2026-03-28T19:00", LISBON)) == at("2026-03-29T09:00", LISBON)


def test_sends_past_the_closing_wait_for_the_next_opening_as_one_group() -> None:
    window = Window.of("09:00", "20:00", SAO_PAULO)
    start = at("2026-03-10T19:58", SAO_PAULO)
    gates = send_times(start, 6, 30.0, window)  # 19:58:00, :30, 19:59:00, :30, then 20:00 → tomorrow
    tomorrow = int(at("2026-03-11T09:00", SAO_PAULO))
    assert gates == [None, None, None, None, tomorrow, tomorrow]
    assert send_times(at("2026-03-10T21:00", SAO_PAULO), 2, 30.0, window) == [tomorrow, tomorrow]
    assert send_times(start, 3, 30.0, None) == [None, None, None]


def test_start_at_is_local_time_in_the_organisations_zone() -> None:
    now = at("2026-03-10T08:00", SAO_PAULO)
    assert parse_start("2026-03-10T09:30", SAO_PAULO, now) == at("2026-03-10T09:30", SAO_PAULO)
    assert parse_start("2026-03-10T09:30:00-03:00", LISBON, now) == at("2026-03-10T09:30", SAO_PAULO)
    assert parse_start(None, SAO_PAULO, now) == now
    assert parse_start("2026-03-01T09:00", SAO_PAULO, now) == now  # past: now
    for bad in ("amanhã às 9", "2026-13-01T09:00", "2028-03-10T09:00"):
        with pytest.raises(BadRequest, match="start_at"):
            parse_start(bad, SAO_PAULO, now)


def test_list_entries_normalise_phones_and_mark_skips() -> None:
    people = [
        SimpleNamespace(phone="11 99999-0001", name="Ana", fields={"cidade": "SP"}),
        SimpleNamespace(phone="+55 11 99999-0001", name="Ana de novo", fields=None),
        SimpleNamespace(phone="5511999990002", name=None, fields=None),
        SimpleNamespace(phone="não sei", name="X", fields=None),
    ]
    entries = list_entries(people, "55")
    assert entries == [
        '{"p":"+5511999990001","n":"Ana","f":{"cidade":"SP"}}',
        '{"p":"+5511999990001","n":"Ana de novo","s":"duplicate"}',
        '{"p":"+5511999990002"}',
        '{"p":"não sei","n":"X","s":"invalid_phone"}',
    ]


def test_a_filter_takes_every_criterion_given() -> None:
    day = 86_400_000
    now = 100 * day
    recent = SimpleNamespace(last_inbound_at=now - day, last_outbound_at=None, replied=True)
    quiet = SimpleNamespace(last_inbound_at=None, last_outbound_at=now - 40 * day, replied=False)
    assert matches({}, [], None, now)
    assert matches({"tags_any": ["VIP", "gold"]}, ["vip"], recent, now)
    assert not matches({"tags_all": ["vip", "gold"]}, ["vip"], recent, now)
    assert matches({"active_within_days": 7, "has_replied": True}, [], recent, now)
    assert not matches({"active_within_days": 7}, [], quiet, now)
    assert matches({"inactive_for_days": 30, "has_replied": False}, [], quiet, now)
    assert not matches({"inactive_for_days": 30}, [], recent, now)
    assert matches({"inactive_for_days": 30}, [], None, now)  # never a message: inactive

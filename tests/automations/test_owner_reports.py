"""What the owner gets: the daily summary, opportunities and the weekly report, each firing delivered to the
jobs function as QStash delivers it; the owner's messages are read from the UAZAPI simulator (the instance's
own number) and from ``GET /api/v1/owner/messages``."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.automations.helpers import Shop, new_number
from tests.support import AppProcess, wait_until

SP = ZoneInfo("America/Sao_Paulo")


@pytest.fixture
def shop(app: AppProcess, sandbox: dict[str, str]) -> Shop:
    return Shop({**sandbox, "APP_URL": app.url})


def minute_from_now(days: float = 0) -> datetime:
    return (datetime.now(SP) + timedelta(days=days, minutes=1)).replace(second=0, microsecond=0)


def test_the_daily_summary_counts_today_and_lists_who_waits_for_a_reply(shop: Shop) -> None:
    ana, bia, caio = new_number(), new_number(), new_number()
    shop.customer_says(ana, "Oi, vocês abrem sábado?", name="Ana Souza")
    shop.customer_says(bia, "Bom dia", name="Bia")
    shop.customer_says(caio, "PARAR", name="Caio")  # opted out: waits for no answer
    [bias] = [c for c in shop.api("GET", "/conversations").json()["items"] if c["lead_id"] == shop.lead(bia)["id"]]
    assert shop.api("POST", f"/conversations/{bias['id']}/messages", json={"text": "Bom dia, Bia!"}).status_code == 200

    at = minute_from_now()
    answer = shop.fire("daily-summary", at.strftime("%Y-%m-%dT%H:%M"))
    assert (answer["outcome"], answer["inbound"], answer["waiting"]) == ("sent", 3, 1)
    [summary] = wait_until(lambda: shop.to_owner("Resumo do dia"), timeout=30, what="the daily summary")
    assert summary.splitlines()[0] == f"📊 *Resumo do dia {at:%d/%m/%Y}*"
    for line in ("Mensagens recebidas: 3", "Mensagens enviadas: 1", "Novos contatos: 3", "Aguardando resposta: 1",
                 "• Ana Souza, há ", "NPS do dia: sem respostas", "Envios com falha: 0"):  # fmt: skip
        assert line in summary, summary
    assert "Bia" not in summary and "Caio" not in summary
    [recorded] = shop.owner_messages("daily-summary")
    assert (recorded["text"], recorded["key"]) == (summary, f"daily-summary-{at:%Y-%m-%dT%H%M}")

    assert shop.fire("daily-summary", at.strftime("%Y-%m-%dT%H:%M"), retried=1)["outcome"] == "already_done"
    assert len(shop.owner_messages("daily-summary")) == 1


def test_opportunities_list_quiet_leads_who_asked_about_buying_or_the_ai_tagged(shop: Shop) -> None:
    ana, bia, caio, duda = (new_number() for _ in range(4))
    shop.customer_says(ana, "Quanto custa o plano anual? Dá pra parcelar?", name="Ana")
    shop.customer_says(bia, "Oi, tudo bem?", name="Bia")
    shop.customer_says(caio, "Qual o VALOR do kit?", name="Caio")
    shop.customer_says(duda, "Vou pensar", name="Duda")
    shop.edit_lead(caio, tags=["venda"])  # closed with a sale
    shop.edit_lead(duda, tags=["buying_intent"])  # as the AI tags a lead

    assert shop.fire("opportunities", minute_from_now(days=1).strftime("%Y-%m-%dT%H:%M"))["outcome"] == "none"
    answer = shop.fire("opportunities", minute_from_now(days=3).strftime("%Y-%m-%dT%H:%M"))
    assert (answer["outcome"], answer["leads"]) == ("sent", 2)
    [listed] = wait_until(lambda: shop.to_owner("Oportunidades"), timeout=30, what="the opportunities")
    assert listed.startswith("💡 *Oportunidades*: 2 cliente(s)")
    assert f'Ana (+{ana}): disse "quanto custa", em silêncio há 3 dias' in listed
    assert f"Duda (+{duda}): marcado pela IA" in listed
    assert "Bia" not in listed and "Caio" not in listed
    assert shop.fire("opportunities", minute_from_now(days=20).strftime("%Y-%m-%dT%H:%M"))["outcome"] == "none"


def test_the_weekly_report_sums_the_week_and_ranks_the_leads(shop: Shop) -> None:
    ana, bia = new_number(), new_number()
    for text in ("Oi", "Tudo bem?", "Quero saber do pedido"):
        shop.customer_says(ana, text, name="Ana")
    shop.customer_says(bia, "Oi", name="Bia")
    today = datetime.now(SP).date()
    sunday = today + timedelta(days=6 - today.weekday())
    monday = sunday - timedelta(days=6)
    wait_until(lambda: shop.api("GET", "/stats/daily").json()["counters"].get("inbound") == 4, what="4 counted")

    answer = shop.fire("weekly-report", f"{sunday.isoformat()}T23:00")
    assert (answer["outcome"], answer["week"], answer["inbound"], answer["top_leads"]) == (
        "sent", monday.isoformat(), 4, 2,
    )  # fmt: skip
    [report] = wait_until(lambda: shop.to_owner("Relatório da semana"), timeout=30, what="the weekly report")
    lines = report.splitlines()
    assert lines[0] == f"📈 *Relatório da semana* ({monday:%d/%m/%Y} a {sunday:%d/%m/%Y})"
    assert "Mensagens recebidas: 4 (antes: 0)" in lines
    assert lines.index("1. Ana: 3 mensagens") + 1 == lines.index("2. Bia: 1 mensagem")
    assert "IA: 0 respostas, 0 tokens" in lines
    assert shop.fire("weekly-report", f"{sunday.isoformat()}T23:00", retried=2)["outcome"] == "already_done"
    assert len(shop.owner_messages("weekly-report")) == 1

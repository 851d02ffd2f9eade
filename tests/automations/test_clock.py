"""The issue's check, on QStash's clock: advancing the sandbox clock past 18:00 in the organisation's timezone
sends the owner one daily summary; a replayed tick after QStash's deduplication window sends nothing more.

The hourly tick is the app's own code (``cronjobs.run_tick``) called here at the sandbox's time: the
deployed tick reads the function's clock, which the sandbox does not move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.automations.helpers import Shop, configured_like_the_app, new_number, qstash_logs
from tests.sandbox.qstash_helpers import advance, now_ms
from tests.support import run, wait_until


def test_advancing_past_18h_local_sends_the_owner_one_daily_summary(stack: dict[str, str]) -> None:
    from zapline.cronjobs import run_tick
    from zapline.registry.schedules import SCHEDULES, tick_hour

    shop = Shop(stack)
    shop.customer_says(new_number(), "Oi, vocês entregam hoje?", name="Ana")
    zone = ZoneInfo(shop.timezone)
    now = datetime.fromtimestamp(now_ms(stack) / 1000, zone)
    evening = now.replace(hour=18, minute=0, second=0, microsecond=0)
    if evening <= now + timedelta(minutes=5):
        evening += timedelta(days=1)
    tick = tick_hour(evening)
    assert tick == evening.astimezone(UTC)  # 18:00 in São Paulo is a whole UTC hour

    with configured_like_the_app(stack):
        planned = run(run_tick(SCHEDULES, tick))
    assert planned["enqueued"] >= 1
    advance(stack, (evening - now).total_seconds() - 60)  # 17:59: not yet
    assert shop.to_owner("Resumo do dia") == []
    advance(stack, 120)  # 18:01
    [summary] = wait_until(lambda: shop.to_owner("Resumo do dia"), timeout=30, what="the daily summary")
    assert summary.startswith(f"📊 *Resumo do dia {evening:%d/%m/%Y}*")

    def delivered() -> list[dict[str, object]]:
        events = qstash_logs(stack, label="job-automation", state="DELIVERED")
        return [e for e in events if e["job"].get("org_id") == shop.org_id and e["job"]["schedule"] == "daily-summary"]

    [first] = wait_until(delivered, what="the firing's delivery")
    assert first["job"]["local_time"] == f"{evening:%Y-%m-%dT%H:%M}"  # type: ignore[index]
    assert datetime.fromtimestamp(int(first["time"]) / 1000, zone) >= evening  # type: ignore[call-overload]

    advance(stack, 15 * 60)  # past QStash's 10-minute deduplication window
    with configured_like_the_app(stack):
        assert run(run_tick(SCHEDULES, tick)) == planned  # the tick replayed: the same jobs, published again
    advance(stack, 1)
    replayed = wait_until(lambda: len(found := delivered()) == 2 and found, timeout=30, what="the replayed firing")
    assert '"already_done"' in str(replayed[1]["responseBody"])
    assert len(shop.to_owner("Resumo do dia")) == 1 and len(shop.owner_messages("daily-summary")) == 1


def test_the_synced_tick_follows_the_sandbox_clock_to_18h_local(stack: dict[str, str]) -> None:
    """End to end through QStash's own schedule: ``schedules sync`` creates the hourly ``zapline-tick``;
    moving the sandbox clock past 18:00 local fires it on the hour, it plans by the sandbox's clock
    (``ZAPLINE_CLOCK_URL``), and the owner gets one daily summary."""
    from tests.schedules.helpers import cli, delete_ours

    shop = Shop(stack, timezone="Europe/Lisbon", name="Loja Lisboa")
    shop.customer_says(new_number(), "Bom dia, têm o modelo azul?", name="Rita")
    cli(stack, "schedules", "sync")
    try:
        zone = ZoneInfo(shop.timezone)
        now = datetime.fromtimestamp(now_ms(stack) / 1000, zone)
        evening = now.replace(hour=18, minute=0, second=0, microsecond=0)
        if evening <= now + timedelta(minutes=2):  # the next 18:00 local: no 18:00 lies between now and it
            evening += timedelta(days=1)
        advance(stack, (evening - now).total_seconds() - 60)  # 17:59: every earlier tick fired, none planned it
        assert shop.to_owner("Resumo do dia") == []
        advance(stack, 120)  # 18:01: the 18:00 tick plans [18:00, 19:00) and its 18:00 firing is due at once
        summaries = wait_until(lambda: shop.to_owner("Resumo do dia") or None, timeout=30, what="the summary")
        assert len(summaries) == 1 and summaries[0].startswith(f"📊 *Resumo do dia {evening:%d/%m/%Y}*")
        advance(stack, 3 * 3600)  # more ticks: nothing twice
        assert len(shop.to_owner("Resumo do dia")) == 1
    finally:
        delete_ours(stack)

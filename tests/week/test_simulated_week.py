"""A simulated week on QStash's clock, for an organisation in São Paulo and one in Lisbon.

Every hour of the week the app's own tick (``cronjobs.run_tick``, called here at the sandbox's time: the
deployed tick reads the function's clock, which the sandbox does not move) plans the hour ahead and
publishes each firing with ``Upstash-Not-Before`` at its local time; the sandbox clock then moves an hour,
delivering each firing when it falls due. Afterwards every firing is delivered again (a QStash retry long
after its 10-minute deduplication window) and some ticks are replayed: nothing is sent twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.automations.helpers import OWNER, Shop, configured_like_the_app, new_number, qstash_logs
from tests.sandbox.qstash_helpers import advance, now_ms, own_stack
from tests.support import run, wait_until

HOUR = timedelta(hours=1)
EXPECTED = {  # schedule → (weekdays, Monday = 0; local time)
    "daily-summary": (range(7), "18:00"),
    "birthdays": (range(7), "09:00"),
    "inactive": ((0,), "10:00"),
    "opportunities": ((1, 3), "15:00"),
    "weekly-report": ((6,), "23:00"),
}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with own_stack(Path(tmp_path_factory.mktemp("week"))) as settings:
        yield settings


@dataclass
class Org:
    shop: Shop
    zone: ZoneInfo
    people: dict[str, str]  # name → phone

    def week(self, monday: date) -> list[date]:
        return [monday + timedelta(days=i) for i in range(7)]

    def utc(self, day: date, at: str = "00:00") -> datetime:
        return datetime.combine(day, time.fromisoformat(at), self.zone).astimezone(UTC)


def _populate(env: dict[str, str], timezone: str, birthday: date) -> Org:
    shop = Shop(env, timezone=timezone, name=timezone.split("/")[1])
    shop.configure(inactive={"days": 2, "enabled": True}, birthdays={"enabled": True})  # opt-in: they write to leads
    people = {name: new_number() for name in ("Bia", "Caio", "Duda", "Eva")}
    shop.customer_says(people["Bia"], "Oi, bom dia", name="Bia")
    shop.customer_says(people["Caio"], "Quanto custa a entrega para o Porto?", name="Caio")
    shop.customer_says(people["Duda"], "Obrigada!", name="Duda")
    shop.customer_says(people["Eva"], "PARAR", name="Eva")  # opted out: never written to
    for name in ("Bia", "Eva"):
        shop.edit_lead(people[name], birthday=f"--{birthday:%m-%d}")
    return Org(shop, ZoneInfo(timezone), people)


async def _walk(env: dict[str, str], hours: list[datetime]) -> list[int]:
    """Each hour: the tick, then the clock to the next hour. Answers how many jobs each tick published."""
    from zapline.cronjobs import run_tick
    from zapline.registry.schedules import SCHEDULES

    published = []
    async with httpx.AsyncClient(base_url=env["QSTASH_URL"], timeout=120) as qstash:
        for hour in hours:
            published.append(int((await run_tick(SCHEDULES, hour)).get("enqueued", 0)))
            now = (await qstash.get("/_sandbox/clock")).json()["now"]
            target = int((hour + HOUR).timestamp() * 1000)
            (
                await qstash.post("/_sandbox/clock/advance", json={"seconds": max(0, target - now) / 1000})
            ).raise_for_status()
    return published


def _firings(env: dict[str, str], path: str, org: Org, week: list[date]) -> list[dict[str, Any]]:
    """The delivered jobs of ``path`` for ``org`` whose firing falls in its local ``week``."""
    events = qstash_logs(env, state="DELIVERED")
    mine = [e for e in events if e["url"].endswith(path) and e["job"].get("org_id") == org.shop.org_id]
    return [e for e in mine if date.fromisoformat(e["job"]["local_time"][:10]) in week]


def test_a_week_in_sao_paulo_and_lisbon(env: dict[str, str]) -> None:
    from zapline.registry.schedules import SCHEDULES

    has_sync = any(s.name == "contact-sync" for s in SCHEDULES)
    start = datetime.fromtimestamp(now_ms(env) / 1000, UTC)
    monday = (start + timedelta(days=3)).date()
    monday += timedelta(days=-monday.weekday() % 7)  # the first Monday at least three days ahead
    wednesday = monday + timedelta(days=2)
    orgs = [_populate(env, "America/Sao_Paulo", wednesday), _populate(env, "Europe/Lisbon", wednesday)]
    first = min(o.utc(monday) for o in orgs)
    last = max(o.utc(monday + timedelta(days=7)) for o in orgs)
    hours = [first + i * HOUR for i in range(int((last - first) / HOUR))]

    advance(env, (first - datetime.fromtimestamp(now_ms(env) / 1000, UTC)).total_seconds())
    with configured_like_the_app(env):
        published = run(_walk(env, hours))
    assert sum(published) > 0

    for org in orgs:
        week, shop = org.week(monday), org.shop
        fired = _firings(env, "/api/jobs/automation", org, week)
        by_schedule = Counter((e["job"]["schedule"], e["job"]["local_time"]) for e in fired)
        assert max(by_schedule.values()) == 1, f"{shop.timezone}: a firing delivered twice: {by_schedule}"
        for schedule, (weekdays, at) in EXPECTED.items():
            expected = {f"{week[d].isoformat()}T{at}" for d in weekdays}
            assert {t for s, t in by_schedule if s == schedule} == expected, (shop.timezone, schedule)
        for event in fired:  # each delivered at its local time, and did its work that first time
            local = datetime.fromtimestamp(event["time"] / 1000, org.zone)
            due = datetime.fromisoformat(event["job"]["local_time"]).replace(tzinfo=org.zone)
            assert timedelta(0) <= local - due < timedelta(minutes=1), (shop.timezone, event["job"], local)
            assert '"already_done"' not in event.get("responseBody", ""), event["job"]

        # what they did: once each
        daily = [m for m in shop.owner_messages("daily-summary") if m["key"][14:24] in {d.isoformat() for d in week}]
        assert len(daily) == 7, shop.timezone
        reports = [m for m in shop.owner_messages("weekly-report") if week[-1].isoformat() in m["key"]]
        assert len(reports) == 1 and f"({week[0]:%d/%m/%Y} a {week[-1]:%d/%m/%Y})" in reports[0]["text"]
        opportunities = shop.owner_messages("opportunities")
        assert len(opportunities) == 2 and all("Caio" in m["text"] for m in opportunities), opportunities
        assert len(shop.wait_sent(OWNER, "Resumo do dia", count=7)) == 7
        assert len(shop.wait_sent(org.people["Bia"], "aniversário")) == 1
        for name in ("Bia", "Caio", "Duda"):
            assert len(shop.wait_sent(org.people[name], "quanto tempo")) == 1, name
        assert shop.sent(org.people["Eva"]) == []

        if has_sync:  # every 6 hours of the organisation's day
            synced = _firings(env, "/api/jobs/contact-sync-start", org, week)
            times = Counter(e["job"]["local_time"] for e in synced)
            assert sorted(times) == sorted(f"{d.isoformat()}T{h:02d}:00" for d in week for h in (0, 6, 12, 18))
            assert set(times.values()) == {1}

    sent_before = {o.shop.org_id: len(o.shop.sent()) for o in orgs}
    owner_before = {o.shop.org_id: len(o.shop.owner_messages()) for o in orgs}
    # a QStash retry of every firing, days after its deduplication window
    for org in orgs:
        for event in _firings(env, "/api/jobs/automation", org, org.week(monday)):
            assert org.shop.fire(event["job"]["schedule"], event["job"]["local_time"], retried=1)["outcome"] == (
                "already_done"
            )
    # and replayed ticks: the hours of São Paulo's Wednesday summary and of Lisbon's Monday morning
    replay = [orgs[0].utc(wednesday, "18:00"), orgs[1].utc(monday, "09:00"), orgs[1].utc(monday, "10:00")]
    with configured_like_the_app(env):
        again = run(_walk(env, replay))
    assert all(n > 0 for n in again)

    def replayed() -> list[tuple[str, str]]:
        events = qstash_logs(env, label="job-automation", state="DELIVERED")
        done = [e["job"] for e in events if '"already_done"' in e.get("responseBody", "")]
        return sorted((j["schedule"], j["local_time"]) for j in done)

    assert wait_until(lambda: len(found := replayed()) >= 3 and found, what="the replayed firings") == sorted([
        ("daily-summary", f"{wednesday.isoformat()}T18:00"), ("birthdays", f"{monday.isoformat()}T09:00"),
        ("inactive", f"{monday.isoformat()}T10:00"),
    ])  # fmt: skip
    advance(env, 60)
    for org in orgs:
        assert len(org.shop.owner_messages()) == owner_before[org.shop.org_id]
        assert len(org.shop.sent()) == sent_before[org.shop.org_id]
        assert len([r for r in org.shop.sent(OWNER) if "Resumo do dia" in r["text"]]) == 7
    if not has_sync:
        pytest.skip("no contact-sync schedule is declared yet: whether the sync ran is not checked")

"""Thirty days of steady traffic, one simulated day at a time, with a retention period of 7 days: the
organisation's Redis footprint stops growing once the first 7 days are past.

Steady traffic: the same 6 customers (leads are kept by design, so new leads every day would grow
the footprint whatever retention does) each write 6 messages a day, and 2 of the day's messages get a
reaction and 2 an edit (aliases that only the alias scan removes): 40 webhooks a day, WhatsApp-timed
on that day, 09:00 onwards in São Paulo, delivered to the inbound function as QStash delivers them.
The days are the 30 before the last 10 (the real clock is the run's clock; the job's cutoff is
counted from its firing's local time, as the tick plans it: 03:30 the next morning). After each day
the retention job is published through QStash and runs its rounds; then every key of the
organisation is counted and weighed (``MEMORY USAGE``).

The daily counters (``day:<local date>``, one small hash per day the messages were WhatsApp-timed on)
are kept 400 days by design, for year-on-year reports, by a TTL: Redis's real clock expires them,
which a simulation cannot move. They are weighed apart: one per simulated day, each with its TTL.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis as redis_py

from tests.retention.conftest import DAY_MS, Org, now_ms, run
from tests.support import AppProcess
from zapline.store.keys import DAILY_COUNTER_TTL, OrgKeys

ZONE = ZoneInfo("America/Sao_Paulo")
DAYS, KEEP_DAYS = 30, 7
CUSTOMERS = [f"55119733{n:05d}" for n in range(6)]
PER_CUSTOMER = 6  # messages a day each; plus 2 reactions and 2 edits: 40 webhooks a day
# From day 7 on the organisation keeps the same keys, holding the same number of messages; the bytes
# differ only where a record's size does: counters inside the conversation hashes (unread,
# followup_epoch) cross a listpack integer width, a JSON number gains a digit, a string lands in
# another allocator size class. Measured: under 0.4% (~500 bytes of ~128 KB) over 23 steady days,
# where one more day of messages would be +13%. 1% allows for that and catches any per-day growth.
TOLERANCE = 0.01


@pytest.fixture
def in_process(retention_app: AppProcess, sandbox: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process configured like the app, to publish the job as the tick does (``enqueue``)."""
    from zapline.config import get_settings

    for name, value in {**sandbox, "APP_URL": retention_app.url}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def footprint(raw: redis_py.Redis, org_id: str) -> tuple[int, int]:
    """(how many keys the organisation has, their MEMORY USAGE summed), the daily counters aside."""
    counters = OrgKeys(org_id).daily("")
    names = [n for n in raw.scan_iter(match=OrgKeys(org_id).prefix + "*", count=1000) if not n.startswith(counters)]
    pipe = raw.pipeline(transaction=False)
    for name in names:
        pipe.memory_usage(name, samples=0)
    return len(names), sum(size or 0 for size in pipe.execute())


def one_day(org: Org, day: date) -> None:
    start = int(datetime(day.year, day.month, day.day, 9, tzinfo=ZONE).timestamp() * 1000)

    def customer(k: int, contact: str) -> None:
        at = start + k * 60_000
        ids = [org.says(contact, f"{day.isoformat()} mensagem {i}", at + i * 600_000) for i in range(PER_CUSTOMER)]
        if k < 2:  # two customers react to their first message of the day
            org.webhook(org.uazapi.reaction(ids[0], "👍", target_from_me=False, contact=contact, timestamp=at + 1))
        elif k < 4:  # two edit theirs
            org.webhook(org.uazapi.edited(ids[0], f"{day.isoformat()} editada", contact=contact, timestamp=at + 1))

    with ThreadPoolExecutor(len(CUSTOMERS)) as pool:
        list(pool.map(customer, range(len(CUSTOMERS)), CUSTOMERS))


def test_memory_stays_flat_over_thirty_days_of_steady_traffic(
    retention_app: AppProcess, sandbox: dict[str, str], in_process: None
) -> None:
    from zapline.jobs.kinds import RETENTION, RetentionJob
    from zapline.registry.jobs import enqueue

    org = Org(retention_app, sandbox)
    assert org.api("PUT", "/retention", json={"message_days": KEEP_DAYS}).status_code == 200
    raw = redis_py.Redis.from_url(sandbox["REDIS_URL"], decode_responses=True)
    first = datetime.fromtimestamp((now_ms() - (DAYS + 10) * DAY_MS) / 1000, ZONE).date()
    sizes: list[tuple[int, int]] = []
    deleted: list[int] = []
    try:
        for d in range(DAYS):
            day = first + timedelta(days=d)
            one_day(org, day)
            local_time = f"{(day + timedelta(days=1)).isoformat()}T03:30"
            run(enqueue(RETENTION, RetentionJob(org_id=org.org_id, schedule="retention", local_time=local_time)))
            deleted.append(org.finished_run(local_time)["totals"]["messages"])
            sizes.append(footprint(raw, org.org_id))
        counters = list(raw.scan_iter(match=OrgKeys(org.org_id).daily("*")))
        ttls = [raw.ttl(name) for name in counters]
    finally:
        raw.close()
        org.close()
    print("footprint by day (keys, bytes):", sizes)

    messages_per_day = len(CUSTOMERS) * PER_CUSTOMER
    # nothing is old enough for the first 7 runs; from then on each run deletes one day's messages
    assert deleted == [0] * KEEP_DAYS + [messages_per_day] * (DAYS - KEEP_DAYS), deleted
    counts, weights = zip(*sizes, strict=True)
    steady = counts[KEEP_DAYS:]
    assert set(steady) == {counts[KEEP_DAYS]}, counts  # the same keys every day from day 8 on
    assert counts[KEEP_DAYS - 1] > counts[1] + 5 * messages_per_day  # it did grow for the first week
    base = weights[KEEP_DAYS]
    assert all(abs(w - base) <= TOLERANCE * base for w in weights[KEEP_DAYS:]), weights
    assert weights[-1] <= weights[KEEP_DAYS] * (1 + TOLERANCE / 2)  # no slope hidden inside the tolerance
    assert weights[KEEP_DAYS - 1] > weights[1] * 2  # while the first week it grew day by day
    assert len(counters) == DAYS and all(0 < ttl <= DAILY_COUNTER_TTL for ttl in ttls), ttls

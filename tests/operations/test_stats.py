"""``GET /api/v1/stats?from=&to=``: per-day counters and totals over a range of local days, read in one
pipelined request; ranges over 92 days, reversed or malformed are refused naming the parameter."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import redis as redis_py

from tests.support import AppProcess, Tenant


def stats(app: AppProcess, tenant: Tenant, **params: str) -> httpx.Response:
    return httpx.get(f"{app.url}/api/v1/stats", params=params, headers={"Authorization": f"Bearer {tenant.api_key}"},
                     timeout=10)  # fmt: skip


def test_a_range_has_each_day_and_the_totals(app: AppProcess, sandbox: dict[str, str]) -> None:
    tenant = Tenant({**sandbox, "APP_URL": app.url}, name="Stats")
    db = redis_py.Redis.from_url(sandbox["REDIS_URL"], decode_responses=True)
    start = date(2026, 3, 1)

    def day(n: int) -> str:
        return f"zl:{{{tenant.org_id}}}:day:{(start + timedelta(days=n)).isoformat()}"

    db.hset(day(0), mapping={"inbound": 5, "outbound": 2, "nps_responses": 2, "nps_promoters": 2})
    db.hset(day(2), mapping={"inbound": 3, "nps_responses": 2, "nps_detractors": 1})
    db.hset(day(3), mapping={"inbound": 100})  # outside the range
    response = stats(tenant=tenant, app=app, **{"from": "2026-03-01", "to": "2026-03-03"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [d["day"] for d in body["days"]] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert body["days"][0]["counters"]["inbound"] == 5 and body["days"][0]["nps"] == 100.0
    assert body["days"][1] == {"day": "2026-03-02", "counters": {}, "nps": None}
    assert body["totals"] == {"inbound": 8, "outbound": 2, "nps_responses": 4, "nps_promoters": 2,
                              "nps_detractors": 1}  # fmt: skip
    assert body["nps"] == 25.0 and body["from"] == "2026-03-01" and body["to"] == "2026-03-03"
    one = stats(app, tenant, **{"from": "2026-03-04"}).json()  # to defaults to from
    assert [d["day"] for d in one["days"]] == ["2026-03-04"] and one["totals"] == {"inbound": 100}


def test_ninety_two_days_are_one_pipelined_read(app: AppProcess, tenant: Tenant, sandbox: dict[str, str]) -> None:
    counter = sandbox["UPSTASH_REDIS_REST_URL"] + "/_sandbox/stats"  # the session's: others' late work counts too

    def cost() -> tuple[int, int]:
        before = httpx.get(counter).json()
        response = stats(app, tenant, **{"from": "2026-01-01", "to": "2026-04-02"})
        after = httpx.get(counter).json()
        assert response.status_code == 200, response.text
        assert len(response.json()["days"]) == 92
        return after["requests"] - before["requests"], after["commands"] - before["commands"]

    # the fewest of three reads: an earlier test's receipt or retry landing meanwhile only adds to one
    # the key's one HMGET, then the days' one pipeline of 92
    assert min(cost() for _ in range(3)) == (2, 1 + 92)


def test_bad_ranges_are_refused_naming_the_parameter(app: AppProcess, tenant: Tenant) -> None:
    cases = {
        ("2026-01-01", "2026-04-03"): "at most 92 days",
        ("2026-03-02", "2026-03-01"): "to must not be before from",
        ("2026-13-01", "2026-03-01"): "from must be a date",
        ("2026-03-01", "3/4/2026"): "to must be a date",
    }
    for (start, end), error in cases.items():
        response = stats(app, tenant, **{"from": start, "to": end})
        assert response.status_code == 400 and error in response.json()["error"], response.text
    missing = stats(app, tenant)
    assert missing.status_code == 400 and "from must be a date" in missing.json()["error"]

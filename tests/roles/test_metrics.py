"""``GET /api/v1/metrics``: Prometheus' text format, parsed here by a small parser of that format, and
values that move when a customer writes and when a send fails."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import redis as redis_py

from tests.conversation_loop import Loop
from tests.roles.keys import call
from tests.support import Tenant, wait_until
from zapline.ai.budget import AI_PURPOSES

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
Labels = frozenset[tuple[str, str]]


@dataclass
class Family:
    help: str = ""
    type: str = ""
    samples: dict[Labels, float] = field(default_factory=dict)


def parse(text: str) -> dict[str, Family]:
    """The text exposition format 0.0.4: ``# HELP``, ``# TYPE``, then ``name{labels} value`` lines."""
    families: dict[str, Family] = {}
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# "):
            kind, name, rest = line[2:].split(" ", 2)
            assert kind in ("HELP", "TYPE"), line
            setattr(families.setdefault(name, Family()), kind.lower(), rest)
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, labels, value = match.groups()
        family = families.get(name)
        assert family is not None and family.help and family.type, f"{name}: a sample before its HELP and TYPE"
        family.samples[frozenset(_LABEL.findall(labels or ""))] = float(value)
    return families


def scrape(loop: Loop, key: str | None = None) -> dict[str, Family]:
    response = call(loop.app.url, key or loop.tenant.api_key, "GET", "/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(response.text)


def value(families: dict[str, Family], name: str, **labels: str) -> float:
    return families[name].samples[frozenset(labels.items())]


def test_every_family_is_typed_named_and_labelled_by_organisation(loop: Loop) -> None:
    families = scrape(loop)
    expected = {"zapline_inbound_messages_total": "counter", "zapline_outbound_messages_total": "counter",
                "zapline_sends_total": "counter", "zapline_job_failures_total": "counter",
                "zapline_dead_letters": "gauge", "zapline_schedule_runs_total": "counter",
                "zapline_ai_tokens_total": "counter", "zapline_ai_replies_total": "counter",
                "zapline_duplicate_deliveries_total": "counter"}  # fmt: skip
    assert {name: f.type for name, f in families.items()} == expected
    org = loop.tenant.org_id
    for family in families.values():
        assert family.samples and all(("org", org) in labels for labels in family.samples)
    lanes = {dict(labels)["lane"] for labels in families["zapline_sends_total"].samples}
    assert lanes == {"realtime", "automation", "bulk"}
    purposes = {dict(labels)["purpose"]: v for labels, v in families["zapline_ai_tokens_total"].samples.items()}
    assert purposes == dict.fromkeys(AI_PURPOSES, 0.0)  # no AI call yet (tests/ai count real ones)
    assert {"send", "inbound", "followup", "nps"} <= {
        dict(k)["kind"] for k in families["zapline_job_failures_total"].samples
    }


def test_values_move_after_a_message_and_a_failed_send(loop: Loop) -> None:
    org = loop.tenant.org_id
    before = scrape(loop)
    number = loop.new_number()
    loop.customer_says(number, "oi")
    loop.conversation_of(number)
    after_message = scrape(loop)
    inbound = value(before, "zapline_inbound_messages_total", org=org)
    assert value(after_message, "zapline_inbound_messages_total", org=org) == inbound + 1

    refused = "5500000000077"  # the UAZAPI simulator answers that this number is not on WhatsApp
    loop.customer_says(refused, "oi")
    loop.reply(loop.conversation_of(refused)["id"], "olá")

    def moved() -> dict[str, Family] | None:
        now = scrape(loop)
        return now if value(now, "zapline_dead_letters", org=org, kind="send") > 0 else None

    after = wait_until(moved, timeout=30, what="the refused send among the dead letters")
    send = {"org": org, "lane": "realtime"}
    for outcome in ("queued", "failed"):
        was = value(before, "zapline_sends_total", **send, outcome=outcome)
        assert value(after, "zapline_sends_total", **send, outcome=outcome) == was + 1, outcome
    assert value(after, "zapline_job_failures_total", org=org, kind="send") == 1
    assert value(after, "zapline_dead_letters", org=org, kind="send") == 1
    assert value(after, "zapline_inbound_messages_total", org=org) == inbound + 2
    assert value(after, "zapline_outbound_messages_total", org=org) == value(before, "zapline_outbound_messages_total",
                                                                                 org=org) + 1  # fmt: skip


def test_past_days_are_summed_once(loop: Loop, sandbox: dict[str, str]) -> None:
    tenant = Tenant({**loop.tenant.env}, name="History")
    db = redis_py.Redis.from_url(sandbox["REDIS_URL"], decode_responses=True)
    today = datetime.now(ZoneInfo("America/Sao_Paulo")).date()

    def day(days_ago: int) -> str:
        return f"zl:{{{tenant.org_id}}}:day:{(today - timedelta(days=days_ago)).isoformat()}"

    db.hset(day(300), mapping={"inbound": 5, "sends:bulk:queued": 2})
    db.hset(day(2), mapping={"inbound": 3, "job_failures:nps": 1})
    db.hset(day(1), mapping={"inbound": 1})  # yesterday: read live, not folded
    for _ in range(2):
        families = scrape(loop, tenant.api_key)
        assert value(families, "zapline_inbound_messages_total", org=tenant.org_id) == 9
        assert value(families, "zapline_sends_total", org=tenant.org_id, lane="bulk", outcome="queued") == 2
        assert value(families, "zapline_job_failures_total", org=tenant.org_id, kind="nps") == 1
    totals = db.hgetall(f"zl:{{{tenant.org_id}}}:metrics:totals")
    assert date.fromisoformat(str(totals["through"])) == today - timedelta(days=2) and totals["inbound"] == "8"
    db.hincrby(day(1), "inbound", 1)  # yesterday can still move
    assert value(scrape(loop, tenant.api_key), "zapline_inbound_messages_total", org=tenant.org_id) == 10


def test_duplicates_and_successful_sends_are_counted(loop: Loop) -> None:
    import httpx

    from zapline.sandbox.uazapi.payloads import Uazapi, body

    org = loop.tenant.org_id
    number = loop.new_number()
    loop.customer_says(number, "oi")
    conversation = loop.conversation_of(number)
    before = scrape(loop)
    webhook = body(Uazapi(token=loop.tenant.token).text("de novo", contact=number, message_id="WA-DUP-METRIC"))
    for _ in range(3):  # the same webhook three times: stored once, two duplicates
        answer = httpx.post(loop.tenant.webhook_url, content=webhook, headers={"Content-Type": "application/json"})
        assert answer.status_code == 200, answer.text
    loop.reply(conversation["id"], "tudo certo")

    def counted() -> dict[str, Family] | None:
        now = scrape(loop)
        sent = value(now, "zapline_sends_total", org=org, lane="realtime", outcome="sent")
        duplicates = value(now, "zapline_duplicate_deliveries_total", org=org)
        was_sent = value(before, "zapline_sends_total", org=org, lane="realtime", outcome="sent")
        was_duplicates = value(before, "zapline_duplicate_deliveries_total", org=org)
        return now if sent == was_sent + 1 and duplicates == was_duplicates + 2 else None

    wait_until(counted, timeout=30, what="two duplicates and one successful send counted (its echo is no duplicate)")

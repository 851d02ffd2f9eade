"""``GET /api/v1/metrics``: an organisation's counters in Prometheus' text format (version 0.0.4).

Every figure comes from counters the pipeline already keeps, so a scrape adds nothing to the path
of a message: the daily counters (``day:<YYYY-MM-DD>``, which the ingest, outbound and automation
scripts and the failures function increment in the script or pipeline they run anyway) and the
dead-letter list. A ``_total`` is the sum over every retained day. Days before yesterday cannot
change any more (a script counts into the local day it runs in), so they are summed once into
``metrics:totals`` and never read again; a scrape reads that hash, yesterday's, today's and the
dead letters — four commands in one round trip (the day after a scrape, one more per new day).

Duplicates are counted by the ingest script on its duplicate branch only (a new message pays
nothing for it), sends that succeeded where UAZAPI's acceptance is recorded (the script's ``sent``);
AI tokens are 0 (Zapline makes no AI calls yet).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from zapline.admin.operations import JOB_NAMES
from zapline.ai.budget import AI_PURPOSES
from zapline.clients import redis_client
from zapline.qstash import LANES
from zapline.store.clock import now_ms, org_timezone
from zapline.store.counters import fold_hours
from zapline.store.keys import DAILY_COUNTER_TTL, OrgKeys
from zapline.store.scripts import run_redis

__all__ = ["CONTENT_TYPE", "exposition", "totals"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# outbound.lua's sends:<lane>:<outcome>, and ingest.lua's sends:<lane>:sent (UAZAPI took it)
SEND_OUTCOMES = ("queued", "sent", "deferred", "failed", "opted_out", "cancelled")
SCHEDULE_RUNS = {("followup", "fired"): "followups_fired", ("followup", "stale"): "followups_stale",
                 ("nps", "sent"): "nps_sent", ("nps", "expired"): "nps_expired"}  # fmt: skip
RETAINED_DAYS = DAILY_COUNTER_TTL // 86_400
THROUGH = "through"  # metrics:totals' field: the last day summed into it


def _add(into: Counter[str], counters: dict[str, str]) -> None:
    numbers = {k: v for k, v in counters.items() if k != THROUGH and v.lstrip("-").isdigit()}
    for name, value in fold_hours(numbers)[0].items():  # inbound:HH and outbound:HH into their day
        into[name] += value


async def totals(org_id: str, today: date) -> tuple[Counter[str], list[str]]:
    """Every daily counter summed over the retained days up to ``today``; and the dead letters."""
    keys = OrgKeys(org_id)
    redis = redis_client()
    settled = today - timedelta(days=2)
    pipe = redis.pipeline()
    pipe.hgetall(keys.metrics_totals)
    pipe.hgetall(keys.daily((today - timedelta(days=1)).isoformat()))
    pipe.hgetall(keys.daily(today.isoformat()))
    pipe.lrange(keys.dead_letters, 0, -1)
    folded, yesterday, current, letters = await run_redis(pipe.exec())
    through = date.fromisoformat(folded[THROUGH]) if folded.get(THROUGH) else today - timedelta(days=RETAINED_DAYS)
    summed: Counter[str] = Counter()
    _add(summed, folded)
    if through < settled:
        summed = await _fold(keys, summed, through, settled)
    _add(summed, yesterday)
    _add(summed, current)
    return summed, letters


async def _fold(keys: OrgKeys, summed: Counter[str], through: date, settled: date) -> Counter[str]:
    """Add the days after ``through`` up to ``settled`` to the stored totals. Two scrapes at once
    write the same sums for the same day: the hash is overwritten whole, never incremented."""
    days = [through + timedelta(days=n) for n in range(1, (settled - through).days + 1)]
    pipe = redis_client().pipeline()
    for day in days:
        pipe.hgetall(keys.daily(day.isoformat()))
    for counters in await run_redis(pipe.exec()):
        _add(summed, counters)
    values: dict[str, str | int] = {**summed, THROUGH: settled.isoformat()}
    await run_redis(redis_client().hset(keys.metrics_totals, values=values))
    return summed


def _labels(**labels: str) -> str:
    escaped = (f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34)).replace(chr(10), "")}"'
               for k, v in labels.items())  # fmt: skip
    return "{" + ",".join(escaped) + "}"


def _family(name: str, kind: str, help_text: str, samples: Iterable[tuple[dict[str, str], int]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    return lines + [f"{name}{_labels(**labels)} {value}" for labels, value in samples]


def _jobs(letters: list[str]) -> Counter[str]:
    kinds: Counter[str] = Counter()
    for raw in letters:
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        kinds[str(record.get("job") or "unknown") if isinstance(record, dict) else "unknown"] += 1
    return kinds


async def exposition(org_id: str) -> str:
    """The organisation's metrics, one family per figure, each with its HELP and TYPE lines."""
    today = datetime.fromtimestamp(now_ms() / 1000, ZoneInfo(await org_timezone(org_id))).date()
    counted, letters = await totals(org_id, today)
    held = _jobs(letters)
    org = {"org": org_id}
    kinds = sorted({*JOB_NAMES, *held, *(n.split(":", 1)[1] for n in counted if n.startswith("job_failures:"))})
    lines = [
        *_family("zapline_inbound_messages_total", "counter", "Messages customers sent, each stored once.",
                 [(org, counted["inbound"])]),
        *_family("zapline_duplicate_deliveries_total", "counter",
                 "Webhooks that repeated a message already stored (UAZAPI resending, QStash retrying): stored nothing.",
                 [(org, counted["duplicates"])]),
        *_family("zapline_outbound_messages_total", "counter",
                 "Messages to customers stored: sent through the API (queued) or from the phone.",
                 [(org, counted["outbound"])]),
        *_family("zapline_sends_total", "counter",
                 "Outbound messages by send lane and outcome: queued, sent (UAZAPI took it), deferred (429/5xx), "
                 "failed, opted_out, cancelled (a follow-up overtaken).",
                 [({**org, "lane": lane, "outcome": outcome}, counted[f"sends:{lane}:{outcome}"])
                  for lane in LANES for outcome in SEND_OUTCOMES]),
        *_family("zapline_job_failures_total", "counter",
                 "Jobs QStash gave up on (and webhooks the relay refused), by job kind: recorded dead letters.",
                 [({**org, "kind": kind}, counted[f"job_failures:{kind}"]) for kind in kinds]),
        *_family("zapline_dead_letters", "gauge", "Dead letters recorded and not yet retried or deleted, by job kind.",
                 [({**org, "kind": kind}, held[kind]) for kind in kinds]),
        *_family("zapline_schedule_runs_total", "counter",
                 "Timed jobs that ran: follow-up steps (fired, or stale: the conversation moved on) and NPS surveys.",
                 [({**org, "schedule": s, "outcome": o}, counted[field]) for (s, o), field in SCHEDULE_RUNS.items()]),
        *_family("zapline_ai_tokens_total", "counter",
                 "OpenAI tokens used (prompt + completion; a transcription counts its transcript's), by purpose.",
                 [({**org, "purpose": p}, counted[f"ai_tokens:{p}"]) for p in AI_PURPOSES]),
        *_family("zapline_ai_replies_total", "counter", "AI replies queued to leads.", [(org, counted["ai_replies"])]),
    ]  # fmt: skip
    return "\n".join(lines) + "\n"

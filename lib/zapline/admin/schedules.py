"""``zapline schedules``: make QStash's schedules equal to the declared ones, and show them.

The declarations (:mod:`zapline.registry.schedules`) say what must exist; :func:`sync` creates,
updates (cron, destination, body or headers differ) and deletes ``zapline-*`` schedules that are
no longer declared. Schedules whose id lacks the prefix belong to someone else and are never
touched. Running it twice changes nothing the second time. The admin API's "setup recurring"
calls the same function.

Schedules serve the whole deployment, so pausing, resuming, running or syncing one acts for every
organisation: the operator API takes these calls only with the platform admin token
(``ZAPLINE_ADMIN_TOKEN``), never with an organisation's key. A schedule is named as declared; a
per-organisation one is its QStash schedule, the shared tick (pausing it holds every such schedule).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from zapline import qstash
from zapline.errors import NotFound
from zapline.logs import get_logger
from zapline.registry.jobs import FAILURES_PATH
from zapline.registry.schedules import PREFIX, SCHEDULES, TICK, Schedule

__all__ = [
    "Progress",
    "Wanted",
    "command",
    "format_list",
    "format_sync",
    "list_schedules",
    "pause",
    "resume",
    "run_now",
    "sync",
    "wanted",
]

log = get_logger("zapline.admin.schedules")
Progress = Callable[[int, int], None]  # (done, total): the CLI's progress bar

DEFAULT_RETRIES = 3  # QStash's, when a schedule names none; always sent, so the comparison is exact


@dataclass(frozen=True)
class Wanted:
    """One QStash schedule as the declarations want it."""

    name: str
    path: str
    cron: str
    body: bytes
    retries: int
    timeout: int | None
    labels: tuple[str, ...]

    @property
    def schedule_id(self) -> str:
        return PREFIX + self.name

    def options(self) -> dict[str, Any]:
        return {"retries": self.retries, "timeout": self.timeout, "failure_callback": FAILURES_PATH,
                "labels": list(self.labels)}  # fmt: skip

    def differences(self, present: dict[str, Any]) -> list[str]:
        """The fields in which QStash's schedule ``present`` differs from this one."""
        labels = present.get("labels") or [p for p in str(present.get("label") or "").split(",") if p]
        content_type = (present.get("header") or {}).get("Content-Type") or ["application/json"]
        checks = {
            "cron": present.get("cron") == self.cron,
            "destination": present.get("destination") == qstash.destination(self.path),
            "body": present.get("body", "") == self.body.decode(),
            "retries": present.get("retries") == self.retries,
            "timeout": (present.get("timeout") or None) == self.timeout,
            "labels": sorted(labels) == sorted(self.labels),
            "failure_callback": present.get("failureCallback") == qstash.destination(FAILURES_PATH),
            "content_type": content_type == ["application/json"],
        }
        return [name for name, same in checks.items() if not same]


def wanted(schedules: Iterable[Schedule] = SCHEDULES) -> list[Wanted]:
    """The QStash schedules the declarations need: one per ``once`` schedule, and the tick when
    any schedule is ``per_org``."""
    listed = list(schedules)
    out = [
        Wanted(s.name, s.path, s.cron, s.body(), s.job.retries if s.job.retries is not None else DEFAULT_RETRIES,
               s.job.timeout, (f"job-{s.job.name}", f"schedule-{s.name}"))
        for s in listed if not s.per_org
    ]  # fmt: skip
    if any(s.per_org for s in listed):
        out.append(Wanted(TICK.name, TICK.path, TICK.cron, b"{}", TICK.retries, None, (f"schedule-{TICK.name}",)))
    return out


async def _ours() -> dict[str, dict[str, Any]]:
    return {
        str(s["scheduleId"]): s
        for s in await qstash.list_schedules()
        if str(s.get("scheduleId", "")).startswith(PREFIX)
    }


async def sync(
    schedules: Iterable[Schedule] = SCHEDULES, *, dry_run: bool = False, progress: Progress | None = None
) -> dict[str, Any]:
    """Create, update and delete ``zapline-*`` QStash schedules until they equal the declared set."""
    present = await _ours()
    created: list[str] = []
    updated: list[dict[str, Any]] = []
    unchanged: list[str] = []
    declared = wanted(schedules)
    stale = sorted(set(present) - {w.schedule_id for w in declared})
    total = len(declared) + len(stale)
    for done, want in enumerate(declared):
        if progress:
            progress(done, total)
        found = present.get(want.schedule_id)
        changed = want.differences(found) if found else []
        if found and not changed:
            unchanged.append(want.name)
            continue
        if not dry_run:
            await qstash.upsert_schedule(want.schedule_id, want.path, want.body, cron=want.cron, **want.options())
        if found:
            updated.append({"name": want.name, "changed": changed})
        else:
            created.append(want.name)
    for done, schedule_id in enumerate(stale, start=len(declared)):
        if progress:
            progress(done, total)
        if not dry_run:
            await qstash.delete_schedule(schedule_id)
    if progress:
        progress(total, total)
    return {
        "dry_run": dry_run,
        "changes": len(created) + len(updated) + len(stale),
        "created": created,
        "updated": updated,
        "deleted": [s.removeprefix(PREFIX) for s in stale],
        "unchanged": unchanged,
    }


def _iso(ms: Any) -> str | None:
    return datetime.fromtimestamp(int(ms) / 1000, UTC).isoformat() if isinstance(ms, int | float) and ms else None


async def list_schedules(schedules: Iterable[Schedule] = SCHEDULES) -> dict[str, Any]:
    """Each declared schedule with its QStash state; a per-organisation one shows the tick's."""
    present = await _ours()
    rows = []
    for s in schedules:
        qstash_id = TICK.schedule_id if s.per_org else s.schedule_id
        found = present.get(qstash_id)
        rows.append({
            "name": s.name, "cron": s.cron, "timezone": s.timezone, "fan_out": s.fan_out, "job": s.job.name,
            "qstash_schedule": qstash_id, "present": found is not None,
            "paused": bool(found and found.get("isPaused")),
            "next_run": _iso(found.get("nextScheduleTime")) if found else None,
        })  # fmt: skip
    declared = {w.schedule_id for w in wanted(schedules)}
    return {"schedules": rows, "undeclared": sorted(i.removeprefix(PREFIX) for i in set(present) - declared)}


def _resolve(name: str, schedules: Iterable[Schedule] = SCHEDULES) -> Wanted:
    """The QStash schedule behind a declared schedule's name (a per-organisation one: the tick)."""
    listed = list(schedules)
    declared = {s.name: s for s in listed}
    by_name = {w.name: w for w in wanted(listed)}
    schedule = declared.get(name)
    target = TICK.name if schedule is not None and schedule.per_org else name
    if target not in by_name:
        raise NotFound(f"no schedule {name[:64]}: declared are {', '.join(sorted(declared)) or 'none'}")
    return by_name[target]


async def _set_paused(name: str, *, paused: bool, by: str) -> dict[str, Any]:
    want = _resolve(name)
    action = qstash.pause_schedule if paused else qstash.resume_schedule
    if not await action(want.schedule_id):
        raise NotFound(f"schedule {name} is declared but not in QStash: run the sync first")
    log.info("schedule paused" if paused else "schedule resumed", schedule=want.schedule_id, by=by)
    return {"name": name, "qstash_schedule": want.schedule_id, "paused": paused}


async def pause(name: str, *, by: str) -> dict[str, Any]:
    """QStash ignores the schedule's cron until it is resumed (idempotent)."""
    return await _set_paused(name, paused=True, by=by)


async def resume(name: str, *, by: str) -> dict[str, Any]:
    return await _set_paused(name, paused=False, by=by)


async def run_now(name: str, *, by: str) -> dict[str, Any]:
    """Publish the schedule's delivery once, now: the same route, body, retries and labels as a
    firing (a per-organisation schedule runs the tick, which plans the coming hour: its
    deduplication ids keep a later tick from publishing the same jobs again)."""
    want = _resolve(name)
    message_id = await qstash.publish(want.path, want.body, **want.options())
    log.info("schedule run now", schedule=want.schedule_id, by=by, qstash_message_id=message_id)
    return {"name": name, "qstash_schedule": want.schedule_id, "qstash_message_id": message_id}


def format_sync(result: dict[str, Any]) -> str:
    """``sync``'s answer for a person: one line per change, then a total."""
    verb = "would " if result["dry_run"] else ""
    lines = [f"{verb}create  {name}" for name in result["created"]]
    lines += [f"{verb}update  {u['name']} ({', '.join(u['changed'])})" for u in result["updated"]]
    lines += [f"{verb}delete  {name}" for name in result["deleted"]]
    lines.append(f"{result['changes']} change(s); {len(result['unchanged'])} unchanged" if lines else "no changes")
    return "\n".join(lines)


def format_list(result: dict[str, Any]) -> str:
    """``list``'s answer for a person: a table."""
    head = ("NAME", "CRON", "TIMEZONE", "FAN-OUT", "JOB", "QSTASH", "NEXT RUN (UTC)")
    rows = [head]
    for r in result["schedules"]:
        state = "paused" if r["paused"] else "present" if r["present"] else "missing"
        rows.append((r["name"], r["cron"], r["timezone"], r["fan_out"], r["job"], state, r["next_run"] or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    if result["undeclared"]:
        lines.append("not declared (the next sync deletes them): " + ", ".join(result["undeclared"]))
    return "\n".join(lines)


async def command(
    action: str, *, dry_run: bool = False, as_json: bool = False, progress: Progress | None = None
) -> str:
    """What ``zapline schedules <action>`` prints: one JSON object, or text for a person."""
    if action == "sync":
        result = await sync(dry_run=dry_run, progress=progress)
        return json.dumps(result) if as_json else format_sync(result)
    listed = await list_schedules()
    return json.dumps(listed) if as_json else format_list(listed)

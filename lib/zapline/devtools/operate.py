"""``zapline status``, ``zapline dlq`` and ``zapline lanes``: the operator API's operations from a shell.

They call the same functions as the API (``zapline.admin.*``, ``zapline.health``) with the deployment's
settings; the acting key is ``cli`` in the logs. ``--json`` prints one JSON object; otherwise a table.
Long operations (retrying many dead letters, cleaning, ``schedules sync``) draw a text progress bar on
stderr when stdout is a terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["add_commands", "progress_bar"]

CLI = "cli"
WIDTH = 30


def progress_bar(label: str, *, enabled: bool) -> Callable[[int, int], None] | None:
    """A ``(done, total)`` callback drawing ``label [#####.....] done/total``; None when not enabled."""
    if not enabled:
        return None

    def draw(done: int, total: int) -> None:
        filled = WIDTH * done // total if total else WIDTH
        end = "\n" if done >= total else ""
        print(f"\r{label} [{'#' * filled}{'.' * (WIDTH - filled)}] {done}/{total}", end=end, file=sys.stderr,
              flush=True)  # fmt: skip

    return draw


def _interactive(args: argparse.Namespace) -> bool:
    return not args.json and sys.stdout.isatty()


def table(head: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(c) for c in head], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)


# --- zapline status ------------------------------------------------------------------------------


async def status() -> dict[str, Any]:
    """The open health checks (as ``/health/<check>`` answers them) and the lanes' backlog."""
    from starlette.requests import Request

    from zapline import health
    from zapline.config import get_settings

    request = Request({"type": "http", "method": "GET", "path": "/", "headers": []})
    checks: dict[str, Any] = {}
    for name in ("redis", "qstash", "centrifugo"):
        try:
            async with asyncio.timeout(get_settings().http_timeout):
                checks[name] = {"status": "ok", **await health.CHECKS[name](request)}
        except health.Degraded as exc:
            checks[name] = {"status": "degraded", "down": exc.down, "error": exc.message, **exc.details}
        except TimeoutError:
            checks[name] = {"status": "degraded", "down": [name], "error": "no answer within ZAPLINE_HTTP_TIMEOUT"}
    backlog = (checks["qstash"].get("backlog") or {}).get("lanes")
    return {"status": "ok" if all(c["status"] == "ok" for c in checks.values()) else "degraded", "checks": checks,
            "backlog": backlog}  # fmt: skip


def format_status(result: dict[str, Any]) -> str:
    rows: list[list[object]] = []
    for name, check in result["checks"].items():
        shown = ("latency_ms", "nodes", "signing_keys")
        detail = check.get("error") or ", ".join(f"{k}={v}" for k, v in check.items() if k in shown)
        rows.append([name, check["status"], detail])
    for lane, waiting in (result["backlog"] or {}).items():
        rows.append([f"lane {lane}", "backlog", waiting])
    return table(("CHECK", "STATE", "DETAIL"), rows)


# --- zapline dlq ---------------------------------------------------------------------------------


async def dlq(args: argparse.Namespace) -> dict[str, Any]:
    from zapline.admin import operations
    from zapline.store.clock import org_timezone

    actor = operations.Actor(args.org, CLI)
    if args.action == "list":
        from starlette.datastructures import QueryParams

        query = QueryParams({k: v for k in ("job", "reason", "since", "until") if (v := getattr(args, k))})
        filters = operations.Filters.from_query(query, await org_timezone(args.org))
        return {"org_id": args.org, "items": await operations.listing(args.org, filters, limit=args.limit)}
    if args.action == "clean":
        draw = progress_bar("clean", enabled=_interactive(args))
        if draw:
            draw(0, 1)
        cleaned = await operations.clean(actor, operations.CleanRequest(older_than_days=args.older_than_days))
        if draw:
            draw(1, 1)
        return cleaned
    ids: list[str] = list(args.ids)
    if not ids:  # --job KIND: every retryable dead letter of that kind, as the API's bulk retry picks them
        listed = await operations.listing(args.org, operations.Filters(job=args.job), limit=operations.MAX_BULK)
        ids = [d["id"] for d in listed if d.get("dlq_id")]
    draw = progress_bar("retry", enabled=_interactive(args) and len(ids) > 1)
    results: list[dict[str, Any]] = []
    for done, ident in enumerate(ids):
        if draw:
            draw(done, len(ids))
        results.append((await operations.retry_many(actor, operations.RetryRequest(dlq_ids=[ident])))["results"][0])
    if draw:
        draw(len(ids), len(ids))
    retried = sum(1 for r in results if r["outcome"] == "retried")
    return {"retried": retried, "failed": len(results) - retried, "results": results}


def format_dlq(action: str, result: dict[str, Any]) -> str:
    if action == "list":
        rows = [[d["id"], d["job"], d.get("http_status") or "-", "yes" if d["retryable"] else "no",
                 str(d.get("reason", ""))[:60]] for d in result["items"]]  # fmt: skip
        return table(("ID", "JOB", "STATUS", "RETRYABLE", "REASON"), rows) if rows else "no dead letters"
    if action == "clean":
        return f"deleted {result['deleted']} dead letter(s) ({result['qstash_deleted']} from QStash's DLQ)"
    lines = [
        f"{r['id']}  {r['outcome']}  {r.get('qstash_message_id') or r.get('error', '')}" for r in result["results"]
    ]
    return "\n".join([*lines, f"{result['retried']} retried, {result['failed']} failed"])


# --- zapline lanes -------------------------------------------------------------------------------


async def lanes(args: argparse.Namespace) -> dict[str, Any]:
    from zapline.admin import lanes as lane_ops
    from zapline.admin.operations import Actor

    if args.action == "list":
        return await lane_ops.listing(args.org)
    actor = Actor(args.org, CLI)
    act = lane_ops.pause if args.action == "pause" else lane_ops.resume
    return await act(actor, args.lane)


def format_lanes(action: str, result: dict[str, Any]) -> str:
    if action == "list":
        rows = [[r["lane"], r["state"], r["backlog"], len(r["instances"])] for r in result["lanes"]]
        return table(("LANE", "STATE", "BACKLOG", "INSTANCES"), rows)
    verb = "paused" if action == "pause" else "resumed"
    return "\n".join(f"{r['lane']}  {verb if r['changed'] else 'already ' + verb}  ({len(r['instances'])} instance(s))"
                     for r in result["lanes"])  # fmt: skip


# --- the parsers ---------------------------------------------------------------------------------


def add_commands(
    commands: Any, common: argparse.ArgumentParser, run: Callable[[Any], Any], load_env: Callable[[str | None], None]
) -> None:
    """Register ``status``, ``dlq`` and ``lanes`` (``run``: the CLI's coroutine runner)."""

    def _status(args: argparse.Namespace) -> int:
        load_env(args.env_file)
        result = run(status())
        print(json.dumps(result) if args.json else format_status(result))
        return 0 if result["status"] == "ok" else 1

    def _dlq(args: argparse.Namespace) -> int:
        load_env(args.env_file)
        if args.action == "retry" and bool(args.ids) == bool(args.job):
            raise SystemExit("zapline: name dead letters to retry (their ids) or --job KIND, one of them")
        result = run(dlq(args))
        print(json.dumps(result) if args.json else format_dlq(args.action, result))
        return 0

    def _lanes(args: argparse.Namespace) -> int:
        load_env(args.env_file)
        result = run(lanes(args))
        print(json.dumps(result) if args.json else format_lanes(args.action, result))
        return 0

    status_parser = commands.add_parser("status", parents=[common], help="health checks and the lanes' backlog")
    status_parser.set_defaults(run=_status)

    dlq_actions = commands.add_parser("dlq", help="an organisation's dead letters").add_subparsers(
        dest="action", required=True
    )
    dlq_list = dlq_actions.add_parser("list", parents=[common], help="newest first, with filters")
    dlq_list.add_argument("--job", help="inbound, send, followup, nps, sweep or unknown")
    dlq_list.add_argument("--reason", help="a substring of the reason")
    dlq_list.add_argument("--since", help="YYYY-MM-DD (the organisation's timezone) or epoch ms")
    dlq_list.add_argument("--until", help="YYYY-MM-DD (inclusive) or epoch ms")
    dlq_list.add_argument("--limit", type=int, default=50, help="(default: %(default)s)")
    dlq_retry = dlq_actions.add_parser("retry", parents=[common], help="QStash delivers them again")
    dlq_retry.add_argument("ids", nargs="*", help="dead-letter ids, as `zapline dlq list` shows them")
    dlq_retry.add_argument("--job", help="instead of ids: up to 100 dead letters of this kind")
    dlq_clean = dlq_actions.add_parser("clean", parents=[common], help="delete dead letters older than N days")
    dlq_clean.add_argument("--older-than-days", type=int, required=True)
    for parser in (dlq_list, dlq_retry, dlq_clean):
        parser.add_argument("--org", required=True, help="organisation id (org_...)")
        parser.set_defaults(run=_dlq)

    lane_actions = commands.add_parser("lanes", help="an organisation's send lanes").add_subparsers(
        dest="action", required=True
    )
    for action, text in (("list", "each lane's state and backlog"), ("pause", "hold sends on a lane (all: no --lane)"),
                         ("resume", "send what a paused lane held, once")):  # fmt: skip
        parser = lane_actions.add_parser(action, parents=[common], help=text)
        parser.add_argument("--org", required=True, help="organisation id (org_...)")
        if action != "list":
            parser.add_argument("--lane", choices=("realtime", "automation", "bulk"), help="(default: every lane)")
        parser.set_defaults(run=_lanes)

"""zapline: run the pipeline locally (dev, sandbox, serve), watch it, and operate organisations."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _add_sandbox_options(parser: argparse.ArgumentParser, default_data_dir: str | None) -> None:
    parser.add_argument(
        "--data-dir",
        default=default_data_dir,
        help="where redis-server keeps its append-only file and the sandbox its ports and tokens "
        + ("(default: %(default)s)" if default_data_dir else "(default: a temporary directory)"),
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: %(default)s)")
    for name in ("redis", "upstash", "centrifugo", "qstash", "uazapi", "openai"):
        parser.add_argument(f"--{name}-port", type=int, default=0, help=f"port for {name} (default: free)")
    parser.add_argument("--centrifugo-config", type=Path, help="Centrifugo v6 JSON config (namespaces)")


def _sandbox(args: argparse.Namespace) -> int:
    from zapline.devtools.signals import Shutdown
    from zapline.sandbox.supervisor import SERVICES, Sandbox

    shutdown = Shutdown()  # from now on, Ctrl-C or SIGTERM stops every child, even mid-start
    temp = None if args.data_dir else tempfile.TemporaryDirectory(prefix="zapline-sandbox-")
    data_dir = Path(args.data_dir or temp.name)  # type: ignore[union-attr]
    ports = {name: getattr(args, f"{name}_port") for name in ("redis", *SERVICES)}
    sandbox = Sandbox(data_dir, host=args.host, ports=ports, centrifugo_config=args.centrifugo_config)
    try:
        settings = sandbox.start()
        print(json.dumps(settings), flush=True)
        print("sandbox: ready; Ctrl-C stops it", file=sys.stderr, flush=True)
        shutdown.wait()
    finally:
        sandbox.stop()
        if temp is not None:
            temp.cleanup()
    return 130 if shutdown.interrupted else 0


def _dev(args: argparse.Namespace) -> int:
    from zapline.devtools.dev import run_dev
    from zapline.sandbox.supervisor import SERVICES

    ports = {name: getattr(args, f"{name}_port") for name in ("redis", *SERVICES)}
    return run_dev(Path(args.data_dir), args.host, ports, args.port, args.centrifugo_config)


def _watch(args: argparse.Namespace) -> int:
    import os

    from zapline.devtools.watch import watch

    _load_env_file(args.env_file)
    app_url = args.app_url or os.environ.get("APP_URL")
    if not app_url:
        raise SystemExit("zapline: pass --app-url (or set APP_URL)")
    _run_async(watch(app_url, args.api_key))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from zapline.devtools.devserver import serve
    from zapline.devtools.signals import Shutdown
    from zapline.sandbox.redis_server import free_port

    _load_env_file(args.env_file)
    port = args.port or free_port(args.host)
    shutdown = Shutdown()

    def ready() -> None:
        print(json.dumps({"APP_URL": f"http://{args.host}:{port}"}), flush=True)

    serve(args.host, port, ready, stopped=lambda: bool(shutdown.received))
    return 130 if shutdown.interrupted else 0


def _simulate(args: argparse.Namespace) -> int:
    from zapline.sandbox.uazapi.simulate import simulate_command

    _load_env_file(args.env_file)
    return simulate_command(
        org=args.org, instance=args.instance, customers=args.customers, messages=args.messages, seed=args.seed,
        rate=args.rate, env_file=args.env_file, as_json=args.json,
    )  # fmt: skip


def _load_env_file(path: str | None) -> None:
    """Settings for operator commands: the environment, then --env-file, .env or zapline dev's file."""
    import os

    from zapline.config import read_env_file

    candidates = [Path(path)] if path else [Path(".env"), Path(".zapline/dev.env")]
    for candidate in candidates:
        if candidate.exists():
            for name, value in read_env_file(candidate).items():
                os.environ.setdefault(name, value)
            return
    if path:
        raise SystemExit(f"zapline: no such env file: {path}")


def _run_async(coro: Any) -> Any:
    import asyncio

    from zapline.errors import ZaplineError

    try:
        return asyncio.run(coro)
    except ZaplineError as exc:
        raise SystemExit(f"zapline: {exc.message}") from None


def _print(result: dict[str, Any], as_json: bool, whole: dict[str, Any] | None = None) -> None:
    """``result`` as lines of ``name  value``, or (``--json``) ``whole`` (default: ``result``) as one object."""
    if as_json:
        print(json.dumps(whole if whole is not None else result))
    else:
        width = max(len(k) for k in result)
        for key, value in result.items():
            print(f"{key.ljust(width)}  {value}")


def _orgs_add(args: argparse.Namespace) -> int:
    from zapline.admin.commands import add_org

    _load_env_file(args.env_file)
    _print(_run_async(add_org(args.name, args.timezone)), args.json)
    return 0


def _keys(args: argparse.Namespace) -> int:
    from zapline.admin.keys import command

    _load_env_file(args.env_file)
    result = _run_async(command(args.action, args.org, key_id=getattr(args, "key_id", None),
                                role=getattr(args, "role", "agent"), name=getattr(args, "name", "")))  # fmt: skip
    if args.json or args.action != "list":
        _print({k: json.dumps(v) if isinstance(v, dict) else v for k, v in result.items()}, args.json, result)
    else:
        for key in result["keys"]:
            state = "revoked" if key["revoked"] else "active"
            print(f"{key['id']}  {key['role']:<5}  {state:<7}  {key['prefix']}  {key['name']}")
    return 0


def _instances_add(args: argparse.Namespace) -> int:
    from zapline.admin.commands import add_instance

    _load_env_file(args.env_file)
    result = _run_async(add_instance(args.org, args.name, args.token, args.base_url, args.owner or ""))
    _print(result, args.json)
    return 0


def _instances_connect(args: argparse.Namespace) -> int:
    from zapline.admin.commands import connect_instance

    _load_env_file(args.env_file)
    result = connect_instance(args.org, args.instance, instance_key=args.instance_key, direct_qstash=args.direct_qstash)
    _print(_run_async(result), args.json)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="zapline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    sandbox = commands.add_parser("sandbox", help="run the offline stand-ins; print their settings as JSON")
    _add_sandbox_options(sandbox, None)
    sandbox.set_defaults(run=_sandbox)
    dev = commands.add_parser("dev", help="the sandbox plus every function on one local port")
    _add_sandbox_options(dev, ".zapline")
    dev.add_argument("--port", type=int, default=0, help="port for the functions (default: remembered, else free)")
    dev.set_defaults(run=_dev)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print one JSON object")
    common.add_argument("--env-file", help="settings file (default: .env, else .zapline/dev.env from zapline dev)")

    serve = commands.add_parser("serve", parents=[common], help="every function on one port, with your settings")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default: %(default)s)")
    serve.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    serve.set_defaults(run=_serve)

    watch = commands.add_parser("watch", parents=[common], help="print an organisation's live updates")
    watch.add_argument("--api-key", required=True, help="the organisation's API key")
    watch.add_argument("--app-url", help="where the functions run (default: APP_URL)")
    watch.set_defaults(run=_watch)

    simulate = commands.add_parser(
        "simulate", parents=[common], help="simulated customers write to an instance (sandbox UAZAPI)"
    )
    simulate.add_argument("--customers", type=int, default=5, help="distinct customers (default: %(default)s)")
    simulate.add_argument("--messages", type=int, default=20, help="messages in all (default: %(default)s)")
    simulate.add_argument("--instance", default="demo", help="instance name (default: %(default)s)")
    simulate.add_argument("--org", help="organisation id (default: zapline dev's demo organisation)")
    simulate.add_argument("--seed", type=int, help="random seed: the same seed, the same customers")
    simulate.add_argument("--rate", type=float, default=5.0, help="messages per second, 0 = no pause (default: 5)")
    simulate.set_defaults(run=_simulate)

    orgs = commands.add_parser("orgs", help="organisations").add_subparsers(dest="action", required=True)
    org_add = orgs.add_parser("add", parents=[common], help="create an organisation and its API key")
    org_add.add_argument("name")
    org_add.add_argument("--timezone", default="America/Sao_Paulo", help="IANA zone (default: %(default)s)")
    org_add.set_defaults(run=_orgs_add)

    keys = commands.add_parser("keys", help="an organisation's API keys").add_subparsers(dest="action", required=True)
    keys_list = keys.add_parser("list", parents=[common], help="every key by prefix, with its role (never a secret)")
    keys_create = keys.add_parser("create", parents=[common], help="a new key, shown once")
    keys_create.add_argument("--role", choices=("owner", "agent"), default="agent", help="(default: %(default)s)")
    keys_create.add_argument("--name", default="", help="what the key is for (default: its role)")
    keys_rotate = keys.add_parser("rotate", parents=[common], help="a new secret, shown once; the old one stops")
    keys_revoke = keys.add_parser("revoke", parents=[common], help="the key stops (not the last owner key)")
    for action in (keys_rotate, keys_revoke):
        action.add_argument("key_id", help="the key's id (key_...), as `zapline keys list` shows it")
    for action in (keys_list, keys_create, keys_rotate, keys_revoke):
        action.add_argument("--org", required=True, help="organisation id (org_...)")
        action.set_defaults(run=_keys)

    instances = commands.add_parser("instances", help="UAZAPI instances").add_subparsers(dest="action", required=True)
    inst_add = instances.add_parser("add", parents=[common], help="register a UAZAPI instance")
    inst_add.add_argument("--org", required=True, help="organisation id (org_...)")
    inst_add.add_argument("--name", required=True, help="instance name, unique in the organisation")
    inst_add.add_argument("--token", required=True, help="the instance's UAZAPI token")
    inst_add.add_argument("--base-url", required=True, help="UAZAPI server, e.g. https://acme.uazapi.com")
    inst_add.add_argument("--owner", help="the instance's own WhatsApp number")
    inst_add.set_defaults(run=_instances_add)
    connect = instances.add_parser("connect", parents=[common], help="point the instance's UAZAPI webhook at Zapline")
    connect.add_argument("instance", help="instance name (or id)")
    connect.add_argument("--org", help="organisation id (org_...); needed only when several have that name")
    connect.add_argument("--instance-key", help="the key `instances add` printed (default: issue a new one)")
    connect.add_argument(
        "--direct-qstash",
        action="store_true",
        help="single-tenant deployments only: UAZAPI posts to QStash directly, with the deployment's QStash "
        "token in the URL (whoever holds the URL can read and publish every tenant's messages); default: the relay",
    )
    connect.set_defaults(run=_instances_connect)

    def _schedules(args: argparse.Namespace) -> int:
        from zapline.admin.schedules import command
        from zapline.devtools.operate import progress_bar

        _load_env_file(args.env_file)
        bar = progress_bar("sync", enabled=args.action == "sync" and not args.json and sys.stdout.isatty())
        dry_run = getattr(args, "dry_run", False)
        print(_run_async(command(args.action, dry_run=dry_run, as_json=args.json, progress=bar)))
        return 0

    schedules = commands.add_parser("schedules", help="QStash schedules").add_subparsers(dest="action", required=True)
    sched_sync = schedules.add_parser(
        "sync", parents=[common], help="make QStash's zapline-* schedules equal to the declared ones"
    )
    sched_sync.add_argument("--dry-run", action="store_true", help="only say what would change")
    sched_sync.set_defaults(run=_schedules)
    sched_list = schedules.add_parser(
        "list", parents=[common], help="each declared schedule, its QStash state, next run"
    )
    sched_list.set_defaults(run=_schedules)

    from zapline.devtools.operate import add_commands  # status, dlq, lanes

    add_commands(commands, common, _run_async, _load_env_file)

    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130  # Ctrl-C: the shell shows it; a traceback would say nothing more
    except Exception as exc:
        message = _user_error(exc)
        if message is None:
            raise
        print(f"zapline: {message}", file=sys.stderr)
        return 1


def _user_error(exc: Exception) -> str | None:
    """The one line that tells the user what to fix, for errors that are theirs to fix; else None."""
    from zapline.errors import ZaplineError

    if isinstance(exc, ZaplineError):
        return exc.message
    # Checked only if their modules were loaded, so that the check imports nothing.
    sandbox = sys.modules.get("zapline.sandbox.supervisor")
    redis_server = sys.modules.get("zapline.sandbox.redis_server")
    if (sandbox and isinstance(exc, sandbox.SandboxError)) or (
        redis_server and isinstance(exc, redis_server.RedisServerError)
    ):
        return str(exc)
    httpx = sys.modules.get("httpx")
    if httpx and isinstance(exc, httpx.TransportError):
        url = exc.request.url if getattr(exc, "_request", None) is not None else "the server"
        return f"cannot reach {url}: {exc or type(exc).__name__} (is it running?)"
    return None


if __name__ == "__main__":
    sys.exit(main())

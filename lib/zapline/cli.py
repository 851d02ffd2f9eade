"""The ``zapline`` command."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
from pathlib import Path
from types import FrameType

__all__ = ["main"]


def _add_sandbox_options(parser: argparse.ArgumentParser, default_data_dir: str | None) -> None:
    parser.add_argument(
        "--data-dir",
        default=default_data_dir,
        help="where redis-server keeps its append-only file and the sandbox its ports and tokens "
        + ("(default: %(default)s)" if default_data_dir else "(default: a temporary directory)"),
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: %(default)s)")
    for name in ("redis", "upstash", "centrifugo", "qstash", "uazapi"):
        parser.add_argument(f"--{name}-port", type=int, default=0, help=f"port for {name} (default: free)")
    parser.add_argument("--centrifugo-config", type=Path, help="Centrifugo v6 JSON config (namespaces)")


def _wait_for_signal() -> None:
    received: list[int] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not received:
        signal.pause()


def _sandbox(args: argparse.Namespace) -> int:
    from zapline.sandbox.supervisor import SERVICES, Sandbox

    temp = None if args.data_dir else tempfile.TemporaryDirectory(prefix="zapline-sandbox-")
    data_dir = Path(args.data_dir or temp.name)  # type: ignore[union-attr]
    ports = {name: getattr(args, f"{name}_port") for name in ("redis", *SERVICES)}
    sandbox = Sandbox(data_dir, host=args.host, ports=ports, centrifugo_config=args.centrifugo_config)
    try:
        settings = sandbox.start()
        print(json.dumps(settings), flush=True)
        print("sandbox: ready; Ctrl-C stops it", file=sys.stderr, flush=True)
        _wait_for_signal()
    finally:
        sandbox.stop()
        if temp is not None:
            temp.cleanup()
    return 0


def _dev(args: argparse.Namespace) -> int:
    import os

    from zapline.dev import serve
    from zapline.sandbox.redis_server import free_port
    from zapline.sandbox.supervisor import SERVICES, Sandbox

    ports = {name: getattr(args, f"{name}_port") for name in ("redis", *SERVICES)}
    sandbox = Sandbox(Path(args.data_dir), host=args.host, ports=ports, centrifugo_config=args.centrifugo_config)
    try:
        settings = sandbox.start()
        app_port = args.port or int(sandbox.saved.get("app_port") or 0) or free_port(args.host)
        sandbox.remember(app_port=app_port)
        settings["APP_URL"] = f"http://{args.host}:{app_port}"
        os.environ.update(settings)

        def ready() -> None:
            print(json.dumps(settings), flush=True)
            for line in _dev_status(settings):
                print(line, file=sys.stderr, flush=True)

        serve(args.host, app_port, ready)
    finally:
        sandbox.stop()
    return 0


def _dev_status(settings: dict[str, str]) -> list[str]:
    app = settings["APP_URL"]
    return [
        "",
        f"  Zapline is running at {app}  (Ctrl-C stops everything)",
        f"  health:      curl {app}/health",
        f"  Redis REST:  {settings['UPSTASH_REDIS_REST_URL']}   Centrifugo: {settings.get('CENTRIFUGO_API_URL', '-')}",
        f"  QStash:      {settings.get('QSTASH_URL', '-')}",
        "",
    ]


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
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())

"""Run one sandbox stand-in in this process: ``python -m zapline.sandbox.serve SERVICE``.

The supervisor starts one such child per stand-in. Options arrive as JSON in the
``ZAPLINE_SANDBOX_OPTIONS`` environment variable (so tokens never show in ``ps``); once the server
listens, one line ``{"ready": "<service>", "port": N}`` is written to stdout. Logs go to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import socket
import sys
from typing import Any

import uvicorn

OPTIONS_ENV = "ZAPLINE_SANDBOX_OPTIONS"


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, service: str) -> None:
        super().__init__(config)
        self.service = service

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            print(json.dumps({"ready": self.service, "port": self.config.port}), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m zapline.sandbox.serve")
    parser.add_argument("service", help="module under zapline.sandbox that exposes build(options)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)

    options: dict[str, Any] = json.loads(os.environ.get(OPTIONS_ENV, "{}"))
    module = importlib.import_module(f"zapline.sandbox.{args.service}")
    app = module.build(options)
    extra: dict[str, Any] = getattr(module, "UVICORN_OPTIONS", {})
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        server_header=False,
        timeout_graceful_shutdown=3,
        **extra,
    )
    server = _Server(config, args.service)
    server.run()
    sys.exit(0 if server.started else 1)


if __name__ == "__main__":
    main()

"""Every function behind one local port, routed as on Vercel (``zapline dev``, ``zapline serve``).

The routing table is vercel.json's own, so a path that works here reaches the same function when
deployed.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["DevRouter", "load_routes", "project_root"]


def project_root() -> Path:
    """The checkout holding vercel.json and functions/: this file's, else the current directory."""
    checkout = Path(__file__).resolve().parents[3]
    return checkout if (checkout / "vercel.json").exists() else Path.cwd()


@dataclass(frozen=True)
class FunctionRoute:
    pattern: re.Pattern[str]
    module_path: Path

    @property
    def name(self) -> str:
        return self.module_path.stem


def load_routes(root: Path) -> list[FunctionRoute]:
    config = json.loads((root / "vercel.json").read_text())
    return [FunctionRoute(re.compile(f"^{r['src']}$"), root / r["dest"].lstrip("/")) for r in config["routes"]]


def load_function(path: Path) -> Any:
    """Import ``functions/<name>.py`` by path, as Vercel and Lambda do."""
    name = f"functions.{path.stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class DevRouter:
    """An ASGI app that hands each request to the function vercel.json routes it to."""

    def __init__(self, root: Path) -> None:
        self.routes = load_routes(root)
        self.apps: dict[Path, ASGIApp] = {}
        for route in self.routes:
            if route.module_path not in self.apps:
                self.apps[route.module_path] = load_function(route.module_path).app

    def resolve(self, path: str) -> ASGIApp | None:
        for route in self.routes:
            if route.pattern.match(path):
                return self.apps[route.module_path]
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        app = self.resolve(scope["path"])
        if app is None:
            body = json.dumps({"status": "error", "error_type": "not_found", "error": "no function"}).encode()
            await send(
                {"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"application/json")]}
            )
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        from zapline.clients import aclose_clients

        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await aclose_clients()
                await send({"type": "lifespan.shutdown.complete"})
                return


def serve(host: str, port: int, on_ready: Callable[[], None], stopped: Callable[[], bool] = lambda: False) -> None:
    """Run the dev router with uvicorn until SIGINT/SIGTERM; call ``on_ready`` once listening.

    ``stopped`` tells of a stop signal uvicorn does not see: one that arrived before it took SIGINT
    and SIGTERM over, or a SIGHUP. Uvicorn hands the signal it stopped on back to the handler
    installed before it (re-raising it), so a :class:`~zapline.devtools.signals.Shutdown` in place lets the
    caller clean up and choose the exit status.
    """
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.started and not stopped():
                on_ready()

        async def on_tick(self, counter: int) -> bool:
            return await super().on_tick(counter) or stopped()

    router = DevRouter(project_root())
    config = uvicorn.Config(router, host=host, port=port, log_level="warning", access_log=False)
    Server(config).run()

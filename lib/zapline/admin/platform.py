"""Deployment-wide operator calls: the QStash schedules, which serve every organisation at once.

An organisation's key — even an owner's — never reaches them: pausing the sweeper or the tick would
stop work for every tenant. They take ``Authorization: Bearer <ZAPLINE_ADMIN_TOKEN>``, the platform
admin token of the deployment's settings; without that setting every call here is refused (403).
Logs name the caller ``admin``, never the token.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from zapline.config import get_settings
from zapline.errors import Forbidden, Unauthorized
from zapline.http import guarded

__all__ = ["ADMIN_ROUTES", "authenticate_admin", "routes"]

ADMIN = "admin"  # who acts, for the logs
AdminHandler = Callable[[Request], Awaitable[dict[str, Any]]]


def authenticate_admin(authorization: str | None) -> None:
    """Raise unless ``authorization`` carries the platform admin token."""
    scheme, _, raw = (authorization or "").partition(" ")
    token = raw.strip() if scheme.lower() == "bearer" else ""
    if not token:
        raise Unauthorized("send Authorization: Bearer <platform admin token>")
    expected = get_settings().admin_token
    if expected is None:
        raise Forbidden("deployment-wide calls are disabled: ZAPLINE_ADMIN_TOKEN is not set", required_role=ADMIN)
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise Forbidden("schedules serve every organisation: this call needs the platform admin token "
                        "(ZAPLINE_ADMIN_TOKEN), not an organisation's key", required_role=ADMIN)  # fmt: skip


def admin_endpoint(handler: AdminHandler) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        async def call() -> Response:
            authenticate_admin(request.headers.get("authorization"))
            return JSONResponse(await handler(request))

        return await guarded(call, audience="operator", log_fields={"path": request.url.path})

    return run


async def list_schedules(request: Request) -> dict[str, Any]:
    """Each declared schedule with its QStash state and next run (as ``zapline schedules list``)."""
    from zapline.admin import schedules

    return await schedules.list_schedules()


async def sync_schedules(request: Request) -> dict[str, Any]:
    """Setup recurring: make QStash's ``zapline-*`` schedules equal to the declared ones
    (``?dry_run=true`` only says what would change)."""
    from zapline.admin import schedules

    dry_run = request.query_params.get("dry_run", "false").lower() in ("1", "true", "yes")
    return await schedules.sync(dry_run=dry_run)


async def pause_schedule(request: Request) -> dict[str, Any]:
    from zapline.admin import schedules

    return await schedules.pause(request.path_params["name"], by=ADMIN)


async def resume_schedule(request: Request) -> dict[str, Any]:
    from zapline.admin import schedules

    return await schedules.resume(request.path_params["name"], by=ADMIN)


async def run_schedule(request: Request) -> dict[str, Any]:
    """Publish the schedule's job once, now."""
    from zapline.admin import schedules

    return await schedules.run_now(request.path_params["name"], by=ADMIN)


# (path, handler, method): every one needs the platform admin token.
ADMIN_ROUTES: list[tuple[str, AdminHandler, str]] = [
    ("/api/v1/admin/schedules", list_schedules, "GET"),
    ("/api/v1/admin/schedules/sync", sync_schedules, "POST"),
    ("/api/v1/admin/schedules/{name}/pause", pause_schedule, "POST"),
    ("/api/v1/admin/schedules/{name}/resume", resume_schedule, "POST"),
    ("/api/v1/admin/schedules/{name}/run", run_schedule, "POST"),
]

routes = [Route(path, admin_endpoint(handler), methods=[method]) for path, handler, method in ADMIN_ROUTES]

"""The jobs function's routes, generated from the job registry (:mod:`zapline.jobs.kinds`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.routing import Route

from zapline.http import Delivery, signed
from zapline.jobs.kinds import JOBS
from zapline.registry.jobs import JobKind, Registry

__all__ = ["job_routes", "routes"]


def _endpoint(kind: JobKind[Any]) -> Any:
    handler = kind.resolve()

    async def run(delivery: Delivery) -> Mapping[str, Any]:
        return await handler(kind.parse(delivery.body), delivery)

    run.__qualname__ = f"jobs.{kind.name}"
    return signed(run)


def job_routes(registry: Registry) -> list[Route]:
    """One signed ``POST /api/jobs/<name>`` per declared kind."""
    return [Route(kind.path, _endpoint(kind), methods=["POST"]) for kind in registry]


routes = job_routes(JOBS)

"""Deferred work QStash calls back: one module per kind of job, all routed by ``routes``."""

from __future__ import annotations

from starlette.routing import Route

from zapline.http import signed
from zapline.jobs.conversation import followup, nps
from zapline.jobs.send import send

__all__ = ["routes"]

routes = [
    Route("/api/jobs/send", signed(send), methods=["POST"]),
    Route("/api/jobs/followup", signed(followup), methods=["POST"]),
    Route("/api/jobs/nps", signed(nps), methods=["POST"]),
]

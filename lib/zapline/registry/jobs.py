"""The job registry: each kind of deferred work declared once, as data.

A :class:`JobKind` names its route (``/api/jobs/<name>``), its payload model, its handler (a
``"module:function"`` string, imported only by the jobs function, so enqueueing costs no handler
imports), its lane (QStash flow control derived from the payload), retries, timeout and how its
deduplication id is derived. From the declarations come the jobs function's routes, every publish
(:func:`enqueue`, which adds the failure callback and the ``Upstash-Label``s the Upstash console
filters by) and the failures function's reading of a dead letter (:func:`kind_for_path`).
"""

from __future__ import annotations

import hashlib
import importlib
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from zapline import qstash
from zapline.errors import InvalidPayload

__all__ = [
    "FAILURES_PATH",
    "JobKind",
    "JobPayload",
    "Registry",
    "ScheduledJob",
    "enqueue",
    "enqueue_many",
    "scheduled_dedup",
]

FAILURES_PATH = "/api/failures/qstash"
JOBS_PREFIX = "/api/jobs/"
_PLAIN = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


class JobPayload(BaseModel):
    """What every job carries: the organisation it works for (Zapline published it, so it is trusted)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    org_id: str = Field(pattern=r"^org_[0-9a-z]{10}$")


class ScheduledJob(JobPayload):
    """The payload of a per-organisation scheduled job: which schedule, and which local firing
    (declared here rather than in ``registry/schedules.py`` so ``jobs/kinds.py`` can use it: the
    schedules import the kinds)."""

    schedule: str
    local_time: str  # the firing in the organisation's zone, "YYYY-MM-DDTHH:MM"


def scheduled_dedup(job: ScheduledJob) -> str:
    """The deduplication id of a per-organisation firing: ``<schedule>-<org>-<local date/time>``."""
    return f"{job.schedule}-{job.org_id}-{job.local_time}"


P = TypeVar("P", bound=JobPayload)
Handler = Callable[[Any, Any], Awaitable[Mapping[str, Any]]]


@dataclass(frozen=True)
class JobKind(Generic[P]):
    """One kind of job. ``handler`` is ``"module:function"``, called as ``function(payload, delivery)``."""

    name: str
    payload: type[P]
    handler: str
    lane: Callable[[P], qstash.FlowControl | None] | None = None
    retries: int | None = None  # QStash's default (3) when None
    timeout: int | None = None  # seconds QStash waits for an answer
    dedup: Callable[[P], str] | None = None  # the deduplication id (QStash drops a repeat for 10 min)

    @property
    def path(self) -> str:
        return JOBS_PREFIX + self.name

    def parse(self, body: bytes) -> P:
        try:
            return self.payload.model_validate_json(body)
        except ValidationError as exc:
            raise InvalidPayload.from_validation(f"{self.name} job", exc) from None

    def resolve(self) -> Handler:
        module, _, function = self.handler.partition(":")
        resolved: Handler = getattr(importlib.import_module(module), function)
        return resolved

    def labels(self, payload: P) -> list[str]:
        return [f"job-{self.name}", payload.org_id]

    def publish_options(
        self, payload: P, *, delay: int | None, not_before: int | None, dedup: str | None
    ) -> dict[str, Any]:
        return {
            "delay_seconds": delay,
            "not_before": not_before,
            "deduplication_id": header_safe(dedup or (self.dedup(payload) if self.dedup else None)),
            "flow_control": self.lane(payload) if self.lane else None,
            "retries": self.retries,
            "timeout": self.timeout,
            "failure_callback": FAILURES_PATH,
            "labels": self.labels(payload),
        }


def header_safe(value: str | None) -> str | None:
    """A deduplication id as an HTTP header can carry it: kept when short and plain ASCII, else
    replaced by its digest (the same value always gives the same id)."""
    if value is None or _PLAIN.match(value):
        return value
    return "h-" + hashlib.sha256(value.encode()).hexdigest()[:40]


class Registry:
    """The declared job kinds, by name and by path."""

    def __init__(self, kinds: Iterable[JobKind[Any]]) -> None:
        self.kinds: dict[str, JobKind[Any]] = {}
        for kind in kinds:
            if kind.name in self.kinds:
                raise ValueError(f"job kind {kind.name!r} is declared twice")
            self.kinds[kind.name] = kind

    def __iter__(self) -> Any:
        return iter(self.kinds.values())

    def for_path(self, path: str) -> JobKind[Any] | None:
        return self.kinds.get(path.removeprefix(JOBS_PREFIX)) if path.startswith(JOBS_PREFIX) else None


async def enqueue(
    kind: JobKind[P],
    payload: P,
    *,
    delay: int | None = None,
    not_before: int | None = None,
    dedup: str | None = None,
) -> str:
    """Publish one job for QStash to deliver to its route; return QStash's message id.

    ``delay`` is seconds from now, ``not_before`` a unix time in seconds (it wins); ``dedup``
    overrides the kind's own deduplication id.
    """
    body = payload.model_dump_json(exclude_none=True).encode()
    options = kind.publish_options(payload, delay=delay, not_before=not_before, dedup=dedup)
    return await qstash.publish(kind.path, body, **options)


async def enqueue_many(kind: JobKind[P], payloads: list[P], *, not_before: int | None = None) -> list[str]:
    """Publish many jobs of one kind in QStash batch requests (one request per 100 jobs)."""
    entries = [
        (kind.path, p.model_dump_json(exclude_none=True).encode(),
         kind.publish_options(p, delay=None, not_before=not_before, dedup=None))
        for p in payloads
    ]  # fmt: skip
    return await qstash.publish_batch(entries)

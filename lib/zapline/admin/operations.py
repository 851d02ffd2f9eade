"""Dead-letter operations of the operator API: list with filters, retry, delete, clean.

QStash's DLQ is deployment-wide; an organisation acts only on the dead letters in its own records
(those the failures function and the ingress relay recorded for it), so a dlq_id that is not in them
is simply not found. A retry holds the dead letter (its ``dead-seen`` marker) while QStash re-creates
the message, and marks it retried after: a second retry answers 409 and never delivers twice. A
send QStash gave up on is put back to ``pending`` first, so the retried job sends it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.datastructures import QueryParams

from zapline import qstash
from zapline.errors import BadRequest, Conflict, InvalidPayload, NotFound, RecordMissing, ZaplineError
from zapline.jobs.kinds import JOBS, SEND, SendJob
from zapline.logs import get_logger
from zapline.store import deadletters
from zapline.store.clock import now_ms
from zapline.store.deadletters import AlreadyRetried, Busy, Claimed, DeadLetter, Deleted
from zapline.store.outbound import fail_send

__all__ = ["Actor", "CleanRequest", "Filters", "RetryRequest", "clean", "delete", "listing", "retry", "retry_many"]

log = get_logger("zapline.admin.operations")

JOB_NAMES = ("inbound", *(kind.name for kind in JOBS), "unknown")
MAX_BULK = 100
_ID = re.compile(r"^(local-[0-9a-f]{16}|[A-Za-z0-9][A-Za-z0-9._:-]{0,127})$")
DAY_MS = 86_400_000
NOT_IN_QSTASH = (
    "was refused by the ingress relay (oversized or not JSON) before QStash accepted it: QStash holds no "
    "copy to deliver again. UAZAPI or the sender must send it again; delete it here"
)


@dataclass(frozen=True)
class Actor:
    """Who acts: the organisation of the API key and the key's prefix (for the log, never the key)."""

    org_id: str
    key_prefix: str


class RetryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dlq_ids: list[str] | None = Field(default=None, min_length=1, max_length=MAX_BULK)
    job: str | None = None

    @model_validator(mode="after")
    def one_of(self) -> RetryRequest:
        if (self.dlq_ids is None) == (self.job is None):
            raise ValueError('send {"dlq_ids": [...]} or {"job": "<kind>"}, one of them')
        if self.job is not None and self.job not in JOB_NAMES:
            raise ValueError(f"job must be one of {', '.join(JOB_NAMES)}")
        return self


class CleanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    older_than_days: int = Field(ge=0, le=3650)


def _instant(raw: str, name: str, zone: ZoneInfo, *, end_of_day: bool) -> int:
    """``YYYY-MM-DD`` (a whole day in the organisation's timezone) or epoch milliseconds."""
    if raw.isascii() and raw.isdigit() and len(raw) <= 15:
        return int(raw)
    try:
        day = date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise BadRequest(f"{name} must be a date written YYYY-MM-DD or epoch milliseconds, e.g. 2026-11-30")
    start = int(datetime.combine(day, time(), zone).timestamp() * 1000)
    return start + DAY_MS - 1 if end_of_day else start


@dataclass(frozen=True)
class Filters:
    job: str | None = None
    reason: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None

    @classmethod
    def from_query(cls, query: QueryParams, timezone: str) -> Filters:
        zone = ZoneInfo(timezone)
        job = query.get("job") or None
        if job is not None and job not in JOB_NAMES:
            raise BadRequest(f"job must be one of {', '.join(JOB_NAMES)}")
        reason = query.get("reason") or None
        if reason is not None and len(reason) > 200:
            raise BadRequest("reason is a substring of at most 200 characters")
        since, until = query.get("since"), query.get("until")
        return cls(
            job=job,
            reason=reason.casefold() if reason else None,
            since_ms=_instant(since, "since", zone, end_of_day=False) if since else None,
            until_ms=_instant(until, "until", zone, end_of_day=True) if until else None,
        )

    def matches(self, letter: DeadLetter) -> bool:
        return (
            (self.job is None or letter.job == self.job)
            and (self.reason is None or self.reason in str(letter.record.get("reason", "")).casefold())
            and (self.since_ms is None or letter.at >= self.since_ms)
            and (self.until_ms is None or letter.at <= self.until_ms)
        )


async def listing(org_id: str, filters: Filters, *, limit: int) -> list[dict[str, Any]]:
    """The organisation's dead letters that match, newest first."""
    letters = await deadletters.all_dead_letters(org_id)
    return [letter.api() for letter in letters if filters.matches(letter)][:limit]


def _check_id(ident: str) -> str:
    if not _ID.match(ident):
        raise NotFound(f"no dead letter {ident[:64]}")
    return ident


async def _gone(org_id: str, ident: str) -> ZaplineError:
    """Why a dead letter is not among the records: retried, deleted, or never this organisation's."""
    mark = await deadletters.fate(org_id, ident) if not ident.startswith("local-") else ""
    if mark.startswith("retried:"):
        return Conflict(f"dead letter {ident} was already retried (QStash message {mark.removeprefix('retried:')})")
    if mark == "deleted":
        return NotFound(f"dead letter {ident} was deleted")
    return NotFound(f"no dead letter {ident}")


def _expired(ident: str) -> Conflict:
    return Conflict(f"QStash no longer holds dead letter {ident}: it expired (QStash keeps dead letters 3 to 30 days "
                    "by plan) or was retried or deleted in the Upstash console; delete it here")  # fmt: skip


def _body(message: dict[str, Any]) -> bytes:
    import base64

    if isinstance(message.get("bodyBase64"), str):
        return base64.b64decode(message["bodyBase64"])
    return str(message.get("body") or "").encode()


async def _revive(actor: Actor, letter: DeadLetter, message: dict[str, Any]) -> str | None:
    """Put a send QStash gave up on back to ``pending``; the message id when it did."""
    if JOBS.for_path(urlsplit(str(message.get("url", ""))).path) is not SEND:
        return None
    try:
        job: SendJob = SEND.parse(_body(message))
    except InvalidPayload:
        return None
    if job.org_id != actor.org_id:  # recorded for this organisation from the job it published: never differs
        raise NotFound(f"no dead letter {letter.id}")
    try:
        return job.message_id if await deadletters.revive_send(actor.org_id, job.message_id) else None
    except RecordMissing:
        return None


async def retry(actor: Actor, ident: str) -> dict[str, Any]:
    """Have QStash deliver one dead letter again; it leaves the organisation's list."""
    _check_id(ident)
    if ident.startswith("local-"):
        known = any(letter.id == ident for letter in await deadletters.all_dead_letters(actor.org_id))
        if known:
            raise Conflict(f"dead letter {ident} cannot be retried: it {NOT_IN_QSTASH}")
        raise NotFound(f"no dead letter {ident}")
    claim = await deadletters.claim_retry(actor.org_id, ident)
    if isinstance(claim, AlreadyRetried):
        raise Conflict(f"dead letter {ident} was already retried (QStash message {claim.message_id})")
    if isinstance(claim, Deleted):
        raise NotFound(f"dead letter {ident} was deleted")
    if isinstance(claim, Busy):
        raise Conflict(f"dead letter {ident} is being retried right now")
    if not isinstance(claim, Claimed):
        raise NotFound(f"no dead letter {ident}")
    letter = claim.letter
    try:
        message = await qstash.dlq_get(ident)
        if message is None:
            raise _expired(ident)
        revived = await _revive(actor, letter, message)
        new_id = await qstash.dlq_retry(ident)
        if new_id is None:
            if revived:
                await fail_send(actor.org_id, revived, f"gave up: {letter.record.get('reason', '')}")
            raise _expired(ident)
    except BaseException:
        await deadletters.release_retry(actor.org_id, ident)
        raise
    await deadletters.mark_retried(actor.org_id, ident, new_id)
    log.info("dead letter retried", org=actor.org_id, key_prefix=actor.key_prefix, dlq_id=ident, job=letter.job,
             qstash_message_id=new_id, message_id=revived)  # fmt: skip
    return {"id": ident, "outcome": "retried", "job": letter.job, "qstash_message_id": new_id}


async def retry_many(actor: Actor, request: RetryRequest) -> dict[str, Any]:
    """Retry each named dead letter (or up to ``MAX_BULK`` of one job kind); one result per id."""
    if request.dlq_ids is not None:
        ids = list(dict.fromkeys(request.dlq_ids))
    else:
        letters = await deadletters.all_dead_letters(actor.org_id)
        ids = [letter.id for letter in letters if letter.job == request.job and letter.dlq_id][:MAX_BULK]
    results: list[dict[str, Any]] = []
    for ident in ids:
        try:
            results.append(await retry(actor, ident))
        except ZaplineError as exc:
            results.append({"id": ident[:128], "outcome": "error", "error_type": exc.error_type, "error": exc.message})
    retried = sum(1 for r in results if r["outcome"] == "retried")
    return {"retried": retried, "failed": len(results) - retried, "results": results}


async def delete(actor: Actor, ident: str) -> dict[str, Any]:
    """Drop one dead letter, from QStash's DLQ and from the organisation's records."""
    _check_id(ident)
    letters = {letter.id: letter for letter in await deadletters.all_dead_letters(actor.org_id)}
    letter = letters.get(ident)
    if letter is None:
        raise await _gone(actor.org_id, ident)
    if letter.dlq_id and (await deadletters.fate(actor.org_id, ident)).startswith("retrying:"):
        raise Conflict(f"dead letter {ident} is being retried right now")
    in_qstash = await qstash.dlq_delete(letter.dlq_id) if letter.dlq_id else False
    await deadletters.delete(actor.org_id, [ident])
    log.info("dead letter deleted", org=actor.org_id, key_prefix=actor.key_prefix, dlq_id=ident, job=letter.job)
    return {"id": ident, "outcome": "deleted", "job": letter.job, "qstash": "deleted" if in_qstash else "absent"}


async def clean(actor: Actor, request: CleanRequest) -> dict[str, Any]:
    """Drop every dead letter recorded more than ``older_than_days`` days ago, QStash's copies first."""
    cutoff = now_ms() - request.older_than_days * DAY_MS
    old = [letter for letter in await deadletters.all_dead_letters(actor.org_id) if letter.at < cutoff]
    dlq_ids = [letter.dlq_id for letter in old if letter.dlq_id]
    in_qstash = await qstash.dlq_delete_many(dlq_ids) if dlq_ids else 0
    removed = await deadletters.delete(actor.org_id, [letter.id for letter in old])
    log.info("dead letters cleaned", org=actor.org_id, key_prefix=actor.key_prefix, deleted=len(removed),
             older_than_days=request.older_than_days, qstash_deleted=in_qstash)  # fmt: skip
    return {"deleted": len(removed), "qstash_deleted": in_qstash, "ids": [letter.id for letter in removed]}

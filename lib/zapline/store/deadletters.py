"""An organisation's dead letters in Redis, and the operations on them: one typed function per
operation of ``lua/deadletters.lua``.

A dead letter is addressed by its QStash ``dlq_id``; one the ingress relay recorded (an oversized or
malformed webhook, never in QStash) by ``local-`` and the start of the SHA-1 of its stored record.
The ``dead-seen`` marker of a dlq_id keeps its fate (retried as which message, deleted) for
``DEAD_LETTER_SEEN_TTL``, so a second retry finds out instead of finding nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from zapline.clients import redis_client
from zapline.errors import RecordMissing
from zapline.store.clock import now_ms
from zapline.store.keys import DEAD_LETTER_SEEN_TTL, OrgKeys
from zapline.store.queries import normalise_dead_letter
from zapline.store.scripts import Script, run_redis, script_json

__all__ = [
    "AlreadyRetried",
    "Busy",
    "Claimed",
    "DeadLetter",
    "Deleted",
    "Missing",
    "all_dead_letters",
    "claim_retry",
    "delete",
    "fate",
    "mark_retried",
    "release_retry",
    "revive_send",
]

RETRY_LEASE_MS = 60_000  # a retry that died half-way frees its dead letter after this


@dataclass(frozen=True)
class DeadLetter:
    id: str
    record: dict[str, Any]

    @property
    def dlq_id(self) -> str:
        return str(self.record.get("dlq_id") or "")

    @property
    def job(self) -> str:
        return str(self.record.get("job") or "")

    @property
    def at(self) -> int:
        at = self.record.get("at")
        return at if isinstance(at, int) else 0

    def api(self) -> dict[str, Any]:
        return {"id": self.id, **self.record, "retryable": bool(self.dlq_id)}


def _dead_letter(raw: str) -> DeadLetter | None:
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    ident = str(record.get("dlq_id") or "") or "local-" + hashlib.sha1(raw.encode()).hexdigest()[:16]
    return DeadLetter(ident, normalise_dead_letter(record))


async def all_dead_letters(org_id: str) -> list[DeadLetter]:
    """Every recorded dead letter, newest first (at most ``DEAD_LETTERS_KEPT``)."""
    rows = await run_redis(redis_client().lrange(OrgKeys(org_id).dead_letters, 0, -1))
    return [letter for letter in map(_dead_letter, rows) if letter is not None]


async def _run(org_id: str, op: str, **args: Any) -> dict[str, Any]:
    payload = {"now": now_ms(), "ttl": DEAD_LETTER_SEEN_TTL, **args}
    raw = await Script.load("deadletters").run([OrgKeys(org_id).org], [op, script_json(payload)])
    result: dict[str, Any] = json.loads(raw)
    if result.get("error") == "no_message":
        raise RecordMissing("message", args.get("message_id"), org=org_id)
    return result


@dataclass(frozen=True)
class Claimed:
    """This retry holds the dead letter until it is marked retried or released."""

    letter: DeadLetter


@dataclass(frozen=True)
class AlreadyRetried:
    message_id: str


@dataclass(frozen=True)
class Deleted:
    pass


@dataclass(frozen=True)
class Busy:
    """Another retry of the same dead letter is under way."""


@dataclass(frozen=True)
class Missing:
    pass


async def claim_retry(org_id: str, dlq_id: str) -> Claimed | AlreadyRetried | Deleted | Busy | Missing:
    result = await _run(org_id, "claim_retry", dlq_id=dlq_id, lease_ms=RETRY_LEASE_MS)
    outcome = result["outcome"]
    if outcome == "claimed":
        letter = _dead_letter(result["record"])
        return Claimed(letter) if letter is not None else Missing()
    if outcome == "retried":
        return AlreadyRetried(str(result.get("message_id", "")))
    return Deleted() if outcome == "deleted" else Busy() if outcome == "busy" else Missing()


async def mark_retried(org_id: str, dlq_id: str, message_id: str) -> None:
    """QStash took the retry: the record leaves the list, its marker names the new message."""
    await _run(org_id, "retried", dlq_id=dlq_id, message_id=message_id)


async def release_retry(org_id: str, dlq_id: str) -> None:
    """The retry did not happen: the dead letter can be retried again."""
    await _run(org_id, "release_retry", dlq_id=dlq_id)


async def delete(org_id: str, ids: list[str]) -> list[DeadLetter]:
    """Remove these records (by id); the ones removed. A removed dlq_id's marker says ``deleted``."""
    if not ids:
        return []
    result = await _run(org_id, "delete", ids=ids)
    removed = result.get("removed")
    rows = removed if isinstance(removed, list) else []  # cjson writes an empty array as {}
    return [letter for letter in map(_dead_letter, rows) if letter is not None]


async def fate(org_id: str, dlq_id: str) -> str:
    """What became of a dead letter no longer among the records: ``retried:<message id>``,
    ``deleted``, ``retrying:…``, ``1`` (recorded) or ``""`` (never recorded here, or long ago)."""
    mark = await run_redis(redis_client().get(OrgKeys(org_id).dead_letter_seen(dlq_id)))
    return str(mark or "")


async def revive_send(org_id: str, message_id: str) -> bool:
    """A send QStash gave up on goes back to ``pending`` (never one that was sent or opted out):
    True when it did."""
    result = await _run(org_id, "revive", message_id=message_id)
    return bool(result.get("outcome") == "revived")

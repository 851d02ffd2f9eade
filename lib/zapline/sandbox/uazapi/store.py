"""The simulator's memory in the sandbox's Redis, so a restarted sandbox still lists its sends.

It lives in a database of its own (the supervisor gives the simulator database 2; the Upstash REST
bridge only ever touches database 0 and QStash has database 1), so the application cannot reach it.
Without ``redis_url`` the simulator keeps everything in memory only, as before.

| key                      | type | holds                                                           |
|--------------------------|------|-----------------------------------------------------------------|
| uazapi:instances         | hash | token -> instance (id, name, owner, created, webhooks)          |
| uazapi:sent              | list | ``GET /_sandbox/sent`` records, oldest first, the last max_sent |
| uazapi:messages:<id>     | hash | messageid -> a message the instance sent or received            |
| uazapi:contacts:<id>     | hash | digits -> the name a customer wrote with                        |

Every write is awaited before the request it belongs to is answered. Counters, injected faults and
``/webhook/errors`` stay in memory: the real UAZAPI forgets its webhook errors too. A file sent as
base64 is kept with its message up to ``MAX_STORED_FILE`` bytes; a larger one downloads, after a
restart, as the placeholder a URL-sent file gets.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from zapline.sandbox.resp import Arg, ConnectionLost, Pool, RespError
from zapline.sandbox.uazapi.instances import Instance, KnownMessage, Webhook

__all__ = ["MAX_STORED_FILE", "Saved", "Store", "StoreError"]

INSTANCES = "uazapi:instances"
SENT = "uazapi:sent"
MAX_STORED_FILE = 1024 * 1024

Command = tuple[Arg, ...]


def messages_key(instance_id: str) -> str:
    return f"uazapi:messages:{instance_id}"


def contacts_key(instance_id: str) -> str:
    return f"uazapi:contacts:{instance_id}"


class StoreError(RuntimeError):
    """Redis refused or lost a write."""


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _instance_record(instance: Instance) -> dict[str, Any]:
    return {
        "token": instance.token, "name": instance.name, "owner": instance.owner, "id": instance.id,
        "profile_name": instance.profile_name, "created": instance.created, "errors_since": instance.errors_since,
        "webhooks": [asdict(hook) for hook in instance.webhooks],
    }  # fmt: skip


def _instance(record: dict[str, Any]) -> Instance:
    return Instance(
        token=record["token"], name=record["name"], owner=record["owner"], id=record["id"],
        profile_name=record["profile_name"], created=record["created"], errors_since=record["errors_since"],
        webhooks=[Webhook(**hook) for hook in record["webhooks"]],
    )  # fmt: skip


def _message_record(message: KnownMessage) -> dict[str, Any]:
    record = asdict(message)
    data = message.data
    record["data"] = base64.b64encode(data).decode() if data is not None and len(data) <= MAX_STORED_FILE else None
    return record


def _message(record: dict[str, Any]) -> KnownMessage:
    data = record.pop("data", None)
    return KnownMessage(**record, data=base64.b64decode(data) if data is not None else None)


def _timestamp(message: KnownMessage) -> int:
    try:
        return int(message.wire.get("messageTimestamp") or 0)
    except (TypeError, ValueError):
        return 0


@dataclass
class Saved:
    instances: list[Instance] = field(default_factory=list)
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (instance id, record), oldest first


class Store:
    """Writes and reads the simulator's memory; every method does nothing when there is no Redis."""

    def __init__(self, redis_url: str, *, max_sent: int) -> None:
        self.pool = Pool(redis_url) if redis_url else None
        self.max_sent = max_sent

    async def load(self) -> Saved:
        if self.pool is None:
            return Saved()
        instances_raw, sent_raw = await self.pool.pipeline([("HGETALL", INSTANCES), ("LRANGE", SENT, 0, -1)])
        instances = [_instance(json.loads(v)) for v in _pairs(instances_raw).values()]
        if instances:
            commands: list[Command] = []
            for instance in instances:
                commands += [("HGETALL", messages_key(instance.id)), ("HGETALL", contacts_key(instance.id))]
            replies = await self.pool.pipeline(commands)
            for index, instance in enumerate(instances):
                stored = (_message(json.loads(v)) for v in _pairs(replies[2 * index]).values())
                messages = sorted(stored, key=_timestamp)
                instance.messages = {m.messageid: m for m in messages}
                instance.contacts = _pairs(replies[2 * index + 1])
        sent = []
        for raw in sent_raw if isinstance(sent_raw, list) else []:
            entry = json.loads(raw) if isinstance(raw, bytes) else None
            if isinstance(entry, dict):
                sent.append((str(entry["instance"]), dict(entry["record"])))
        return Saved(instances, sent)

    async def instance(self, instance: Instance) -> None:
        await self._write([("HSET", INSTANCES, instance.token, _dumps(_instance_record(instance)))])

    async def message(
        self, instance: Instance, message: KnownMessage, forgotten: list[str], *, sent: dict[str, Any] | None = None
    ) -> None:
        """A message the instance now knows (and, for a send, its ``/_sandbox/sent`` record)."""
        key = messages_key(instance.id)
        commands: list[Command] = [("HSET", key, message.messageid, _dumps(_message_record(message)))]
        if forgotten:
            commands.append(("HDEL", key, *forgotten))
        if message.contact and instance.contacts.get(message.contact):
            commands.append(("HSET", contacts_key(instance.id), message.contact, instance.contacts[message.contact]))
        if sent is not None:
            commands += [
                ("RPUSH", SENT, _dumps({"instance": instance.id, "record": sent})),
                ("LTRIM", SENT, -self.max_sent, -1),
            ]
        await self._write(commands)

    async def _write(self, commands: list[Command]) -> None:
        if self.pool is None:
            return
        try:
            replies = await self.pool.pipeline([("MULTI",), *commands, ("EXEC",)])
        except (ConnectionLost, OSError) as exc:
            raise StoreError(f"the uazapi simulator cannot reach its redis: {exc}") from exc
        outcome = replies[-1]
        failed = [r for r in [*replies, *(outcome if isinstance(outcome, list) else [])] if isinstance(r, RespError)]
        if failed or not isinstance(outcome, list):
            reason = failed[0].message if failed else "transaction aborted"
            raise StoreError(f"redis refused a write of the uazapi simulator: {reason}")

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()


def _pairs(reply: Any) -> dict[str, str]:
    items = [i.decode() for i in reply if isinstance(i, bytes)] if isinstance(reply, list) else []
    return {items[i]: items[i + 1] for i in range(0, len(items) - 1, 2)}

"""The simulator's contacts: what UAZAPI knows of each chat (names, profile picture, labels) and the
instance's WhatsApp labels, for ``POST /chat/find``, ``POST /chat/details`` and ``GET /labels``.

An instance's chats are its customers: everyone who wrote to it or was sent a message, plus the
contacts set with ``POST /_sandbox/contacts``. A customer's own WhatsApp name (``wa_name``) is the
name it writes with (``Instance.contacts``); ``wa_contactName`` is the name in the phone's address
book, ``image`` its profile picture and ``wa_label`` the ids of its labels (see ``GET /labels``).

Kept in the simulator's Redis (database 2) like the rest of its memory, read back on first use:

| key                      | type | holds                                                     |
|--------------------------|------|-----------------------------------------------------------|
| uazapi:profiles:<id>     | hash | digits -> {"agenda_name", "picture", "labels": [ids]}     |
| uazapi:labels:<id>       | hash | label id -> {"id", "name", "color", "createdAt"}          |
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from zapline.sandbox.resp import Arg
from zapline.sandbox.uazapi.instances import Instance
from zapline.sandbox.uazapi.simulator import Simulator
from zapline.sandbox.uazapi.store import contacts_key

__all__ = ["Book", "Profile", "book", "chat_object", "chats", "save"]

# The spec's colorHex for label colours 0-19.
COLORS = ("#ff9484", "#64c4ff", "#fed428", "#dfaef0", "#9ab6c1", "#56ccb4", "#fe9dfe", "#d3a91f", "#6f7bcf",
          "#d8e651", "#01d0e2", "#ffc5c7", "#92ceac", "#f64847", "#00a1f2", "#83e421", "#ffae04", "#b4ebff",
          "#9ba6ff", "#9568cf")  # fmt: skip


def profiles_key(instance_id: str) -> str:
    return f"uazapi:profiles:{instance_id}"


def labels_key(instance_id: str) -> str:
    return f"uazapi:labels:{instance_id}"


@dataclass
class Profile:
    agenda_name: str = ""
    picture: str = ""
    labels: list[str] = field(default_factory=list)  # label ids


@dataclass
class Book:
    profiles: dict[str, Profile] = field(default_factory=dict)  # digits -> profile
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> label
    find_calls: list[dict[str, int]] = field(default_factory=list)  # {"offset", "limit", "status"}: memory only

    def label_id(self, name: str, now: int) -> str:
        """The id of the label called ``name``, created if new."""
        for label_id, label in self.labels.items():
            if label["name"] == name:
                return label_id
        label_id = str(max((int(i) for i in self.labels), default=0) + 1)
        color = int(label_id) % len(COLORS)
        self.labels[label_id] = {"id": label_id, "name": name, "color": color, "colorHex": COLORS[color],
                                 "createdAt": now}  # fmt: skip
        return label_id


_books: WeakKeyDictionary[Simulator, dict[str, Book]] = WeakKeyDictionary()


async def book(sim: Simulator, instance: Instance) -> Book:
    """The instance's contacts, read back from Redis the first time they are needed."""
    books = _books.setdefault(sim, {})
    found = books.get(instance.id)
    if found is not None:
        return found
    loaded = Book()
    if sim.store.pool is not None:
        profiles, labels = await sim.store.pool.pipeline(
            [("HGETALL", profiles_key(instance.id)), ("HGETALL", labels_key(instance.id))]
        )
        loaded.profiles = {k: Profile(**json.loads(v)) for k, v in _pairs(profiles).items()}
        loaded.labels = {k: json.loads(v) for k, v in _pairs(labels).items()}
    return books.setdefault(instance.id, loaded)


async def save(sim: Simulator, instance: Instance, found: Book, numbers: list[str]) -> None:
    """Keep these contacts (and every label) in Redis before the request is answered."""
    commands: list[tuple[Arg, ...]] = []
    for digits in numbers:
        if digits in found.profiles:
            commands.append(("HSET", profiles_key(instance.id), digits, json.dumps(asdict(found.profiles[digits]))))
        if instance.contacts.get(digits):
            commands.append(("HSET", contacts_key(instance.id), digits, instance.contacts[digits]))
    for label_id, label in found.labels.items():
        commands.append(("HSET", labels_key(instance.id), label_id, json.dumps(label)))
    if commands:
        await sim.store._write(commands)  # the simulator store's one transactional write path


def _pairs(reply: Any) -> dict[str, str]:
    items = [i.decode() for i in reply if isinstance(i, bytes)] if isinstance(reply, list) else []
    return {items[i]: items[i + 1] for i in range(0, len(items) - 1, 2)}


def _last_message(instance: Instance) -> dict[str, int]:
    """Each contact's latest message time (ms), from what the instance sent and received."""
    latest: dict[str, int] = {}
    for message in instance.messages.values():
        try:
            at = int(message.wire.get("messageTimestamp") or 0)
        except (TypeError, ValueError):
            at = 0
        if message.contact.isdigit() and at >= latest.get(message.contact, 0):
            latest[message.contact] = at
    return latest


def chat_object(instance: Instance, found: Book, digits: str, base_url: str, last: int = 0) -> dict[str, Any]:
    """The Chat object UAZAPI stores for a 1:1 chat (the webhook ``chat``'s shape)."""
    profile = found.profiles.get(digits, Profile())
    push_name = instance.contacts.get(digits, "")
    chat = instance.builder(base_url).chat(digits, push_name)
    chat.update(
        id="r" + hashlib.sha256(f"{instance.id}:{digits}".encode()).hexdigest()[:14],
        name=profile.agenda_name or push_name,
        wa_contactName=profile.agenda_name,
        image=profile.picture,
        imagePreview=f"{profile.picture}?preview=1" if profile.picture else "",
        wa_label=list(profile.labels),
        wa_lastMsgTimestamp=last,
        wa_unreadCount=0,
    )
    return chat


def chats(instance: Instance, found: Book, base_url: str) -> list[dict[str, Any]]:
    """Every 1:1 chat of the instance."""
    last = _last_message(instance)
    numbers = {d for d in (*instance.contacts, *last, *found.profiles) if d.isdigit() and 10 <= len(d) <= 15}
    return [chat_object(instance, found, digits, base_url, last.get(digits, 0)) for digits in sorted(numbers)]

"""Hypothesis strategies for the fuzz suite: JSON from nowhere, and valid UAZAPI webhooks bent out
of shape (wrong types, huge numbers, NaN and infinities, odd unicode, deep nesting, missing keys)."""

from __future__ import annotations

import base64
import json
import math
from typing import Any

from hypothesis import strategies as st

from zapline.sandbox.uazapi.payloads import Uazapi, wa_id

ODD_TEXT = st.sampled_from(
    ["", " ", "NaN", "nan", "Infinity", "-Infinity", "inf", "1e999", "-0", "0x10", "null", "true", "[]", "{}",
     "\u0000", "\ud800", "\udfff", "\u202e\u0644\u0627", "🤖" * 50, "a" * 10_000, "conv_000000000000", "../../etc",
     "%00", "{token}", "5511977770001", "+55 (11) 97777-0001", "@s.whatsapp.net", "1700000000000"]
)  # fmt: skip
ODD_NUMBERS = st.sampled_from(
    [math.nan, math.inf, -math.inf, 10**400, -(10**400), 2**63, -(2**63) - 1, 2**53 + 1, 1e308, -1e-308, 0.5, -1, 0]
)
LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=40), ODD_TEXT, ODD_NUMBERS)
JSON = st.recursive(
    LEAVES, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=16,
)  # fmt: skip
DEEP = st.integers(min_value=1, max_value=80).map(lambda n: json.loads("[" * n + "]" * n))


def dumps(value: Any) -> bytes:
    """JSON as a careless sender writes it: NaN and Infinity as bare words, lone surrogates escaped."""
    return json.dumps(value, allow_nan=True).encode()


def payload(kind: str, token: str) -> dict[str, Any]:
    """A valid webhook of one kind, with fresh WhatsApp ids."""
    u = Uazapi(token=token)
    contact = "55119777" + str(abs(hash(wa_id())) % 10**5).zfill(5)
    target = wa_id()
    builders = {
        "text": lambda: u.text("oi", contact=contact),
        "image": lambda: u.image(contact=contact),
        "audio": lambda: u.audio(contact=contact),
        "document": lambda: u.document(contact=contact),
        "location": lambda: u.location(contact=contact),
        "contact_card": lambda: u.contact_card(contact=contact),
        "reaction": lambda: u.reaction(target, contact=contact),
        "poll_vote": lambda: u.poll_vote(target, contact=contact),
        "edited": lambda: u.edited(target, "novo", contact=contact),
        "deleted": lambda: u.deleted(target, contact=contact),
        "receipt": lambda: u.receipt([target]),
        "connection": lambda: u.connection("disconnected"),
        "unknown": lambda: u.unknown("presence"),
    }
    built: dict[str, Any] = builders[kind]()
    return built


KINDS = st.sampled_from(
    ["text", "image", "audio", "document", "location", "contact_card", "reaction", "poll_vote", "edited", "deleted",
     "receipt", "connection", "unknown"]
)  # fmt: skip


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value (dict keys and list indices), the root excepted."""
    found: list[tuple[Any, ...]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, child in items:
        found.append((*prefix, key))
        found += paths(child, (*prefix, key))
    return found


@st.composite
def mutated(draw: st.DrawFn, token: str) -> bytes:
    """A valid webhook with one to three of its values replaced, removed or buried."""
    data = payload(draw(KINDS), token)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        places = paths(data)
        if not places:
            break
        place = draw(st.sampled_from(places))
        *parents, last = place
        holder: Any = data
        for step in parents:
            holder = holder[step]
        action = draw(st.sampled_from(["replace", "replace", "replace", "remove", "nest", "stringify"]))
        if action == "remove" and isinstance(holder, dict):
            del holder[last]
        elif action == "nest":
            holder[last] = draw(st.sampled_from([[holder[last]], {"value": holder[last]}]))
        elif action == "stringify":
            holder[last] = json.dumps(holder[last], allow_nan=True)
        else:
            holder[last] = draw(st.one_of(LEAVES, JSON, DEEP))
    return dumps(data)


def cursor_like() -> st.SearchStrategy[str]:
    """Cursors as this API writes them (base64url of a JSON pair), with anything inside."""
    pair = st.tuples(st.one_of(LEAVES, JSON), st.one_of(LEAVES, st.just("conv_000000000000")))
    return st.one_of(
        st.text(max_size=300),
        st.one_of(JSON, pair).map(lambda v: base64.urlsafe_b64encode(dumps(v)).decode().rstrip("=")),
    )

"""WhatsApp JIDs and phone numbers.

A person's phone JID is ``<digits>@s.whatsapp.net`` (``@c.us`` is an old alias; ``user:device@…``
carries a device suffix). ``…@lid`` is an opaque linked id that does not contain the phone, and
``@g.us`` / ``@broadcast`` / ``@newsletter`` are not people: none of those ever becomes a phone.
"""

from __future__ import annotations

__all__ = ["display_jid", "e164", "is_group_jid", "jid_digits"]

_PERSON_SERVERS = ("", "s.whatsapp.net", "c.us")
_DIGITS = frozenset("0123456789")


def jid_digits(jid: str | None) -> str | None:
    """The digits of a person's phone JID (or a formatted phone), else None."""
    if not jid:
        return None
    user, _, server = jid.strip().partition("@")
    if server not in _PERSON_SERVERS:
        return None
    digits = "".join(ch for ch in user.split(":", 1)[0] if ch in _DIGITS)  # not str.isdigit: "²" is one
    return digits if 8 <= len(digits) <= 15 else None


def e164(jid_or_phone: str | None) -> str | None:
    """``+<digits>`` for a phone JID or phone number; None for LIDs, groups and junk.

    Brazilian mobiles registered before the ninth digit often appear as 55 + DDD + 8 digits;
    those get the 9 back (subscriber numbers starting 6–9) so one person has one E.164 number.
    """
    digits = jid_digits(jid_or_phone)
    if digits is None:
        return None
    if len(digits) == 12 and digits.startswith("55") and digits[4] in "6789":
        digits = f"{digits[:4]}9{digits[4:]}"
    return f"+{digits}"


def is_group_jid(jid: str | None) -> bool:
    return bool(jid) and str(jid).endswith("@g.us")


def display_jid(jid: str | None) -> str:
    """How to name a participant in text: its E.164 phone, else the JID as it came (a LID)."""
    return e164(jid) or (jid or "").strip() or "?"

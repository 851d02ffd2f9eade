"""Who is on WhatsApp in the sandbox, and the JIDs UAZAPI gives them.

The rule (documented for tests and ``zapline simulate``): strip every non-digit; a number with fewer
than 10 or more than 15 digits, or whose national part (after the country code) starts with
``0000`` — e.g. ``5500000000001`` — is **not** on WhatsApp. Everything else is. Groups
(``…@g.us``) and linked ids (``…@lid``) are taken as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Recipient", "check", "lid_for", "recipient"]

# Country codes of one digit (NANP, Russia/Kazakhstan); the rest are taken as two digits, which is
# right for Brazil (55) and close enough for a sandbox.
_ONE_DIGIT_CODES = ("1", "7")


@dataclass(frozen=True)
class Recipient:
    query: str  # as the caller wrote it
    digits: str  # the phone digits ("" for groups and LIDs)
    jid: str  # where the message goes: <digits>@s.whatsapp.net, …@g.us or …@lid
    on_whatsapp: bool

    @property
    def is_group(self) -> bool:
        return self.jid.endswith("@g.us")

    @property
    def contact(self) -> str:
        """The contact's number as the webhook builder expects it (digits, or the group/LID user part)."""
        return self.digits or self.jid.partition("@")[0]


def lid_for(digits: str) -> str:
    """The (made-up, stable) linked id of a phone, the same the webhook builder uses."""
    return f"1000000{digits[-8:]}@lid"


def _national(digits: str) -> str:
    return digits[1:] if digits.startswith(_ONE_DIGIT_CODES) else digits[2:]


def recipient(number: str) -> Recipient:
    raw = number.strip()
    user, _, server = raw.partition("@")
    if server in ("g.us", "lid"):
        ok = bool(user) and user.replace("-", "").isdigit()
        return Recipient(raw, "", f"{user}@{server}", ok)
    digits = "".join(ch for ch in user.split(":", 1)[0] if ch.isdigit())
    ok = 10 <= len(digits) <= 15 and not _national(digits).startswith("0000")
    return Recipient(raw, digits, f"{digits}@s.whatsapp.net" if digits else "", ok)


def check(number: str) -> dict[str, object]:
    """One entry of ``POST /chat/check``'s answer."""
    found = recipient(number)
    return {
        "query": number,
        "jid": found.jid if found.on_whatsapp else "",
        "lid": lid_for(found.digits) if found.on_whatsapp and found.digits else "",
        "isInWhatsapp": found.on_whatsapp,
        "verifiedName": "",
    }

"""What a lead's message says to the conversation loop: an NPS answer, or an opt-out.

Pure functions of the text, so the inbound function decides them without importing the loop.
"""

from __future__ import annotations

import unicodedata

from zapline.config import get_settings

__all__ = ["nps_score", "opt_out_keyword"]


def nps_score(text: str | None) -> int | None:
    """A survey answer: a poll vote or a message that is just a number from 0 to 10, in ASCII digits.

    Not ``str.isdigit``: "²", "①" or "५" pass it and then break ``int`` (or mean something else);
    such a message is plain text.
    """
    value = (text or "").strip().rstrip(".!")
    if not 1 <= len(value) <= 2 or any(ch not in "0123456789" for ch in value):
        return None
    score = int(value)
    return score if score <= 10 else None


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if ch.isalnum()).upper()


def opt_out_keyword(text: str | None) -> bool:
    """True when the whole message is one of ZAPLINE_OPT_OUT_KEYWORDS (case, accents, punctuation ignored)."""
    if not text or len(text) > 40:
        return False
    keywords = {_fold(k) for k in get_settings().opt_out_keywords.split(",") if k.strip()}
    folded = _fold(text)
    return bool(folded) and folded in keywords

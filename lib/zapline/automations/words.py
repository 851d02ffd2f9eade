"""Keyword lists as the automations and notifications match them: case and accents ignored, a keyword
matching at the start of a word ("parcel" finds "parcela", "valor" does not find "desvalorizar").

Pure functions of the text, so the inbound function checks a lead's message without a Redis command.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

__all__ = ["fold", "keyword_pattern"]


def fold(text: str) -> str:
    """Lower case without accents: "Reclamação" → "reclamacao"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def keyword_pattern(keywords: Iterable[str]) -> re.Pattern[str] | None:
    """One regex finding any keyword at the start of a word, over :func:`fold`-ed text (None: no keywords)."""
    words = sorted({fold(k).strip() for k in keywords if k.strip()}, key=len, reverse=True)
    if not words:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + ")")

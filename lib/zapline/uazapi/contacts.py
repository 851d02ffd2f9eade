"""UAZAPI's Chat objects (``POST /chat/find``) read as contacts for the contact sync.

The name follows the reference's order: ``wa_contactName`` (the phone's address book), then
``wa_name`` (the contact's own WhatsApp name), then ``name``. The picture is ``image`` (full size),
else ``imagePreview``. ``wa_label`` holds label ids — a JSON string in the spec, a list in real
traffic — turned into names with ``GET /labels`` (an entry that is no known id is kept as a name).
Groups, broadcasts, newsletters and junk are not contacts: :func:`parse_chat` answers None.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from zapline.uazapi.phones import e164

__all__ = ["Contact", "parse_chat"]

MAX_NAME = 100  # as LeadChanges allows
MAX_LABEL = 60
MAX_LABELS = 50
MAX_URL = 2048


class _Chat(BaseModel):
    model_config = ConfigDict(extra="ignore")

    wa_chatid: str = ""
    wa_chatlid: str = ""
    wa_isGroup: bool | str = False
    wa_contactName: str | None = ""
    wa_name: str | None = ""
    name: str | None = ""
    image: str | None = ""
    imagePreview: str | None = ""
    wa_label: Any = None


@dataclass(frozen=True)
class Contact:
    jid: str  # the chat's phone JID, or its LID when WhatsApp hides the phone
    phone: str | None  # E.164
    lid: str | None
    name: str | None
    picture: str | None
    label_ids: tuple[str, ...]

    def labels(self, names: dict[str, str]) -> list[str]:
        found = [(names.get(i) or i).strip()[:MAX_LABEL] for i in self.label_ids]
        return list(dict.fromkeys(label for label in found if label))[:MAX_LABELS]

    def digest(self, labels: list[str]) -> str:
        """What the sync would write for this contact: unchanged digest, nothing to write."""
        text = json.dumps([self.name, self.picture, labels], ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:24]


def _clean(value: str | None, limit: int) -> str | None:
    text = " ".join((value or "").split())
    return text[:limit] or None


def _label_ids(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else []
        except ValueError:
            raw = [part for part in raw.split(",") if part.strip()]
    if not isinstance(raw, list):
        return ()
    return tuple(str(v).strip() for v in raw if isinstance(v, str | int) and not isinstance(v, bool) and str(v).strip())


def parse_chat(raw: dict[str, Any]) -> Contact | None:
    """The contact in one Chat object, or None for a group, a broadcast or a chat without a usable id."""
    try:
        chat = _Chat.model_validate(raw)
    except ValidationError:
        return None
    if chat.wa_isGroup in (True, "true", "1") or chat.wa_chatid.endswith(("@g.us", "@broadcast", "@newsletter")):
        return None
    phone = e164(chat.wa_chatid) if chat.wa_chatid.endswith(("@s.whatsapp.net", "@c.us")) else None
    lids = [j for j in (chat.wa_chatlid, chat.wa_chatid) if j.endswith("@lid")]
    lid = lids[0] if lids else None
    if phone is None and lid is None:
        return None
    name = next((n for n in (_clean(v, MAX_NAME) for v in (chat.wa_contactName, chat.wa_name, chat.name)) if n), None)
    pictures = (p for p in (chat.image, chat.imagePreview) if p and len(p) <= MAX_URL)
    picture = next((p for p in pictures if p.startswith(("https://", "http://"))), None)
    jid = chat.wa_chatid if phone else (lid or "")
    return Contact(jid, phone, lid, name, picture, _label_ids(chat.wa_label))

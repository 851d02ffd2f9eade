"""Campaign templates: ``{{name}}``, ``{{first_name}}``, ``{{phone}}``, custom fields as
``{{fields.city}}`` or ``{{city}}``, each with an optional fallback: ``{{name|cliente}}``.

A small regular-expression renderer — never Jinja, ``str.format`` or ``eval`` — so a template can
only look values up by name in the recipient's own data: nothing is evaluated, no attribute is read,
and a value is inserted as text, never rendered again (a name written ``{{phone}}`` stays as it is).

- A placeholder is ``{{`` + a name (a letter, then letters, digits or ``_``, at most 40; optionally
  ``fields.`` in front) + optionally ``|`` and a fallback (any text without braces, ``|`` or a line
  break, at most 100 characters) + ``}}``; spaces inside the braces are ignored. Anything else inside
  ``{{ }}``, a lone ``{{`` or ``}}``, and ``{% %}`` are refused when the campaign is created, with a
  400 naming them (``__class__`` is no name: it starts with ``_``).
- ``name``, ``first_name`` (the name's first word) and ``phone`` are the recipient's; any other name is
  a custom field (the campaign list's ``fields`` over the lead's stored ones); ``fields.name`` is the
  custom field called ``name``.
- A missing or blank value is the placeholder's fallback, else the empty string — and then the space
  before it goes when a space, a line break or punctuation follows (``"Olá {{name}}, tudo bem?"`` → ``"Olá, tudo
  bem?"``); the text is trimmed at both ends.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Placeholder", "Template", "TemplateError", "context_for"]

_TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_NAME = re.compile(r"^(fields\.)?([A-Za-z][A-Za-z0-9_]{0,39})$")
_FALLBACK = re.compile(r"^[^{}|\r\n]{0,100}$")
_OWN = ("name", "first_name", "phone")
_AFTER_EMPTY = " \t\r\n,.;:!?)"


class TemplateError(ValueError):
    """The template holds syntax this renderer does not have; the message names it."""


@dataclass(frozen=True)
class Placeholder:
    name: str  # name, first_name, phone, or a custom field's key
    custom: bool  # a custom field (``fields.x``, or any name that is not the recipient's own)
    fallback: str | None


def _placeholder(inner: str) -> Placeholder:
    name, bar, fallback = inner.partition("|")
    match = _NAME.match(name.strip())
    if not match or (bar and not _FALLBACK.match(fallback)):
        raise TemplateError(f"unknown placeholder {{{{{inner[:60]}}}}}: use {{{{name}}}}, {{{{first_name}}}}, "
                            "{{fields.<key>}} or {{<key>}}, optionally with a fallback: {{name|cliente}}")  # fmt: skip
    key = match.group(2)
    return Placeholder(key, bool(match.group(1)) or key not in _OWN, fallback.strip() if bar else None)


@dataclass(frozen=True)
class Template:
    parts: tuple[str | Placeholder, ...]

    @classmethod
    def parse(cls, text: str) -> Template:
        """The template's literal text and placeholders; ``TemplateError`` names what it cannot read."""
        parts: list[str | Placeholder] = []
        position = 0
        for match in _TAG.finditer(text):
            parts.append(text[position : match.start()])
            parts.append(_placeholder(match.group(1)))
            position = match.end()
        parts.append(text[position:])
        for literal in parts:
            if isinstance(literal, str):
                for token in ("{{", "}}", "{%", "%}"):
                    if token in literal:
                        at = literal.index(token)
                        near = literal[max(0, at - 10) : at + 20]
                        raise TemplateError(f"unsupported syntax {token!r} near {near!r}: placeholders are "
                                            "{{name}}, {{first_name}}, {{<field>}}")  # fmt: skip
        return cls(tuple(p for p in parts if p != ""))

    @property
    def placeholders(self) -> list[Placeholder]:
        return [p for p in self.parts if isinstance(p, Placeholder)]

    def render(self, values: Mapping[str, str], fields: Mapping[str, str]) -> str:
        """The text for one recipient: ``values`` its own (name, first_name, phone), ``fields`` its custom fields."""
        out: list[str] = []
        parts = self.parts
        for position, part in enumerate(parts):
            if isinstance(part, str):
                out.append(part)
                continue
            value = (fields if part.custom else values).get(part.name, "")
            value = value.strip() if isinstance(value, str) else ""
            if not value and part.fallback:
                value = part.fallback
            if value:
                out.append(value)
                continue
            following = parts[position + 1] if position + 1 < len(parts) else ""
            if out and isinstance(following, str) and (not following or following[0] in _AFTER_EMPTY):
                out[-1] = out[-1].rstrip(" \t")  # "Olá {{name}}, …" → "Olá, …"
        return "".join(out).strip()


def context_for(name: str | None, phone: str) -> dict[str, str]:
    """The recipient's own values."""
    clean = " ".join((name or "").split())
    return {"name": clean, "first_name": clean.split(" ", 1)[0] if clean else "", "phone": phone}

"""Phone numbers as people type them: a national number means the organisation's own country.

An operator in São Paulo searching ``11999990001`` means ``+55 11 99999-0001``, not a North
American number. The country is the organisation's, taken from its timezone (a table of the zones
Zapline's customers use; an unknown zone keeps the number as written, as before).
"""

from __future__ import annotations

__all__ = ["dial_code", "international"]

# dial code → the lengths of a national significant number (without trunk prefix)
_NATIONAL_LENGTHS = {
    "55": (10, 11), "351": (9,), "1": (10,), "34": (9,), "54": (10,), "52": (10,), "44": (10,),
    "57": (10,), "56": (9,), "51": (9,), "33": (9,), "49": (10, 11), "39": (9, 10), "598": (8,), "595": (9,),
}  # fmt: skip
_BRAZIL = ("Sao_Paulo", "Bahia", "Fortaleza", "Recife", "Manaus", "Belem", "Cuiaba", "Campo_Grande", "Porto_Velho",
           "Boa_Vista", "Rio_Branco", "Maceio", "Araguaina", "Santarem", "Noronha", "Eirunepe")  # fmt: skip
_ZONES = {
    **{f"America/{city}": "55" for city in _BRAZIL},
    "Europe/Lisbon": "351", "Atlantic/Azores": "351", "Atlantic/Madeira": "351",
    "America/New_York": "1", "America/Chicago": "1", "America/Denver": "1", "America/Los_Angeles": "1",
    "America/Phoenix": "1", "America/Toronto": "1", "America/Vancouver": "1",
    "Europe/Madrid": "34", "America/Argentina/Buenos_Aires": "54", "America/Mexico_City": "52",
    "Europe/London": "44", "America/Bogota": "57", "America/Santiago": "56", "America/Lima": "51",
    "Europe/Paris": "33", "Europe/Berlin": "49", "Europe/Rome": "39", "America/Montevideo": "598",
    "America/Asuncion": "595",
}  # fmt: skip


def dial_code(timezone: str | None) -> str | None:
    """The country calling code of an organisation in ``timezone`` (None when not known)."""
    return _ZONES.get(timezone or "")


def international(number: str, country: str | None) -> str:
    """``number`` with the country's code in front when it is written as a national number.

    ``+…`` and ``00…`` are international already, as is anything a JID's ``@`` marks; a national
    number (the country's national length, trunk ``0`` dropped) gets ``+<country>``.
    """
    text = number.strip()
    if not country or "@" in text or text.startswith(("+", "00")):
        return text
    digits = "".join(ch for ch in text if "0" <= ch <= "9").lstrip("0")
    if len(digits) in _NATIONAL_LENGTHS.get(country, ()):
        return f"+{country}{digits}"
    return text

"""Valid linhas digitáveis built from their parts, for tests (and for scripting the OpenAI stand-in).

They use the same check-digit functions as the code under test; the published examples in
tests/ai/test_boleto.py, verified by hand, are what keeps those functions honest.
"""

from __future__ import annotations

from datetime import date

from zapline.ai.boleto import due_factor, mod10, mod11_bank, mod11_convenio, to_linha


def make_linha(
    *, bank: str = "237", amount_cents: int = 0, due: date | None = None, free: str = "0" * 25, currency: str = "9"
) -> str:
    """A bank boleto's linha (47 digits): ``due=None`` encodes factor 0000 (no due date)."""
    assert len(bank) == 3 and len(free) == 25 and 0 <= amount_cents < 10**10, (bank, free, amount_cents)
    factor = 0 if due is None else due_factor(due)
    body = f"{bank}{currency}{factor:04d}{amount_cents:010d}{free}"  # the barcode without its check digit
    return to_linha(body[:4] + str(mod11_bank(body)) + body[4:])


def make_convenio(
    *, segment: str = "3", identifier: str = "6", amount_cents: int = 0, company: str = "0138", free: str = "0" * 25
) -> str:
    """A convênio's linha (48 digits); identifiers 6 and 7 use module 10, 8 and 9 module 11."""
    assert len(company) == 4 and len(free) == 25 and 0 <= amount_cents < 10**11, (company, free, amount_cents)
    body = f"8{segment}{identifier}{amount_cents:011d}{company}{free}"
    modulus = mod10 if identifier in ("6", "7") else mod11_convenio
    return to_linha(body[:3] + str(modulus(body)) + body[3:])

"""Brazilian boleto "linha digitável" checks: FEBRABAN's arithmetic only, no I/O.

A model reading a boleto returns the linha digitável it saw; one misread digit must be flagged,
never trusted. :func:`check_linha` verifies every check digit and decodes what the code says;
:func:`compare` holds the amount and due date the model read on the document against it.

Bank boletos ("cobrança", 47 digits: ``AAABC.CCCCX DDDDD.DDDDDY EEEEE.EEEEEZ K UUUUVVVVVVVVVV``):
AAA bank, B currency (9 = real), C/D/E the 25-digit free field, X/Y/Z the mod-10 check digits of
fields 1-3, K the barcode's mod-11 check digit, UUUU the due-date factor, V the amount in cents.
The barcode is ``AAA B K UUUU V…V`` followed by the free field.

Convênios ("arrecadação": utilities, taxes; 48 digits): four blocks of 11 barcode digits, each
followed by its check digit. Barcode digit 1 is 8, digit 2 the segment, digit 3 the value
identifier (6, 7: module 10; 8, 9: module 11; 6 and 8 carry the amount in cents in digits 5-15),
digit 4 the general check digit.

What the digits cannot catch: module 11 maps several remainders to one check digit (bank: 0, 1
and 10 all give 1; convênio: 0 and 1 give 0). So when K is 1, some single-digit changes in a bank
linha's factor and amount field pass every check (fields 1-3 use module 10, which catches any one
changed digit); likewise in a convênio module-11 block whose check digit and the general one are
both 0. That is why the printed amount and due date the model read go through :func:`compare`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Literal

__all__ = [
    "FACTOR_BASE",
    "BoletoCheck",
    "check_linha",
    "compare",
    "due_factor",
    "factor_date",
    "format_linha",
    "mod10",
    "mod11_bank",
    "mod11_convenio",
    "to_barcode",
    "to_linha",
]

Kind = Literal["bank", "convenio"]

FACTOR_BASE = date(1997, 10, 7)  # factor N is this date + N days, in the first cycle
FACTOR_CYCLE = 9000  # factors run 1000-9999: 9999 was 2025-02-21, 1000 again 2025-02-22
DIGITS = frozenset("0123456789")
SEPARATORS = frozenset(" \t\r\n\u00a0.-")  # as printed, or as a model or a PDF breaks the line
MAX_INPUT = 200  # characters; a printed linha has 54 (bank) or 55 (convênio)
SEGMENTS = frozenset("12345679")  # prefeituras … multas de trânsito, 9 uso exclusivo do banco


@dataclass(frozen=True, slots=True)
class BoletoCheck:
    """What a linha digitável encodes and whether every check passed.

    The decoded fields say what the digits say, right or wrong: trust them only when ``valid``.
    """

    valid: bool
    kind: Kind | None  # None: not a linha at all (other characters, wrong length)
    digits: str  # the linha without separators ("" when it had other characters)
    barcode: str | None  # the 44 barcode digits the linha stands for
    amount_cents: int | None  # 0: none set, the payer types it; None: not in cents (convênio 7, 9)
    due_date: date | None  # None: no due date (bank factor 0000; convênios encode none)
    bank_code: str | None  # bank boletos: the 3-digit bank code
    segment: str | None  # convênios: 1 prefeituras, 2 saneamento, 3 energia e gás, …
    problems: tuple[str, ...] = ()  # what failed, e.g. "field 2 check digit is 3, expected 7"


def mod10(digits: str) -> int:
    """FEBRABAN module 10: weights 2, 1, 2, … from the right, the digits of each product summed."""
    total = 0
    for i, char in enumerate(reversed(digits)):
        product = int(char) * (2 - i % 2)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10


def _remainder11(digits: str) -> int:
    return sum(int(char) * (2 + i % 8) for i, char in enumerate(reversed(digits))) % 11


def mod11_bank(digits: str) -> int:
    """The bank barcode's check digit over its other 43 digits: 11 - remainder (weights 2-9 from
    the right), and 1 where that gives 0, 10 or 11."""
    digit = 11 - _remainder11(digits)
    return 1 if digit in (0, 10, 11) else digit


def mod11_convenio(digits: str) -> int:
    """Convênio module 11: 11 - remainder (weights 2-9 from the right), 0 for remainders 0 and 1."""
    remainder = _remainder11(digits)
    return 0 if remainder < 2 else 11 - remainder


CONVENIO_MODULUS: dict[str, Callable[[str], int]] = {"6": mod10, "7": mod10, "8": mod11_convenio, "9": mod11_convenio}


def due_factor(due: date) -> int:
    """The 4-digit factor a bank boleto due on ``due`` carries (1000-9999, cycling every 9000 days)."""
    days = (due - FACTOR_BASE).days
    if days < 1000:
        raise ValueError(f"{due.isoformat()} is before 2000-07-03, the first date factor 1000 stood for")
    return 1000 + (days - 1000) % FACTOR_CYCLE


def factor_date(factor: int, *, today: date) -> date | None:
    """The due date a factor stands for, in the cycle nearest ``today``; None for factor 0000."""
    if not 0 <= factor <= 9999:
        raise ValueError(f"a due-date factor has 4 digits, not {factor}")
    if factor == 0:
        return None
    first = FACTOR_BASE + timedelta(days=factor)
    if factor < 1000:  # only the first cycle had them (1997-2000)
        return first
    cycles = max(0, round((today - first).days / FACTOR_CYCLE))
    return first + timedelta(days=cycles * FACTOR_CYCLE)


def check_linha(text: str, *, today: date | None = None) -> BoletoCheck:
    """Verify a linha digitável (bank: 47 digits, convênio: 48) given with or without spaces, dots
    and hyphens. ``today`` picks the due-date factor's cycle (the nearest one; default: today)."""
    digits, problem = _digits(text)
    if problem is None:
        if len(digits) == 47:
            return _check_bank(digits, today or date.today())
        if len(digits) == 48 and digits[0] == "8":
            return _check_convenio(digits)
        if len(digits) == 48:
            problem = f"a 48-digit linha is a convênio's and starts with 8, not {digits[0]}"
        elif len(digits) == 44:
            problem = "44 digits is a barcode number, not a linha digitável (47 or 48 digits)"
        else:
            problem = f"a linha digitável has 47 digits (bank boleto) or 48 (convênio), not {len(digits)}"
    return BoletoCheck(False, None, digits, None, None, None, None, None, (problem,))


def compare(check: BoletoCheck, *, amount_cents: int | None = None, due_date: date | None = None) -> BoletoCheck:
    """``check`` with the amount and due date read elsewhere on the document held against what the
    code encodes: a disagreement is a problem and the check is no longer valid (the code or the
    reading is wrong). A reading of None, and what the code does not encode, are not compared."""
    found: list[str] = []
    if amount_cents is not None and check.amount_cents is not None and amount_cents != check.amount_cents:
        found.append(f"amount read as {_brl(amount_cents)} but the code encodes {_brl(check.amount_cents)}")
    if due_date is not None and check.kind == "bank" and due_date != check.due_date:
        encoded = check.due_date.isoformat() if check.due_date else "no due date"
        found.append(f"due date read as {due_date.isoformat()} but the code encodes {encoded}")
    if not found:
        return check
    return replace(check, valid=False, problems=(*check.problems, *found))


def to_barcode(text: str, *, today: date | None = None) -> str:
    """The 44-digit barcode of a valid linha digitável; ValueError naming the problems otherwise."""
    check = check_linha(text, today=today)
    if not check.valid or check.barcode is None:
        raise ValueError("; ".join(check.problems))
    return check.barcode


def to_linha(barcode: str) -> str:
    """The linha digitável (digits only) of a 44-digit barcode. The linha's own check digits are
    computed; the barcode's general check digit is copied as it is (``check_linha`` verifies it)."""
    if len(barcode) != 44 or not DIGITS.issuperset(barcode):
        raise ValueError("a boleto barcode has 44 digits")
    if barcode[0] == "8":
        modulus = CONVENIO_MODULUS.get(barcode[2])
        if modulus is None:
            raise ValueError(f"value identifier {barcode[2]} is not 6, 7, 8 or 9")
        blocks = [barcode[i : i + 11] for i in range(0, 44, 11)]
        return "".join(block + str(modulus(block)) for block in blocks)
    fields = [barcode[0:4] + barcode[19:24], barcode[24:34], barcode[34:44]]
    return "".join(field + str(mod10(field)) for field in fields) + barcode[4:19]


def format_linha(digits: str) -> str:
    """A linha digitável as printed: ``23793.38128 60007.827136 95000.063305 9 75520000370000`` or
    ``83640000001-1 33120138000-2 81288462711-6 08013618155-1``; other input comes back unchanged."""
    d = digits
    if len(d) == 47 and DIGITS.issuperset(d):
        return f"{d[0:5]}.{d[5:10]} {d[10:15]}.{d[15:21]} {d[21:26]}.{d[26:32]} {d[32]} {d[33:47]}"
    if len(d) == 48 and DIGITS.issuperset(d):
        return " ".join(f"{d[i : i + 11]}-{d[i + 11]}" for i in range(0, 48, 12))
    return digits


def _digits(text: str) -> tuple[str, str | None]:
    if len(text) > MAX_INPUT:
        return "", f"{len(text)} characters is too long for a linha digitável"
    digits: list[str] = []
    for position, char in enumerate(text, 1):
        if char in DIGITS:
            digits.append(char)
        elif char not in SEPARATORS:
            return "", f"unexpected character {char!r} at position {position}"
    if not digits:
        return "", "no digits"
    return "".join(digits), None


def _digit_problem(where: str, found: str, expected: int) -> list[str]:
    return [] if int(found) == expected else [f"{where} check digit is {found}, expected {expected}"]


def _check_bank(d: str, today: date) -> BoletoCheck:
    problems: list[str] = []
    for number, (start, end) in enumerate(((0, 9), (10, 20), (21, 31)), 1):
        problems += _digit_problem(f"field {number}", d[end], mod10(d[start:end]))
    barcode = d[0:4] + d[32:47] + d[4:9] + d[10:20] + d[21:31]
    problems += _digit_problem("general", barcode[4], mod11_bank(barcode[:4] + barcode[5:]))
    if d[0] == "8":
        problems.append(f"bank code {d[0:3]} starts with 8, which marks a convênio's barcode")
    if d[3] != "9":
        problems.append(f"currency code is {d[3]}, expected 9 (real)")
    factor = int(d[33:37])
    if 0 < factor < 1000:
        problems.append(f"due-date factor {d[33:37]} is out of use (factors run 1000-9999)")
    due = factor_date(factor, today=today)
    return BoletoCheck(not problems, "bank", d, barcode, int(d[37:47]), due, d[0:3], None, tuple(problems))


def _check_convenio(d: str) -> BoletoCheck:
    barcode = "".join(d[i : i + 11] for i in range(0, 48, 12))
    segment, identifier = d[1], d[2]
    problems: list[str] = []
    if segment not in SEGMENTS:
        problems.append(f"segment {segment} is not a FEBRABAN segment (1-7 or 9)")
    modulus = CONVENIO_MODULUS.get(identifier)
    if modulus is None:
        problems.append(f"value identifier is {identifier}, expected 6 or 7 (module 10) or 8 or 9 (module 11)")
    else:
        for number, start in enumerate(range(0, 48, 12), 1):
            problems += _digit_problem(f"block {number}", d[start + 11], modulus(d[start : start + 11]))
        problems += _digit_problem("general", barcode[3], modulus(barcode[:3] + barcode[4:]))
    amount = int(barcode[4:15]) if identifier in ("6", "8") else None
    return BoletoCheck(not problems, "convenio", d, barcode, amount, None, None, segment, tuple(problems))


def _brl(cents: int) -> str:
    return "R$ " + f"{cents // 100:,}".replace(",", ".") + f",{cents % 100:02d}"

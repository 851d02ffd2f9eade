"""zapline.ai.boleto: FEBRABAN's check digits, the due-date factor's two cycles, and the amount and
due date a model read held against the code. Published linhas verified by hand keep the
arithmetic honest; the linhas built by tests/ai/boletos.py use the functions under test."""

from __future__ import annotations

from datetime import date, timedelta
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.ai.boletos import make_convenio, make_linha
from zapline.ai.boleto import (
    BoletoCheck,
    check_linha,
    compare,
    due_factor,
    factor_date,
    format_linha,
    mod11_bank,
    to_barcode,
    to_linha,
)

TODAY = date(2026, 11, 30)

# Published in the README of tagliatti/boleto-validator (Packagist). Checked by hand:
#   field 1 body 422971150, weights 2,1,… from the right: 4x2=8 2x1=2 2x2=4 9x1=9 7x2=14→1+4=5
#     1x1=1 1x2=2 5x1=5 0x2=0; sum 36 → 10-6 = 4 ✓ (printed 4)
#   field 2 body 0000195441: 0 0 0 0 1x1=1 9x2=18→9 5x1=5 4x2=8 4x1=4 1x2=2; sum 29 → 10-9 = 1 ✓
#   field 3 body 6002003452: 6x1=6 0 0 2x2=4 0 0 3x1=3 4x2=8 5x1=5 2x2=4; sum 30 → (10-0)%10 = 0 ✓
#   barcode 4229 [2] 6861 0000054659 71150 0000195441 6002003452; the 43 digits without K, in
#   chunks of 8 from the right, each weighted 9,8,…,2 left to right (the first three 4,3,2):
#     422→26  96861000→226  00546597→150  11500000→52  19544160→182  02003452→66
#     e.g. 02003452: 0x9+2x8+0x7+0x6+3x5+4x4+5x3+2x2 = 16+15+16+15+4 = 66
#     sum 702 = 63x11 + 9 → 11-9 = 2 ✓ (K printed 2)
#   factor 6861: 1997-10-07 + 19 years (5 leap days) = 2016-10-07 is day 6940; minus 79 days
#     (Jul 20 → Aug 20 → Sep 20 → Oct 7 = 31+31+17) → 2016-07-20. Amount 0000054659 = R$ 546,59.
PUBLISHED_BANK = "42297.11504 00001.954411 60020.034520 2 68610000054659"

# Published in the same README (convênio, value identifier 8 → module 11). Checked by hand, weights
# 2-9 from the right (…,4,3,2 for an 11-digit block), check digit 11 - remainder, 0 for 0 and 1:
#   block 1 85890000460: 8x4+5x3+8x2+9x9+0x8+0x7+0x6+0x5+4x4+6x3+0x2 = 32+15+16+81+16+18 = 178
#     = 16x11 + 2 → 9 ✓      block 2 52460179160: 20+6+8+54+0+7+42+45+4+18+0 = 204 = 18x11 + 6 → 5 ✓
#   block 3 60759305086: 24+0+14+45+72+21+0+25+0+24+12 = 237 = 21x11 + 6 → 5 ✓
#   block 4 83148300001: 32+9+2+36+64+21+0+0+0+0+2 = 166 = 15x11 + 1 → remainder 1 gives 0 ✓
#   general: barcode 858[9]0000460524601791606075930508683148300001 without digit 4, chunks of 8
#     weighted 9..2 (the first three 4,3,2): 858→63 00004605→54 24601791→154 60607593→184
#     05086831→161 48300001→123; sum 739 = 67x11 + 2 → 9 ✓ (digit 4 is 9)
#   segment 5 (órgãos governamentais), amount digits 5-15: 00004605246 = R$ 46.052,46.
PUBLISHED_CONVENIO_MOD11 = "85890000460-9 52460179160-5 60759305086-5 83148300001-0"


def test_published_bank_linha_verified_by_hand() -> None:
    assert check_linha(PUBLISHED_BANK, today=date(2016, 7, 1)) == BoletoCheck(
        valid=True,
        kind="bank",
        digits="42297115040000195441160020034520268610000054659",
        barcode="42292686100000546597115000001954416002003452",
        amount_cents=54659,
        due_date=date(2016, 7, 20),
        bank_code="422",
        segment=None,
    )


def test_published_convenio_module_11_verified_by_hand() -> None:
    assert check_linha(PUBLISHED_CONVENIO_MOD11) == BoletoCheck(
        valid=True,
        kind="convenio",
        digits="858900004609524601791605607593050865831483000010",
        barcode="85890000460524601791606075930508683148300001",
        amount_cents=4605246,
        due_date=None,
        bank_code=None,
        segment="5",
    )


@pytest.mark.parametrize(
    ("linha", "kind", "amount_cents"),
    [
        ("23793.38128 60007.827136 95000.063305 9 75520000370000", "bank", 370000),  # Bradesco, often quoted
        ("83640000001-1 33120138000-2 81288462711-6 08013618155-1", "convenio", 13312),  # tagliatti: module 10
        ("846700000017435900240209024050002435842210108119", "convenio", 14359),  # in validators' tests
        ("848900000002404201622015806051904292586034111220", "convenio", 4042),  # module 11
    ],
)
def test_other_published_linhas_check(linha: str, kind: str, amount_cents: int) -> None:
    check = check_linha(linha, today=TODAY)
    assert (check.valid, check.kind, check.amount_cents, check.problems) == (True, kind, amount_cents, ())


@pytest.mark.parametrize(
    "barcode",
    ["00193373700000001000500940144816060680935031", "83620000000667800481001809756573100158963608"],
)
def test_published_barcodes_round_trip(barcode: str) -> None:
    linha = to_linha(barcode)
    assert check_linha(linha, today=TODAY).valid
    assert to_barcode(format_linha(linha), today=TODAY) == barcode


def test_a_published_misprint_is_flagged() -> None:
    # The "invalid module 10" case several validators' tests quote: the valid linha of the barcode
    # above with block 2's 10th digit 0 turned into 8.
    check = check_linha("836200000005667800481800180975657313001589636081")
    assert not check.valid
    assert check.problems == ("block 2 check digit is 0, expected 2", "general check digit is 2, expected 4")


class Bank(NamedTuple):
    bank: str
    amount_cents: int
    due: date | None
    free: str  # the 25-digit campo livre, laid out as each bank does

    def linha(self) -> str:
        return make_linha(bank=self.bank, amount_cents=self.amount_cents, due=self.due, free=self.free)


# Free fields as each bank lays them out:
BRADESCO = Bank("237", 125000, date(2026, 12, 10), "3381090001234567800123450")  # ag 3381 cart 09 nn conta 0
ITAU = Bank("341", 8990, date(2027, 1, 5), "1090001234580001123451000")  # cart 109 nn DAC ag conta DAC 000
BB = Bank("001", 45000, date(2026, 12, 1), "0000002345678000001234517")  # 000000 convênio(7) nn(10) cart 17
CAIXA = Bank("104", 23, None, "1234567000200040000000129")  # SIGCB: beneficiário+DV, nn parts, DV; no due date


@pytest.mark.parametrize("boleto", [BRADESCO, ITAU, BB, CAIXA], ids=["bradesco", "itau", "bb", "caixa"])
def test_bank_linhas_decode(boleto: Bank) -> None:
    linha = boleto.linha()
    check = check_linha(format_linha(linha), today=TODAY)
    assert check.valid and check.problems == ()
    assert (check.kind, check.bank_code, check.amount_cents, check.due_date) == (
        "bank", boleto.bank, boleto.amount_cents, boleto.due,
    )  # fmt: skip
    assert check.barcode is not None and check.barcode[19:] == boleto.free
    assert to_linha(check.barcode) == linha


@pytest.mark.parametrize(
    ("segment", "identifier", "amount_cents", "company", "expected_amount"),
    [
        ("3", "6", 18744, "0138", 18744),  # energia, module 10, valor efetivo
        ("2", "8", 9312, "0027", 9312),  # saneamento, module 11, valor efetivo
        ("1", "8", 130050, "0427", 130050),  # prefeitura (IPTU), module 11
        ("5", "8", 7660, "0328", 7660),  # órgão governamental (DAS), module 11
        ("7", "7", 29347, "0054", None),  # multa de trânsito, module 10, valor de referência
        ("4", "9", 5000, "0114", None),  # telecom, module 11, valor de referência
    ],
)
def test_convenio_linhas_decode(
    segment: str, identifier: str, amount_cents: int, company: str, expected_amount: int | None
) -> None:
    linha = make_convenio(segment=segment, identifier=identifier, amount_cents=amount_cents, company=company)
    check = check_linha(format_linha(linha))
    assert check.valid and check.problems == ()
    assert (check.kind, check.segment, check.amount_cents, check.due_date, check.bank_code) == (
        "convenio", segment, expected_amount, None, None,
    )  # fmt: skip
    assert check.barcode is not None and to_barcode(linha) == check.barcode
    assert to_linha(check.barcode) == linha


def _change(linha: str, position: int) -> str:
    return linha[:position] + str((int(linha[position]) + 3) % 10) + linha[position + 1 :]


@pytest.mark.parametrize(
    ("position", "failing"),
    [
        (0, ("field 1", "general")),  # the bank code: in field 1 and in the barcode
        (6, ("field 1", "general")),  # the free field's first part
        (9, ("field 1",)),  # field 1's own check digit (not part of the barcode)
        (14, ("field 2", "general")),
        (20, ("field 2",)),
        (27, ("field 3", "general")),
        (31, ("field 3",)),
        (32, ("general",)),  # K itself
        (36, ("general",)),  # the due-date factor
        (44, ("general",)),  # the amount
    ],
)
def test_one_wrong_digit_in_each_place_is_flagged(position: int, failing: tuple[str, ...]) -> None:
    linha = BRADESCO.linha()
    assert linha[32] != "1"  # K = 1 has a blind spot in the factor and amount (tested further down)
    check = check_linha(_change(linha, position), today=TODAY)
    assert not check.valid
    assert [p.split(" check digit is ")[0] for p in check.problems] == list(failing), check.problems


def test_the_problem_names_the_digit_found_and_the_one_expected() -> None:
    linha = BRADESCO.linha()
    check = check_linha(linha[:20] + str((int(linha[20]) + 1) % 10) + linha[21:], today=TODAY)
    assert check.problems == (f"field 2 check digit is {(int(linha[20]) + 1) % 10}, expected {linha[20]}",)


@pytest.mark.parametrize(
    ("position", "where"),
    [(3, "block 1"), (5, "block 1"), (11, "block 1"), (17, "block 2"), (30, "block 3"), (47, "block 4")],
)
@pytest.mark.parametrize("linha", [PUBLISHED_CONVENIO_MOD11, make_convenio(amount_cents=18744)], ids=["mod11", "mod10"])
def test_one_wrong_convenio_digit_is_flagged(linha: str, position: int, where: str) -> None:
    digits = linha.replace(" ", "").replace("-", "")
    check = check_linha(_change(digits, position))
    assert not check.valid
    assert any(p.startswith(f"{where} check digit is ") for p in check.problems), check.problems
    if position == 3:  # the general check digit sits in block 1
        assert any(p.startswith("general check digit is ") for p in check.problems), check.problems


def test_convenio_segment_and_value_identifier_are_checked() -> None:
    linha = make_convenio(amount_cents=100)
    assert "value identifier is 5, expected 6 or 7 (module 10) or 8 or 9 (module 11)" in (
        check_linha(linha[:2] + "5" + linha[3:]).problems
    )
    assert "segment 8 is not a FEBRABAN segment (1-7 or 9)" in check_linha(linha[:1] + "8" + linha[2:]).problems


def _with_factor(linha: str, factor: str) -> str:
    """The same boleto with another factor and K recomputed, so that only the factor is odd."""
    barcode = to_barcode(linha, today=TODAY)
    body = barcode[:4] + factor + barcode[9:]
    return to_linha(body[:4] + str(mod11_bank(body)) + body[4:])


def test_currency_and_factors_out_of_use_are_flagged() -> None:
    dollars = check_linha(make_linha(currency="0", amount_cents=100, due=date(2026, 12, 1)), today=TODAY)
    assert not dollars.valid and dollars.problems == ("currency code is 0, expected 9 (real)",)
    eight = check_linha("8" + make_linha(bank="200", amount_cents=100, due=date(2026, 12, 1))[1:], today=TODAY)
    assert "bank code 800 starts with 8, which marks a convênio's barcode" in eight.problems
    old = check_linha(_with_factor(make_linha(amount_cents=100), "0500"), today=TODAY)
    assert not old.valid and old.problems == ("due-date factor 0500 is out of use (factors run 1000-9999)",)


@pytest.mark.parametrize(
    ("due", "factor"),
    [
        (date(2000, 7, 3), 1000),  # the first day factor 1000 stood for
        (date(2016, 7, 20), 6861),
        (date(2025, 2, 21), 9999),  # the last day of the first cycle
        (date(2025, 2, 22), 1000),  # FEBRABAN's rollover: 1000 again
        (date(2025, 2, 23), 1001),
        (date(2026, 11, 30), 1646),  # 1000 + 365 (to 2026-02-22) + 281
    ],
)
def test_due_factor_in_both_cycles(due: date, factor: int) -> None:
    assert due_factor(due) == factor
    assert factor_date(factor, today=due - timedelta(days=40)) == due
    assert factor_date(factor, today=due + timedelta(days=400)) == due


def test_a_factor_decodes_to_the_cycle_nearest_today() -> None:
    assert factor_date(1000, today=date(2025, 2, 20)) == date(2025, 2, 22)
    assert factor_date(9999, today=date(2025, 2, 23)) == date(2025, 2, 21)
    assert factor_date(1000, today=date(2001, 1, 1)) == date(2000, 7, 3)
    assert factor_date(6861, today=TODAY) == date(2016, 7, 20)  # 10 years back beats 14 ahead
    assert factor_date(6861, today=date(2035, 1, 1)) == date(2041, 3, 11)  # 2016-07-20 + 9000 days
    assert factor_date(0, today=TODAY) is None
    with pytest.raises(ValueError, match="before 2000-07-03"):
        due_factor(date(2000, 7, 2))


def test_linhas_on_both_sides_of_the_rollover() -> None:
    for due, factor in [(date(2025, 2, 21), "9999"), (date(2025, 2, 22), "1000"), (date(2025, 3, 10), "1016")]:
        check = check_linha(make_linha(amount_cents=1000, due=due), today=date(2025, 2, 20))
        assert (check.valid, check.due_date, check.digits[33:37]) == (True, due, factor)


def test_factor_0000_is_no_due_date() -> None:
    check = check_linha(CAIXA.linha(), today=TODAY)
    assert check.valid and check.digits[33:37] == "0000" and check.due_date is None


@settings(deadline=None)
@given(due=st.dates(date(2000, 7, 3), date(2080, 12, 31)), offset=st.integers(-4400, 4400))
def test_factor_round_trips_when_today_is_within_twelve_years(due: date, offset: int) -> None:
    assert factor_date(due_factor(due), today=due + timedelta(days=offset)) == due


def test_a_reading_that_agrees_keeps_the_check_valid() -> None:
    check = check_linha(BRADESCO.linha(), today=TODAY)
    assert compare(check, amount_cents=125000, due_date=date(2026, 12, 10)) is check
    assert compare(check) is check


def test_an_amount_or_due_date_read_differently_is_flagged() -> None:
    check = check_linha(BRADESCO.linha(), today=TODAY)
    amount = compare(check, amount_cents=125050)
    assert not amount.valid
    assert amount.problems == ("amount read as R$ 1.250,50 but the code encodes R$ 1.250,00",)
    due = compare(check, due_date=date(2026, 12, 11))
    assert not due.valid
    assert due.problems == ("due date read as 2026-12-11 but the code encodes 2026-12-10",)
    both = compare(check, amount_cents=0, due_date=date(2027, 12, 10))
    assert len(both.problems) == 2 and not both.valid


def test_a_reading_where_the_bank_code_encodes_nothing_is_flagged() -> None:
    check = check_linha(make_linha(bank="104", free=CAIXA.free), today=TODAY)
    assert check.valid and check.amount_cents == 0 and check.due_date is None
    flagged = compare(check, amount_cents=15000, due_date=date(2026, 12, 1))
    assert flagged.problems == (
        "amount read as R$ 150,00 but the code encodes R$ 0,00",
        "due date read as 2026-12-01 but the code encodes no due date",
    )


def test_what_a_convenio_does_not_encode_is_not_compared() -> None:
    reference = check_linha(make_convenio(segment="7", identifier="7", amount_cents=29347))
    assert compare(reference, amount_cents=12345, due_date=date(2026, 12, 1)) is reference
    effective = check_linha(make_convenio(amount_cents=18744))
    assert compare(effective, due_date=date(2026, 12, 1)) is effective
    assert compare(effective, amount_cents=18745).problems == (
        "amount read as R$ 187,45 but the code encodes R$ 187,44",
    )


def test_compare_keeps_the_code_s_own_problems() -> None:
    check = check_linha(_change(BRADESCO.linha(), 14), today=TODAY)
    flagged = compare(check, amount_cents=1)
    assert flagged.problems == (*check.problems, "amount read as R$ 0,01 but the code encodes R$ 1.250,00")
    assert not flagged.valid


def test_module_11_blind_spot_is_caught_by_the_printed_amount() -> None:
    # An Itaú boleto of R$ 11,00 whose K is 1: its barcode's remainder is 0, 1 or 10, all of which
    # give 1. Misreading the amount's "1100" as "1800" moves the remainder within that set, so every
    # check digit still holds; only the amount printed on the boleto disagrees.
    linha = make_linha(bank="341", amount_cents=1100, due=date(2026, 12, 10), free=ITAU.free)
    assert linha == "34191090080123458000711234510003116560000001100"
    misread = check_linha(linha[:44] + "8" + linha[45:], today=TODAY)
    assert misread.valid and misread.amount_cents == 1800
    flagged = compare(misread, amount_cents=1100, due_date=date(2026, 12, 10))
    assert not flagged.valid
    assert flagged.problems == ("amount read as R$ 11,00 but the code encodes R$ 18,00",)


@pytest.mark.parametrize(
    "text",
    [
        "23793.38128 60007.827136 95000.063305 9 75520000370000",
        "23793381286000782713695000063305975520000370000",
        "23793-38128-60007-827136-95000-063305-9-75520000370000",
        "23793.38128\n60007.827136\n95000.063305\t9 75520000370000\r\n",
        "  23793.38128\u00a060007.827136 95000.063305 9 75520000370000  ",
    ],
)
def test_spaces_dots_and_hyphens_are_accepted(text: str) -> None:
    check = check_linha(text, today=TODAY)
    assert check.valid and check.digits == "23793381286000782713695000063305975520000370000"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("23793.38128 6OOO7.827136 95000.063305 9 75520000370000", "unexpected character 'O' at position 14"),
        ("23793/38128 60007.827136 95000.063305 9 75520000370000", "unexpected character '/' at position 6"),
        ("\uff123793.38128 60007.827136 95000.063305 9 75520000370000", "unexpected character '２' at position 1"),
        ("\u0662" * 47, "unexpected character '٢' at position 1"),
        ("23793.38128 60007.827136 95000.063305 9 7552000037000",
         "a linha digitável has 47 digits (bank boleto) or 48 (convênio), not 46"),
        ("23799755200003700003381260007827139500006330",
         "44 digits is a barcode number, not a linha digitável (47 or 48 digits)"),
        ("2" * 48, "a 48-digit linha is a convênio's and starts with 8, not 2"),
        ("", "no digits"),
        (" .- ", "no digits"),
        ("1" * 201, "201 characters is too long for a linha digitável"),
    ],
)  # fmt: skip
def test_anything_else_is_rejected(text: str, problem: str) -> None:
    check = check_linha(text, today=TODAY)
    assert not check.valid and check.problems == (problem,)
    assert [check.kind, check.barcode, check.amount_cents, check.due_date] == [None, None, None, None]


def test_conversions_refuse_what_they_cannot_convert() -> None:
    with pytest.raises(ValueError, match="44 digits"):
        to_linha("1" * 43)
    with pytest.raises(ValueError, match="44 digits"):
        to_linha("8" * 43 + "x")
    with pytest.raises(ValueError, match="value identifier 5"):
        to_linha("835" + "0" * 41)
    with pytest.raises(ValueError, match="general check digit is 8, expected 9"):
        to_barcode("23793.38128 60007.827136 95000.063305 8 75520000370000")


def test_format_linha_prints_the_usual_groups() -> None:
    assert format_linha("23793381286000782713695000063305975520000370000") == (
        "23793.38128 60007.827136 95000.063305 9 75520000370000"
    )
    assert format_linha("836400000011331201380002812884627116080136181551") == (
        "83640000001-1 33120138000-2 81288462711-6 08013618155-1"
    )
    assert format_linha("12345") == "12345"


# -- any single changed digit is flagged, except where module 11 cannot see it -----------------

DIGIT_STRINGS = {n: st.text(alphabet="0123456789", min_size=n, max_size=n) for n in (4, 25)}
BANK_LINHAS = st.builds(
    make_linha,
    bank=st.from_regex(r"[0-79][0-9]{2}", fullmatch=True),  # 8 starts convênio barcodes
    amount_cents=st.integers(1, 10**10 - 1),
    due=st.dates(date(2000, 7, 3), date(2050, 12, 31)),
    free=DIGIT_STRINGS[25],
)
CONVENIO_LINHAS = st.builds(
    make_convenio,
    segment=st.sampled_from("12345679"),
    identifier=st.sampled_from("6789"),
    amount_cents=st.integers(0, 10**11 - 1),
    company=DIGIT_STRINGS[4],
    free=DIGIT_STRINGS[25],
)


def _module_11_blind_spot(digits: str, position: int, new: str) -> bool:
    """The single-digit changes FEBRABAN's check digits cannot see (zapline.ai.boleto's docstring)."""
    if len(digits) == 47:  # bank: K = 1 stands for three remainders; fields 1-3 (mod 10) see all
        return position >= 33 and digits[32] == "1"
    if position == 2 and new in "6789" and (digits[2] in "67") != (new in "67"):
        return True  # another modulus: every check digit is recomputed and could match by chance
    block_check = digits[position // 12 * 12 + 11]
    return digits[2] in "89" and block_check == "0" and digits[3] == "0" and position % 12 != 11


@settings(deadline=None, max_examples=150)
@given(linha=st.one_of(BANK_LINHAS, CONVENIO_LINHAS))
def test_any_single_digit_change_is_flagged(linha: str) -> None:
    """Every one of the 423 (bank) or 432 (convênio) single-digit changes of a valid linha fails a
    check, but for module 11's blind spot; a bank linha changed there still disagrees with what
    is printed on the boleto, which compare() flags."""
    original = check_linha(linha, today=TODAY)
    assert original.valid
    for position, old in enumerate(linha):
        for new in "0123456789".replace(old, ""):
            changed = check_linha(linha[:position] + new + linha[position + 1 :], today=TODAY)
            if changed.valid:
                assert _module_11_blind_spot(linha, position, new), (linha, position, new)
                if original.kind == "bank":  # then the amount or due date printed on it disagrees
                    reading = compare(changed, amount_cents=original.amount_cents, due_date=original.due_date)
                    assert not reading.valid, (linha, position, new)

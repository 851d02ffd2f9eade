"""zapline.ai.pdf on real files written by tests/pdfs.py (and by pypdf itself, for encryption):
text in page order, no text layer detected, the caps, and a clear error for what cannot be read."""

from __future__ import annotations

import io
import subprocess
import sys

import pypdf
import pytest

from tests.pdfs import bomb_pdf, image_only_pdf, text_pdf
from zapline.ai.pdf import PdfError, PdfText, extract_text
from zapline.errors import PermanentError

BOLETO = [
    "Boleto de cobrança (2ª via)",
    "Beneficiário: Padaria São João Ltda — CNPJ 12.345.678/0001-90",
    "Vencimento: 10/12/2026   Valor: R$ 1.250,00",
    r"23793.38128 60007.827136 95000.063305 9 75520000370000 \ fim",
]


def test_the_text_comes_back() -> None:
    assert extract_text(text_pdf(BOLETO)) == PdfText(
        pages=1, text="\n".join(BOLETO), has_text_layer=True, truncated=False, unreadable_pages=0
    )


def test_every_page_in_order_with_a_blank_line_between() -> None:
    lines = [f"página {n} linha {i}" for n in (1, 2, 3) for i in (1, 2)]
    result = extract_text(text_pdf(lines, per_page=2))
    assert result.pages == 3 and not result.truncated
    assert result.text == "página 1 linha 1\npágina 1 linha 2\n\npágina 2 linha 1\npágina 2 linha 2\n\n" + (
        "página 3 linha 1\npágina 3 linha 2"
    )


@pytest.mark.parametrize(
    "data", [image_only_pdf(), text_pdf([]), text_pdf(["   ", ""])], ids=["image", "blank", "spaces"]
)
def test_pages_without_text_have_no_text_layer(data: bytes) -> None:
    assert extract_text(data) == PdfText(pages=1, text="", has_text_layer=False, truncated=False)


def test_the_image_only_pdf_really_holds_an_image() -> None:
    page = pypdf.PdfReader(io.BytesIO(image_only_pdf())).pages[0]
    resources = page["/Resources"].get_object()
    assert isinstance(resources, pypdf.generic.DictionaryObject)
    xobjects = resources["/XObject"].get_object()
    assert isinstance(xobjects, pypdf.generic.DictionaryObject)
    image = xobjects["/Im1"].get_object()
    assert isinstance(image, pypdf.generic.DictionaryObject)
    assert [str(image[key]) for key in ("/Subtype", "/Width", "/Height")] == ["/Image", "2", "2"]
    contents = page.get_contents()
    assert contents is not None and b"/Im1 Do" in contents.get_data()


def test_max_chars_cuts_the_text() -> None:
    full = extract_text(text_pdf(BOLETO)).text
    cut = extract_text(text_pdf(BOLETO), max_chars=30)
    assert (cut.text, cut.truncated, cut.has_text_layer) == (full[:30], True, True)
    exact = extract_text(text_pdf(BOLETO), max_chars=len(full))
    assert (exact.text, exact.truncated) == (full, False)


def test_max_pages_reads_only_the_first_pages() -> None:
    lines = [f"página {n}" for n in range(1, 6)]
    result = extract_text(text_pdf(lines, per_page=1), max_pages=2)
    assert (result.pages, result.text, result.truncated) == (5, "página 1\n\npágina 2", True)


def test_no_page_is_begun_after_max_seconds() -> None:
    lines = [f"página {n}" for n in range(1, 6)]
    result = extract_text(text_pdf(lines, per_page=1), max_seconds=1e-9)
    assert (result.pages, result.text, result.truncated) == (5, "página 1", True)


def test_characters_stop_the_reading_of_further_pages() -> None:
    lines = ["x" * 60 for _ in range(5)]
    result = extract_text(text_pdf(lines, per_page=1), max_chars=100)
    assert (len(result.text), result.truncated) == (100, True)


@pytest.mark.parametrize(
    ("data", "reason", "message"),
    [
        (b"", "not_pdf", "not a PDF: no %PDF- header at its start"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "not_pdf", "not a PDF: no %PDF- header at its start"),
        (b"%PDF-1.4\n" + bytes(range(256)) * 20, "corrupt", "corrupt PDF: "),
        (text_pdf(BOLETO)[:200], "corrupt", "corrupt PDF: "),
        (text_pdf(BOLETO)[: len(text_pdf(BOLETO)) // 2], "corrupt", "corrupt PDF: "),
    ],
    ids=["empty", "png", "garbage", "cut-short", "half"],
)
def test_what_cannot_be_read_is_a_permanent_error_with_a_reason(data: bytes, reason: str, message: str) -> None:
    with pytest.raises(PdfError) as raised:
        extract_text(data)
    error = raised.value
    assert isinstance(error, PermanentError) and error.status_code == 489 and not error.retryable
    assert error.reason == reason and error.message.startswith(message), error.message
    assert error.to_json() == {
        "status": "error",
        "error_type": "pdf_unreadable",
        "error": error.message,
        "reason": reason,
    }


def _encrypted(user_password: str) -> bytes:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(text_pdf(["segredo bancário"]))))
    writer.encrypt(user_password=user_password, owner_password="dono", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_a_pdf_that_needs_a_password_is_refused() -> None:
    with pytest.raises(PdfError, match="the PDF is encrypted: it needs a password") as raised:
        extract_text(_encrypted("123.456.789-00"))
    assert raised.value.reason == "encrypted"


def test_a_pdf_with_only_an_owner_password_reads() -> None:
    assert extract_text(_encrypted("")).text == "segredo bancário"


def test_a_decompression_bomb_stops_at_the_stream_limit() -> None:
    bomb = bomb_pdf(50_000_000)
    assert len(bomb) < 100_000
    with pytest.raises(PdfError, match=r"no page could be read \(LimitReachedError") as raised:
        extract_text(bomb)
    assert raised.value.reason == "corrupt"


def test_an_unreadable_page_is_counted_and_the_others_read() -> None:
    result = extract_text(bomb_pdf(50_000_000, then=["a página boa"]))
    assert (result.pages, result.text, result.unreadable_pages, result.has_text_layer) == (2, "a página boa", 1, True)


@pytest.mark.parametrize("limits", [{"max_pages": 0}, {"max_chars": 0}, {"max_seconds": 0}])
def test_limits_must_be_positive(limits: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        extract_text(text_pdf(BOLETO), **limits)


def test_importing_the_module_does_not_import_pypdf() -> None:
    code = "import sys, zapline.ai.pdf; print('pypdf' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "False"

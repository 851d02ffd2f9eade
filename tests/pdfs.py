"""A tiny PDF writer for tests: real files, written by hand after the PDF 1.4 reference, with no
dependency. Text pages use the standard Helvetica font in WinAnsi encoding (cp1252: Portuguese
accents included), so any PDF reader finds a text layer; the image page has none."""

from __future__ import annotations

import zlib

__all__ = ["bomb_pdf", "image_only_pdf", "text_pdf"]

A4 = b"[0 0 595 842]"
FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"


def text_pdf(lines: list[str], *, per_page: int = 40) -> bytes:
    """A PDF with ``lines`` set in Helvetica 11, ``per_page`` lines a page (one blank page for none)."""
    pages = [lines[i : i + per_page] for i in range(0, len(lines), per_page)] or [[]]
    return _document([(_text_content(page), b"<< /Font << /F1 3 0 R >> >>") for page in pages])


def image_only_pdf() -> bytes:
    """One page showing a 2x2 RGB image XObject, and no text at all."""
    pixels = bytes([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255])
    image = b"<< /Type /XObject /Subtype /Image /Width 2 /Height 2 /ColorSpace /DeviceRGB /BitsPerComponent 8"
    content = b"q 300 0 0 300 150 400 cm /Im1 Do Q"
    # objects: 1-3 catalog, pages, font; 4 the page, 5 its contents; 6 the image
    return _document([(content, b"<< /XObject << /Im1 6 0 R >> >>")], extra=(_stream(pixels, image),))


def bomb_pdf(size: int, *, then: list[str] | None = None) -> bytes:
    """A page whose content stream inflates from a few KB to ``size`` bytes, and a page with the
    lines ``then`` after it if given (all streams compressed)."""
    pages = [(b"BT /F1 11 Tf 50 800 Td (bomb) Tj ET" + b" " * size, b"<< /Font << /F1 3 0 R >> >>")]
    if then is not None:
        pages.append((_text_content(then), b"<< /Font << /F1 3 0 R >> >>"))
    return _document(pages, compress=True)


def _text_content(lines: list[str]) -> bytes:
    shown = b" T* ".join(b"(" + _escape(line) + b") Tj" for line in lines)
    return b"BT /F1 11 Tf 14 TL 50 800 Td " + shown + b" ET"


def _escape(text: str) -> bytes:
    raw = text.encode("cp1252")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _stream(data: bytes, dictionary: bytes = b"<<", *, compress: bool = False) -> bytes:
    if compress:
        data = zlib.compress(data, 9)
        dictionary += b" /Filter /FlateDecode"
    return dictionary + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def _document(pages: list[tuple[bytes, bytes]], *, extra: tuple[bytes, ...] = (), compress: bool = False) -> bytes:
    """Objects 1 catalog, 2 page tree, 3 font, then each page and its contents, then ``extra``."""
    kids = b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(len(pages)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % len(pages),
        FONT,
    ]
    for i, (content, resources) in enumerate(pages):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox " + A4 + b" /Resources " + resources
            + b" /Contents %d 0 R >>" % (5 + 2 * i)
        )  # fmt: skip
        objects.append(_stream(content, compress=compress))
    objects += extra
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)

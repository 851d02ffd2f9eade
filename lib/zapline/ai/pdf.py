"""The text layer of a PDF a customer sent, read with pypdf (pure Python), with bounded work.

A customer's document is hostile input: the pages read and the characters kept are capped, pypdf's
own limits are tightened (a decompression bomb stops at a few MB per stream; the external
``jbig2dec`` is never run), and whatever pypdf raises on a malformed file becomes a :class:`PdfError`
saying why. A page pypdf cannot parse is counted and skipped; a document none of whose pages can
be read is an error. No text on any page read (a scan, a photo saved as PDF) is ``has_text_layer``
False, for the caller to say so or send the pages to vision.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import Any

from zapline.errors import PermanentError

__all__ = ["PdfError", "PdfText", "extract_text"]

HEADER_WINDOW = 1024  # readers accept "%PDF-" anywhere in the first 1 KB
PAGE_SEPARATOR = "\n\n"
# pypdf.Configuration overrides: its defaults allow 75 MB out of one stream, sized for documents a
# user opens on purpose. A text page's content stream is a few KB.
LIMITS: dict[str, Any] = {
    "zlib_maximum_output_length": 4_000_000,
    "lzw_maximum_output_length": 4_000_000,
    "run_length_maximum_output_length": 4_000_000,
    "array_based_stream_maximum_output_length": 4_000_000,
    "brotli_maximum_output_length": 4_000_000,
    "stream_decoding_work_maximum_length": 16_000_000,
    "jbig2dec_binary": None,
}


class PdfError(PermanentError):
    """A document that cannot be read: ``reason`` is ``not_pdf``, ``encrypted`` or ``corrupt``."""

    error_type = "pdf_unreadable"

    def __init__(self, message: str, *, reason: str, **context: Any) -> None:
        super().__init__(message, reason=reason, **context)
        self.reason = reason

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "reason": self.reason}


@dataclass(frozen=True, slots=True)
class PdfText:
    pages: int  # pages in the document, read or not
    text: str  # the pages read, a blank line between pages; at most max_chars characters
    has_text_layer: bool  # some page read had text (False: a scan or images only)
    truncated: bool  # pages (past max_pages or max_seconds) or characters (past max_chars) left out
    unreadable_pages: int = 0  # pages among those read that pypdf could not parse


def extract_text(data: bytes, *, max_pages: int = 20, max_chars: int = 20_000, max_seconds: float = 10.0) -> PdfText:
    """The text of the first ``max_pages`` pages, cut at ``max_chars`` characters. No page is begun
    after ``max_seconds`` (one page's work is bounded by the stream limits above: about a second).

    Raises :class:`PdfError` for bytes that are not a PDF, a PDF that needs a password (one with
    only an owner password reads fine) and a PDF too broken to read.
    """
    if max_pages < 1 or max_chars < 1 or max_seconds <= 0:
        raise ValueError("max_pages, max_chars and max_seconds must be positive")
    deadline = time.monotonic() + max_seconds
    if b"%PDF-" not in data[:HEADER_WINDOW]:
        raise PdfError("not a PDF: no %PDF- header at its start", reason="not_pdf")
    # pypdf costs ~150 ms to import (more with Pillow installed): only a job reading a PDF pays it.
    import pypdf
    from pypdf.errors import DependencyError

    with pypdf.apply_configuration(**LIMITS):
        try:
            reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted and reader.decrypt("") == pypdf.PasswordType.NOT_DECRYPTED:
                raise PdfError("the PDF is encrypted: it needs a password", reason="encrypted")
            pages = len(reader.pages)
        except PdfError:
            raise
        except DependencyError as exc:
            raise _aes_error() from exc
        # pypdf raises its own errors on a malformed file and, on a hostile one, anything at all
        # (KeyError, RecursionError, zlib.error, …): all of it means the same here.
        except Exception as exc:
            raise PdfError(f"corrupt PDF: {_describe(exc)}", reason="corrupt") from exc
        if pages == 0:
            raise PdfError("corrupt PDF: it has no pages", reason="corrupt")

        texts: list[str] = []
        size = 0
        unreadable = 0
        failure: Exception | None = None
        read = 0
        while read < min(pages, max_pages) and size < max_chars:
            if read and time.monotonic() > deadline:
                break
            read += 1
            try:
                text = reader.pages[read - 1].extract_text().strip()
            except DependencyError as exc:
                raise _aes_error() from exc
            except Exception as exc:  # one broken page: the others may still read
                unreadable += 1
                failure = exc
                continue
            if text:
                size += len(text) + (len(PAGE_SEPARATOR) if texts else 0)
                texts.append(text)
    if failure is not None and unreadable == read:
        raise PdfError(f"corrupt PDF: no page could be read ({_describe(failure)})", reason="corrupt")
    joined = PAGE_SEPARATOR.join(texts)
    truncated = read < pages or len(joined) > max_chars
    return PdfText(pages, joined[:max_chars], bool(texts), truncated, unreadable)


def _aes_error() -> PdfError:
    return PdfError("the PDF is encrypted with AES, which this deployment cannot decrypt", reason="encrypted")


def _describe(exc: Exception) -> str:
    """The exception's kind and the start of its message (pypdf's may quote a few bytes of the file)."""
    message = " ".join(str(exc).split())[:100]
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__

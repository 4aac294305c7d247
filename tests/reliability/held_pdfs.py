"""Hostile PDFs written byte by byte, for inputs that PyMuPDF refuses to save itself:
no pages, an image that claims 40 gigapixels, objects nested 10,000 deep."""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable
from pathlib import Path

from tests.reliability.bad_pdfs import encrypted_pdf

CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"
ONE_PAGE = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"
DEPTH = 10_000


def raw_pdf(objects: list[bytes]) -> bytes:
    """A PDF whose object i+1 is `objects[i]`, with a correct xref table; object 1 is the root."""
    out = b"%PDF-1.7\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def _save(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _stream(entries: bytes, data: bytes) -> bytes:
    return b"<< " + entries + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def _page(extra: bytes) -> bytes:
    return b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R " + extra + b" >>"


def zero_pages(path: Path) -> Path:
    return _save(path, raw_pdf([CATALOG, b"<< /Type /Pages /Kids [] /Count 0 >>"]))


def image_bomb(path: Path) -> Path:
    """One page drawing an image XObject that claims 200,000 x 200,000 RGB pixels (120 GB
    decoded) from a 1 kB stream: a decoder that trusted the header would exhaust memory."""
    image = _stream(
        b"/Type /XObject /Subtype /Image /Width 200000 /Height 200000 /ColorSpace /DeviceRGB"
        b" /BitsPerComponent 8 /Filter /FlateDecode",
        zlib.compress(b"\x00" * 1000),
    )
    content = _stream(b"", b"q 612 0 0 792 0 0 cm /Im0 Do Q")
    page = _page(b"/Resources << /XObject << /Im0 5 0 R >> >>")
    return _save(path, raw_pdf([CATALOG, ONE_PAGE, page, content, image]))


def deeply_nested(path: Path) -> Path:
    """An array nested DEPTH deep, in the page's content stream and as an object the page holds."""
    deep = b"[" * DEPTH + b"]" * DEPTH
    content = _stream(b"", b"BT /F1 12 Tf 72 72 Td (x) Tj ET " + deep)
    return _save(path, raw_pdf([CATALOG, ONE_PAGE, _page(b"/Deep 5 0 R"), content, deep]))


def empty(path: Path) -> Path:
    return _save(path, b"")


def garbage(path: Path) -> Path:
    """Random bytes under a .pdf name (seeded, so every run tries the same bytes)."""
    return _save(path, random.Random(7).randbytes(4096))


#: name -> (writer, a word the error must contain; None = the PDF renders safely instead)
HOSTILE: dict[str, tuple[Callable[[Path], Path], str | None]] = {
    "empty": (empty, "empty"),
    "garbage": (garbage, "Failed to open"),
    "encrypted": (encrypted_pdf, "no password was given"),
    "zero_pages": (zero_pages, "no pages"),
    "image_bomb": (image_bomb, None),
    "deeply_nested": (deeply_nested, "overflow"),
}

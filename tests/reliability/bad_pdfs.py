"""PDFs that break things: built by the tests themselves, so every case is reproducible."""

from __future__ import annotations

from pathlib import Path

import pymupdf

USER_PW = "s3cret-user"
OWNER_PW = "s3cret-owner"


def text_pdf(
    path: Path, pages: int = 2, text: str = "Reliability test page", size: tuple[float, float] = (612, 792)
) -> Path:
    """A born-digital PDF with a line of text and a filled box on every page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with pymupdf.open() as doc:
        for i in range(pages):
            page = doc.new_page(width=size[0], height=size[1])
            page.insert_text((72, 72), f"{text} {i + 1}", fontsize=14)
            page.draw_rect(pymupdf.Rect(72, 120, 300, 260), color=(0, 0, 0), fill=(0.2, 0.4, 0.8))
        doc.save(path)
    return path


def encrypted_pdf(path: Path, pages: int = 2) -> Path:
    """An AES-256 encrypted PDF that needs USER_PW to open."""
    plain = text_pdf(path.with_name(f".plain-{path.name}"), pages)
    with pymupdf.open(plain) as doc:
        doc.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw=USER_PW, owner_pw=OWNER_PW)
    plain.unlink()
    return path


def truncated_pdf(path: Path, pages: int = 6) -> Path:
    """A PDF cut short by a failed copy: MuPDF repairs it and keeps what it can."""
    full = text_pdf(path.with_name(f".full-{path.name}"), pages)
    data = full.read_bytes()
    full.unlink()
    path.write_bytes(data[: len(data) // 2])
    return path

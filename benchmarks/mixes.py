"""Input mixes for the end-to-end benchmark: folders of real or scan-like PDFs of N pages.

- **born-digital**: the shared corpus (real PDFs of many page sizes from other projects'
  test suites; the encrypted one is left out) plus the project's generated samples. Each
  folder holds one copy of every source; copies get a unique trailing comment after
  `%%EOF`, so every file has its own sha256 (its own document) while MuPDF reads the same
  pages.
- **scanned**: image-only pages of about 25 printed lines each (text rendered to a grey
  raster, then placed as the page's only content), so every line must be read by OCR.

Both are built from sources once; `build_mix` then copies them into folders until N pages.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import pymupdf

from pdf_assets.samples import write_samples

ENCRYPTED = {"health_protected.pdf"}
LETTER = (612.0, 792.0)
SCAN_DPI = 150
LINES_PER_PAGE = 25
WORDS = ("batch", "device", "layout", "region", "table", "figure", "stage", "page", "model", "memory",
         "quarter", "revenue", "growth", "report", "result", "sample", "value", "index", "total", "share",
         "invoice", "customer", "shipment", "balance", "account", "payment", "delivery", "contract")  # fmt: skip


@dataclass(frozen=True)
class Mix:
    name: str
    folders: dict[str, Path]  # partition key -> folder
    pages: int
    sources: tuple[str, ...]  # file names of the distinct source PDFs


def pdf_pages(path: Path) -> int:
    try:
        with pymupdf.open(path) as doc:
            return 0 if doc.needs_pass else doc.page_count
    except Exception:  # noqa: BLE001 - an unreadable source simply adds no pages
        return 0


def born_digital_sources(corpus: Path | None, work: Path) -> list[Path]:
    """Corpus PDFs (when the corpus is there) and the generated samples."""
    sources = [p for p in sorted(corpus.glob("*.pdf")) if p.name not in ENCRYPTED] if corpus else []
    return sources + write_samples(work / "samples")


def _scanned_page(doc: pymupdf.Document, rng: random.Random) -> None:
    """One image-only page: ~25 lines of 11-pt text rendered to grey pixels."""
    with pymupdf.open() as text_doc:
        page = text_doc.new_page(width=LETTER[0], height=LETTER[1])
        for line in range(LINES_PER_PAGE):
            words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 11)))
            page.insert_text((72, 84 + line * 26.5), words.capitalize() + ".", fontsize=11, fontname="helv")
        pix = page.get_pixmap(dpi=SCAN_DPI, colorspace=pymupdf.csGRAY)
    target = doc.new_page(width=LETTER[0], height=LETTER[1])
    target.insert_image(target.rect, stream=pix.tobytes("png"))


def scanned_sources(work: Path, documents: int = 4, pages_each: int = 10, seed: int = 7) -> list[Path]:
    rng = random.Random(seed)
    out = work / "scanned-sources"
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(documents):
        path = out / f"scan-{i:02d}.pdf"
        with pymupdf.open() as doc:
            for _ in range(pages_each):
                _scanned_page(doc, rng)
            doc.save(path, garbage=3, deflate=True)
        paths.append(path)
    return paths


def build_mix(name: str, sources: list[Path], pages: int, root: Path) -> Mix:
    """Copy the sources into folders `<name>-NNN` until at least `pages` pages."""
    counts = {p: pdf_pages(p) for p in sources}
    per_folder = sum(counts.values())
    if per_folder == 0:
        raise ValueError(f"the {name} mix has no readable pages")
    folders: dict[str, Path] = {}
    total = 0
    while total < pages:
        key = f"{name}-{len(folders):03d}"
        folder = root / key
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        for src in sources:
            (folder / src.name).write_bytes(src.read_bytes() + f"\n%copy {key}\n".encode())
        folders[key] = folder
        total += per_folder
    return Mix(name, folders, total, tuple(p.name for p in sources))

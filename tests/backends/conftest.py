"""Fixtures for backend tests: tiny checkpoints on disk and a rendered sample page with crops."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pymupdf
import pytest
from PIL import Image

from pdf_assets.core.types import Box, Crop, PageRef, Region, RegionKey, kind_of_label

PAGE_W, PAGE_H = 320.0, 300.0
PADDING_PT = 2.0
PARAGRAPH = ("Quarterly revenue grew", "in every region we", "serve this year")
TABLE_ROWS = (("Region", "Q1", "Q2"), ("North", "10", "12"), ("South", "7", "9"))
TABLE_BOX = Box(20, 150, 200, 210)
TEXT_BOX = Box(20, 40, 200, 90)
FIGURE_BOX = Box(220, 150, 300, 260)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from tests.backends.tiny_models import build_tiny_models

    return build_tiny_models(tmp_path_factory.mktemp("tiny_models"))


def _write_pdf(path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page(width=PAGE_W, height=PAGE_H)
    page.insert_text((20, 25), "Annual report", fontsize=14)
    for i, line in enumerate(PARAGRAPH):
        page.insert_text((TEXT_BOX.x0 + 2, TEXT_BOX.y0 + 14 + 16 * i), line, fontsize=11)
    cell_w, cell_h = TABLE_BOX.width / 3, TABLE_BOX.height / 3
    for r, row in enumerate(TABLE_ROWS):
        for c, text in enumerate(row):
            page.insert_text((TABLE_BOX.x0 + c * cell_w + 4, TABLE_BOX.y0 + r * cell_h + 14), text, fontsize=10)
        page.draw_line((TABLE_BOX.x0, TABLE_BOX.y0 + r * cell_h), (TABLE_BOX.x1, TABLE_BOX.y0 + r * cell_h))
    for i, height in enumerate((40, 70, 55)):
        x = FIGURE_BOX.x0 + 8 + i * 24
        page.draw_rect(pymupdf.Rect(x, FIGURE_BOX.y1 - 10 - height, x + 16, FIGURE_BOX.y1 - 10), fill=(0.2, 0.3, 0.8))
    doc.save(path)
    doc.close()


@dataclass(frozen=True)
class Sample:
    """One generated PDF page rendered at `scale` px/pt, and helpers to cut crops from it."""

    pdf: Path
    page: PageRef
    root: Path

    def crop(self, box: Box, label: str, index: int, text_layer: bool = True) -> Crop:
        """Cut `box` (plus the pipeline's padding) from the page image, as the pipeline does."""
        s = self.page.px_per_pt
        region = Region(RegionKey(self.page.doc_id, 0, index), "p1", label, kind_of_label(label), box, 1.0)
        padded = Box(box.x0 - PADDING_PT, box.y0 - PADDING_PT, box.x1 + PADDING_PT, box.y1 + PADDING_PT)
        px = padded.clipped(PAGE_W, PAGE_H).scaled(s)
        with Image.open(self.page.image_path) as image:
            piece = image.crop((int(px.x0), int(px.y0), int(px.x1), int(px.y1)))
        out = self.root / f"crop-{index}.png"
        piece.save(out)
        return Crop(
            region, str(self.pdf), str(out), s, piece.width, piece.height, text_layer,
            page_image=self.page.image_path, padded_box=padded.clipped(PAGE_W, PAGE_H),
        )  # fmt: skip


def render_sample(root: Path, scale: float = 1.0) -> Sample:
    pdf = root / "sample.pdf"
    _write_pdf(pdf)
    with pymupdf.open(pdf) as doc:
        pix = doc[0].get_pixmap(matrix=pymupdf.Matrix(scale, scale))
        image = root / "page.png"
        pix.save(image)
        chars = len(doc[0].get_text())
    page = PageRef("d" * 64, "p1", str(pdf), 0, PAGE_W, PAGE_H, str(image), scale, chars)
    return Sample(pdf, page, root)


@pytest.fixture
def sample(tmp_path: Path) -> Sample:
    return render_sample(tmp_path, scale=2.0)

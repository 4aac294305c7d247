"""Rendering: oversized pages are rendered smaller, with their true scale recorded."""

from __future__ import annotations

from pathlib import Path

import pymupdf
from PIL import Image

from pdf_assets.stages.render import RenderJob, render_document


def _pdf(path: Path, width_in: float, height_in: float) -> Path:
    with pymupdf.open() as doc:
        page = doc.new_page(width=width_in * 72, height=height_in * 72)
        page.insert_text((72, 72), "poster", fontsize=40)
        doc.save(path)
    return path


def test_a_poster_sized_page_is_capped_and_keeps_its_scale(tmp_path: Path) -> None:
    pdf = _pdf(tmp_path / "poster.pdf", 40, 30)  # 5760 x 4320 px = 24.9 MP at 144 dpi
    (page,) = render_document(RenderJob("p", str(pdf), str(tmp_path / "store"), 144, 4_000_000)).pages
    with Image.open(page.image_path) as image:
        assert image.width * image.height <= 4_000_000 * 1.01  # pixel counts round up
        assert abs(image.width - page.width_pt * page.px_per_pt) <= 1
    assert page.px_per_pt < 2.0


def test_ordinary_pages_keep_the_render_resolution(tmp_path: Path) -> None:
    pdf = _pdf(tmp_path / "letter.pdf", 8.5, 11)
    (page,) = render_document(RenderJob("p", str(pdf), str(tmp_path / "store"), 144, 4_000_000)).pages
    assert page.px_per_pt == 2.0
    with Image.open(page.image_path) as image:
        assert image.size == (1224, 1584)


def test_is_blank_sees_one_dark_pixel_on_a_white_page() -> None:
    from pdf_assets.stages.render import is_blank

    doc = pymupdf.open()
    page = doc.new_page(width=200, height=200)
    assert is_blank(page.get_pixmap(alpha=False))
    page.draw_rect(pymupdf.Rect(100, 100, 101, 101), color=(0, 0, 0), fill=(0, 0, 0))
    assert not is_blank(page.get_pixmap(alpha=False))

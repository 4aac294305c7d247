"""Crops: only what a model reads is cut, pixels equal a plain crop, failures are per page."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pymupdf
import pytest
from PIL import Image

from pdf_assets.core.types import Box, PageRef, Region, RegionKey, RegionKind
from pdf_assets.stages.crops import crop_pixels, crops_for_pages, cut_pending, describe
from pdf_assets.stages.render import save_pixmap

DOC = "ab" * 32


def _page(tmp_path: Path, text_chars: int = 100) -> PageRef:
    doc = pymupdf.open()
    page = doc.new_page(width=200, height=120)
    page.insert_text((20, 40), "Hello crops", fontsize=14)
    page.draw_rect(pymupdf.Rect(120, 60, 190, 110), color=(1, 0, 0), fill=(0, 0, 1))
    pix = page.get_pixmap(dpi=144, alpha=False)
    image = tmp_path / "page.png"
    save_pixmap(pix, image)
    return PageRef(DOC, "p", str(tmp_path / "x.pdf"), 0, 200.0, 120.0, str(image), pix.width / 200.0, text_chars)


def _region(index: int, kind: RegionKind, box: Box) -> Region:
    return Region(RegionKey(DOC, 0, index), "p", kind.value, kind, box, 0.9)


REGIONS = [
    _region(0, RegionKind.TEXT, Box(10, 20, 110, 50)),
    _region(1, RegionKind.TABLE, Box(118, 58, 200, 120)),  # padding runs past the page edge
    _region(2, RegionKind.FIGURE, Box(0, 0, 30, 30)),
]


def test_only_regions_a_model_reads_are_cut(tmp_path: Path) -> None:
    page = _page(tmp_path)
    (crops,) = crops_for_pages([(page, REGIONS)], tmp_path / "crops")
    assert not isinstance(crops, type(None)) and isinstance(crops, list)
    assert [c.cut for c in crops] == [False, True, True]
    assert [Path(c.image_path).exists() for c in crops] == [False, True, True]


def test_image_only_pages_cut_their_text_regions(tmp_path: Path) -> None:
    page = _page(tmp_path, text_chars=0)
    (crops,) = crops_for_pages([(page, REGIONS)], tmp_path / "crops")
    assert isinstance(crops, list) and all(c.cut and Path(c.image_path).exists() for c in crops)


def test_crop_pixels_equal_a_plain_crop_of_the_page(tmp_path: Path) -> None:
    page = _page(tmp_path, text_chars=0)
    (crops,) = crops_for_pages([(page, REGIONS)], tmp_path / "crops")
    assert isinstance(crops, list)
    with Image.open(page.image_path) as image:
        for crop in crops:
            expected = np.asarray(image.convert("RGB").crop(crop_pixels(crop)))
            got = np.asarray(Image.open(crop.image_path).convert("RGB"))
            assert got.shape == expected.shape == (crop.height_px, crop.width_px, 3)
            assert np.array_equal(got, expected)


def test_pending_crops_are_cut_later_and_a_lost_page_fails_only_its_crops(tmp_path: Path) -> None:
    page = _page(tmp_path)
    good = describe(page, REGIONS[0], tmp_path / "crops")
    lost_page = PageRef(DOC, "p", page.pdf_path, 1, 200.0, 120.0, str(tmp_path / "gone.png"), page.px_per_pt, 5)
    lost = describe(
        lost_page,
        Region(RegionKey(DOC, 1, 0), "p", "text", RegionKind.TEXT, Box(1, 1, 50, 50), 1.0),
        tmp_path / "crops",
    )
    out, failures = cut_pending([good, lost])
    assert out[0] is not None and out[0].cut and Path(out[0].image_path).exists()
    assert out[1] is None
    assert [(f.stage, f.item) for f in failures] == [("ocr", lost.region.key.slug())]
    assert "gone.png" in failures[0].error


@pytest.mark.parametrize("name", ["redp5110_sampled.pdf", "ocr_test.pdf"])
def test_page_store_png_is_lossless(tmp_path: Path, corpus: Path, name: str) -> None:
    with pymupdf.open(corpus / "pdfs" / name) as doc:
        pix = doc[0].get_pixmap(dpi=144, alpha=False)
    save_pixmap(pix, tmp_path / "fast.png")
    pix.save(tmp_path / "reference.png")
    fast = np.asarray(Image.open(tmp_path / "fast.png"))
    assert np.array_equal(fast, np.asarray(Image.open(tmp_path / "reference.png")))


def test_a_page_image_the_decoder_refuses_fails_that_page_with_its_document_and_region(tmp_path: Path) -> None:
    good = _page(tmp_path)
    broken_image = tmp_path / "broken.png"
    broken_image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)  # a header and nothing a decoder can use
    other = "cd" * 32
    broken = PageRef(other, "p", good.pdf_path, 0, 200.0, 120.0, str(broken_image), good.px_per_pt, 0)
    table = Region(RegionKey(other, 0, 0), "p", "table", RegionKind.TABLE, Box(10, 10, 90, 90), 1.0)

    fine, failed = crops_for_pages([(good, REGIONS), (broken, [table])], tmp_path / "crops")

    assert isinstance(fine, list) and all(Path(c.image_path).exists() for c in fine if c.cut)
    assert not isinstance(failed, list)
    assert (failed.stage, failed.doc_id, failed.partition) == ("categorize", other, "p")
    out, failures = cut_pending([describe(broken, table, tmp_path / "crops")])
    assert out == [None]
    assert [(f.doc_id, f.region) for f in failures] == [(other, table.key)]

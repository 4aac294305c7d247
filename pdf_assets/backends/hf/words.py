"""Text-layer words of table crops, read on the shared worker processes.

MuPDF holds the GIL while it parses a page, so reading the words of a batch's tables on
the batch runner's prefetch threads ran one table at a time; the worker processes read
several PDFs at once. This module imports no torch, so the workers stay light.

Coordinates: everything is matched in crop pixels. A crop records the padded box it was
cut from, so its origin in points is exact. Crops built without one (by hand, in tests)
fall back to an estimate from the crop size that assumes symmetric padding (off by at most
half the padding where the crop touches a page edge: well under a word's width).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pymupdf

from pdf_assets.core.parallel import map_by_group
from pdf_assets.core.pdf import open_pdf
from pdf_assets.core.types import Box, Crop

Words = list[tuple[Box, str]]
# Below this many tables the words are read inline: a worker round trip would cost more.
MIN_PARALLEL_TABLES = 8


def crop_origin_pt(crop: Crop) -> tuple[float, float]:
    """Top-left of the crop's pixels in page points (see the module docstring)."""
    if crop.padded_box is not None:
        x0, y0, _, _ = crop.padded_box.pixel_bounds(crop.px_per_pt)  # where the cut started
        return x0 / crop.px_per_pt, y0 / crop.px_per_pt
    box = crop.region.box
    pad_x = max(0.0, (crop.width_px / crop.px_per_pt - box.width) / 2)
    pad_y = max(0.0, (crop.height_px / crop.px_per_pt - box.height) / 2)
    return max(0.0, box.x0 - pad_x), max(0.0, box.y0 - pad_y)


def text_layer_words(crop: Crop, page: pymupdf.Page) -> Words:
    """PyMuPDF words inside the crop, in reading order, as crop-pixel boxes."""
    ox, oy = crop_origin_pt(crop)
    s = crop.px_per_pt
    clip = pymupdf.Rect(ox, oy, ox + crop.width_px / s, oy + crop.height_px / s)
    words: Words = []
    for x0, y0, x1, y1, text, *_ in page.get_text("words", clip=clip, sort=True):
        words.append((Box((x0 - ox) * s, (y0 - oy) * s, (x1 - ox) * s, (y1 - oy) * s), str(text)))
    return words


def pdf_words(crops: Sequence[Crop]) -> list[Words]:
    """Words of some crops of one PDF (a worker job; the PDF is opened once)."""
    with open_pdf(crops[0].pdf_path) as doc:
        return [text_layer_words(crop, doc[crop.region.key.page_no]) for crop in crops]


def text_layer_words_of(crops: Sequence[Crop]) -> Iterator[Words]:
    """Each crop's text-layer words, in input order."""
    return iter(map_by_group(pdf_words, crops, lambda crop: crop.pdf_path, inline_below=MIN_PARALLEL_TABLES))

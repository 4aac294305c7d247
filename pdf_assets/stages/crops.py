"""Cutting region crops out of stored page images, only where a model will read them.

Table and figure regions always get a crop (their models read pixels, and a figure's crop
is part of its result). A text region on a page with a text layer usually never needs
one: its text comes from the PDF. Such crops are described (box, scale, size) but not
written; the text stage cuts the few whose text layer proves unusable, just before OCR.
Crops are cut page by page on the shared worker processes (decoding and encoding PNGs is
the CPU cost of this step), and every file is written atomically, so a reader never sees
half an image. A page image that cannot be read or cut (missing, corrupt, too large for the
decoder) fails only that page's crops, recorded with its document and region.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from pdf_assets.core.parallel import map_by_group
from pdf_assets.core.types import Box, Crop, ItemFailure, PageRef, Region, RegionKind
from pdf_assets.stages.render import write_png

CROP_PADDING_PT = 2.0


def page_name(page: PageRef) -> str:
    return f"{Path(page.pdf_path).name}#p{page.page_no + 1}"


def crop_path(store: Path, region: Region) -> Path:
    doc = region.key.doc_id
    return store / doc[:2] / doc / f"{region.key.slug()}.png"


def needs_pixels(page: PageRef, region: Region) -> bool:
    """Whether a model reads this region's image: everything but text with a text layer."""
    return region.kind is not RegionKind.TEXT or not page.has_text_layer


def padded_box(page: PageRef, region: Region) -> Box:
    """The region plus a little margin (glyphs touch their boxes), clipped to the page, in points."""
    return Box(
        region.box.x0 - CROP_PADDING_PT,
        region.box.y0 - CROP_PADDING_PT,
        region.box.x1 + CROP_PADDING_PT,
        region.box.y1 + CROP_PADDING_PT,
    ).clipped(page.width_pt, page.height_pt)


def crop_pixels(crop: Crop) -> tuple[int, int, int, int]:
    """Where a described crop lies in its page image."""
    if crop.padded_box is None:
        raise ValueError(f"crop {crop.region.key.slug()} has no padded box to cut")
    return crop.padded_box.pixel_bounds(crop.px_per_pt)


def describe(page: PageRef, region: Region, store: Path) -> Crop:
    """A crop's geometry and destination, not yet cut."""
    box = padded_box(page, region)
    x0, y0, x1, y1 = box.pixel_bounds(page.px_per_pt)
    return Crop(
        region,
        page.pdf_path,
        str(crop_path(store, region)),
        page.px_per_pt,
        x1 - x0,
        y1 - y0,
        page.has_text_layer,
        page_image=page.image_path,
        padded_box=box,
        cut=False,
    )


def _window(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """`image[y0:y1, x0:x1]`, zero-filled where the box leaves the image (as PIL's crop does)."""
    x0, y0, x1, y1 = box
    height, width = image.shape[:2]
    piece = image[max(y0, 0) : min(y1, height), max(x0, 0) : min(x1, width)]
    if piece.shape[:2] == (y1 - y0, x1 - x0):
        return piece
    out = np.zeros((y1 - y0, x1 - x0, *image.shape[2:]), dtype=image.dtype)
    if piece.size:
        oy, ox = max(y0, 0) - y0, max(x0, 0) - x0
        out[oy : oy + piece.shape[0], ox : ox + piece.shape[1]] = piece
    return out


def cut_page(crops: list[Crop]) -> list[str | None]:
    """Cut and write crops of one page image (a worker job: the page is decoded once); the
    error per crop, None where it was written."""
    try:
        image = cv2.imread(crops[0].page_image, cv2.IMREAD_UNCHANGED)
        if image is None:
            raise OSError(f"cannot read page image {crops[0].page_image}")
        for crop in crops:
            path = Path(crop.image_path)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_png(_window(image, crop_pixels(crop)), path)
    except Exception as exc:  # noqa: BLE001 - a page that cannot be cut is a recorded failure
        return [f"{type(exc).__name__}: {exc}"] * len(crops)
    return [None] * len(crops)


# Below this many crops they are cut inline: a worker round trip would cost more.
MIN_PARALLEL_CROPS = 32


def cut_all(crops: Sequence[Crop]) -> dict[str, str]:
    """Cut every crop not yet cut, page by page on the worker processes; errors by page image."""
    pending = [crop for crop in crops if not crop.cut]
    for crop in pending:
        crop_pixels(crop)  # a crop with no geometry is a bug here, not a page failure in a worker
    errors = map_by_group(cut_page, pending, lambda crop: crop.page_image, inline_below=MIN_PARALLEL_CROPS)
    return {crop.page_image: error for crop, error in zip(pending, errors, strict=True) if error}


def crops_for_pages(work: Iterable[tuple[PageRef, Sequence[Region]]], store: Path) -> list[list[Crop] | ItemFailure]:
    """Every region as a crop; those a model reads are cut (see the module docstring)."""
    pages = [(page, [describe(page, r, store) for r in regions]) for page, regions in work]
    errors = cut_all([c for page, crops in pages for c in crops if needs_pixels(page, c.region)])
    out: list[list[Crop] | ItemFailure] = []
    for page, crops in pages:
        if page.image_path in errors:
            error = errors[page.image_path]
            out.append(ItemFailure("categorize", page_name(page), error, page.partition, doc_id=page.doc_id))
        else:
            out.append([c if not needs_pixels(page, c.region) else replace(c, cut=True) for c in crops])
    return out


def cut_pending(crops: Sequence[Crop]) -> tuple[list[Crop | None], list[ItemFailure]]:
    """Cut the crops that were only described; one entry per input (None where cutting failed)."""
    errors = cut_all(crops)
    out: list[Crop | None] = []
    failures: list[ItemFailure] = []
    for crop in crops:
        error = errors.get(crop.page_image) if not crop.cut else None
        if error is None:
            out.append(crop if crop.cut else replace(crop, cut=True))
            continue
        out.append(None)
        region = crop.region
        failures.append(
            ItemFailure("ocr", region.key.slug(), error, region.partition, doc_id=region.key.doc_id, region=region.key)
        )
    return out, failures

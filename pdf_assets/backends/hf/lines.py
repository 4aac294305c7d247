"""Split a text crop into line images for single-line recognisers (TrOCR).

TrOCR was trained on one text line per image; a paragraph squeezed into its 384x384 input
comes out as one garbled line. When the layout stage knows the line boxes they are used
as given; otherwise lines are found with a horizontal projection profile: the count of dark
pixels per pixel row, thresholded, gives bands of ink separated by blank gaps. This is
enough for the printed, deskewed text of rendered PDF pages; it is pure numpy/PIL so it
runs in the CPU `preprocess` phase.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from pdf_assets.core.types import Box

# A pixel darker than this (0-255 grey) is ink.
INK_THRESHOLD = 160
# A pixel row is part of a line when at least this fraction of its pixels are ink.
MIN_ROW_INK = 0.002
# Blank gaps thinner than this (pixels) are inside a line (between a line's x-height and accents).
MIN_GAP_PX = 2
# Bands lower than this are specks or rules, not text.
MIN_LINE_PX = 4
# Pixels of margin kept around each line: descenders and ascenders sit at the band's edges.
MARGIN_PX = 2


def _bands(ink_rows: np.ndarray) -> list[tuple[int, int]]:
    """Runs of True in a boolean vector as [start, end) pairs, bridging gaps under MIN_GAP_PX."""
    bands: list[tuple[int, int]] = []
    start: int | None = None
    gap = 0
    for y, inked in enumerate(ink_rows.tolist()):
        if inked:
            if start is None:
                start = y
            gap = 0
        elif start is not None:
            gap += 1
            if gap >= MIN_GAP_PX:
                bands.append((start, y - gap + 1))
                start, gap = None, 0
    if start is not None:
        bands.append((start, len(ink_rows) - gap))
    return bands


def segment_lines(image: Image.Image) -> list[Box]:
    """Line boxes (pixels) of a crop, top to bottom; trimmed horizontally to the ink."""
    grey = np.asarray(image.convert("L"))
    if grey.size == 0:
        return []
    ink = grey < INK_THRESHOLD
    height, width = ink.shape
    rows = ink.mean(axis=1) >= MIN_ROW_INK
    boxes: list[Box] = []
    for y0, y1 in _bands(rows):
        if y1 - y0 < MIN_LINE_PX:
            continue
        cols = np.flatnonzero(ink[y0:y1].any(axis=0))
        x0, x1 = (int(cols[0]), int(cols[-1]) + 1) if cols.size else (0, width)
        boxes.append(
            Box(
                float(max(0, x0 - MARGIN_PX)),
                float(max(0, y0 - MARGIN_PX)),
                float(min(width, x1 + MARGIN_PX)),
                float(min(height, y1 + MARGIN_PX)),
            )
        )
    return boxes


def line_images(image: Image.Image) -> list[Image.Image]:
    """The crop cut into RGB line images, at the lines its projection profile finds."""
    boxes = segment_lines(image)
    rgb = image.convert("RGB")
    out: list[Image.Image] = []
    for box in boxes:
        clipped = box.clipped(float(rgb.width), float(rgb.height))
        if clipped.width >= 1 and clipped.height >= 1:
            out.append(rgb.crop((int(clipped.x0), int(clipped.y0), int(np.ceil(clipped.x1)), int(np.ceil(clipped.y1)))))
    return out

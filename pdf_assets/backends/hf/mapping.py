"""Checkpoint vocabularies -> canonical labels, pixel boxes -> PDF points, class-agnostic NMS,
reading order.

No torch here: these are the parts of the layout backend that carry the project's
conventions, so they are unit-tested on plain numbers.

Label mapping. Object-detection checkpoints name their classes in `config.id2label`; each
name goes through the shared `backends.labels.canonical_label` (DocLayNet, PubLayNet and
docling vocabularies; unknown names become "text", logged once).

Reading order. A detector answers in score order, but region keys (`RegionKey.index`) and
everything downstream (text assembly, captions) read regions in page order. `reading_order`
is a small XY cut: regions wider than `FULL_WIDTH` of the page (titles, wide figures and
tables, single-column text) split the page into horizontal bands, in y order; within a band
the narrower regions form columns (runs of overlapping x extents), read left column first,
top to bottom within each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import groupby

from pdf_assets.core.types import Box, DetectedRegion


def box_px_to_pt(box_px: Sequence[float], px_per_pt: float, width_pt: float, height_pt: float) -> Box | None:
    """A detection in image pixels -> points, clipped to the page; None when nothing is left."""
    x0, y0, x1, y1 = (float(v) / px_per_pt for v in box_px)
    box = Box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)).clipped(width_pt, height_pt)
    return box if box.area > 0 else None


def nms(regions: Sequence[DetectedRegion], iou: float) -> list[DetectedRegion]:
    """Class-agnostic non-maximum suppression, highest score first.

    DETR-style models emit one box per query, so the same paragraph can come back as both
    "text" and "list_item"; keeping the better-scored one gives each area one label.
    `iou >= 1` keeps everything.
    """
    if iou >= 1.0:
        return sorted(regions, key=lambda r: -r.score)
    kept: list[DetectedRegion] = []
    for region in sorted(regions, key=lambda r: -r.score):
        if all(region.box.iou(k.box) <= iou for k in kept):
            kept.append(region)
    return kept


def to_regions(
    scores: Sequence[float],
    labels: Sequence[int],
    boxes_px: Sequence[Sequence[float]],
    table: Mapping[int, str],
    page: tuple[float, float, float],
    nms_iou: float,
) -> list[DetectedRegion]:
    """One page's post-processed detections -> regions in points (`page` = px/pt, width, height)."""
    px_per_pt, width_pt, height_pt = page
    regions: list[DetectedRegion] = []
    for score, label_id, box_px in zip(scores, labels, boxes_px, strict=True):
        box = box_px_to_pt(box_px, px_per_pt, width_pt, height_pt)
        if box is not None:
            regions.append(DetectedRegion(table.get(int(label_id), "text"), box, float(score)))
    return reading_order(nms(regions, nms_iou), width_pt)


FULL_WIDTH = 0.5  # of the page width: a region this wide spans the columns


def _columns(regions: Sequence[DetectedRegion]) -> list[int]:
    """Column index per region: runs of overlapping x extents, left to right."""
    order = sorted(range(len(regions)), key=lambda i: regions[i].box.x0)
    column, right, out = -1, float("-inf"), [0] * len(regions)
    for i in order:
        box = regions[i].box
        if box.x0 >= right - 0.05 * box.width:  # past the column's right edge (a gutter): a new column
            column, right = column + 1, box.x1
        else:
            right = max(right, box.x1)
        out[i] = column
    return out


def reading_order(regions: Sequence[DetectedRegion], width_pt: float) -> list[DetectedRegion]:
    """Regions in reading order: bands between full-width regions top to bottom, and in a band
    the columns left to right, each top to bottom (see the module docstring)."""
    wide = sorted((r for r in regions if r.box.width >= FULL_WIDTH * width_pt), key=lambda r: (r.box.y0, r.box.x0))
    narrow = [r for r in regions if r.box.width < FULL_WIDTH * width_pt]

    def band(region: DetectedRegion) -> int:
        return sum(1 for w in wide if w.box.y0 <= region.box.y0)

    out: list[DetectedRegion] = []
    bands = {k: list(g) for k, g in groupby(sorted(narrow, key=band), key=band)}
    for k in range(len(wide) + 1):
        if k:
            out.append(wide[k - 1])
        members = bands.get(k, [])
        columns = _columns(members)
        out += [
            r for _, r in sorted(zip(columns, members, strict=True), key=lambda p: (p[0], p[1].box.y0, p[1].box.x0))
        ]
    return out

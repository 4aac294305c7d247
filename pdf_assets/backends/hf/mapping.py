"""Checkpoint vocabularies -> canonical labels, pixel boxes -> PDF points, class-agnostic NMS.

No torch here: these are the parts of the layout backend that carry the project's
conventions, so they are unit-tested on plain numbers.

Label mapping. Object-detection checkpoints name their classes in `config.id2label`; each
name goes through the shared `backends.labels.canonical_label` (DocLayNet, PubLayNet and
docling vocabularies; unknown names become "text", logged once).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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
    return nms(regions, nms_iou)

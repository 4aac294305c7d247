"""Checkpoint vocabularies -> canonical labels, pixel boxes -> PDF points, class-agnostic NMS.

No torch here: these are the parts of the layout backend that carry the project's
conventions, so they are unit-tested on plain numbers.

Label mapping. Object-detection checkpoints name their classes in `config.id2label`. Names
are normalised (lower case, `-`, `_` and spaces folded) and looked up in `LABEL_MAP`, which
covers DocLayNet (Caption, Footnote, Formula, List-item, Page-footer, Page-header, Picture,
Section-header, Table, Text, Title), PubLayNet (text, title, list, table, figure) and the
DocLayNet-derived vocabularies of docling (Code, Document Index, Form, Key-Value Region,
Checkbox-*). A name that is not in the map becomes "text" (the safe bucket: its text is
still extracted) and is logged once per name.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence

from pdf_assets.core.types import LABELS, Box, DetectedRegion

logger = logging.getLogger(__name__)

LABEL_MAP: Mapping[str, str] = {
    # DocLayNet
    "caption": "caption",
    "footnote": "footnote",
    "formula": "formula",
    "list item": "list_item",
    "page footer": "page_footer",
    "page header": "page_header",
    "picture": "figure",
    "section header": "section_header",
    "table": "table",
    "text": "text",
    "title": "title",
    # PubLayNet and other common spellings
    "list": "list_item",
    "figure": "figure",
    "image": "figure",
    "chart": "figure",
    "equation": "formula",
    "header": "page_header",
    "footer": "page_footer",
    "paragraph": "text",
    "plain text": "text",
    "code": "code",
    # docling's extended DocLayNet vocabulary
    "document index": "table",
    "form": "text",
    "key value region": "text",
    "checkbox selected": "text",
    "checkbox unselected": "text",
}

_warned: set[str] = set()


def normalise_label(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", name.strip().lower())


def canonical_label(name: str) -> str:
    """Map one checkpoint label to a label of `core.types.LABELS` ("text" when unknown)."""
    key = normalise_label(name)
    label = LABEL_MAP.get(key)
    if label is None and key.replace(" ", "_") in LABELS:
        label = key.replace(" ", "_")
    if label is None:
        if name not in _warned:
            _warned.add(name)
            logger.warning("layout label %r is not mapped to a canonical label; treating it as 'text'", name)
        return "text"
    return label


def label_table(id2label: Mapping[int, str]) -> dict[int, str]:
    """The checkpoint's class ids -> canonical labels, computed once when a model loads."""
    return {int(i): canonical_label(name) for i, name in id2label.items()}


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

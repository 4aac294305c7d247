"""Page layout: PyMuPDF's ONNX layout model, and page-image analysis for scanned pages.

Born-digital pages go through `pymupdf.layout` (activated by importing it), which reads
the text layer and vector graphics, so it finds nothing on an image-only page. Those
pages (no text layer, or an empty layout) are analysed from their stored image instead:
RapidOCR's detector finds text lines, which are grouped into paragraph blocks; ruling
lines found by morphology become tables; large inked areas without text become figures.
The ruling detector, and the grid it implies (`cells_from_rulings`), also serve the table
backend on scanned pages.

All boxes leave this module in PDF points, top-left origin, clipped to the page.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import pymupdf

from pdf_assets.backends.embedded.layout_rules import (
    absorb_figure_text,
    add_missing_images,
    add_vector_figures,
    merge_strips,
    split_list_items,
)
from pdf_assets.backends.embedded.ocr import Image, detect, read_image
from pdf_assets.backends.labels import canonical_label
from pdf_assets.core.errors import DocumentError, ModelLoadError
from pdf_assets.core.model import BatchModel
from pdf_assets.core.pdf import open_pdf
from pdf_assets.core.types import Box, DetectedRegion, PageRef

logger = logging.getLogger(__name__)

PxBox = tuple[float, float, float, float]
Rect = tuple[float, float, float, float]  # points, (x0, y0, x1, y1)


@dataclass(frozen=True)
class Cell:
    """A grid cell: anchor row/col, spans, and its box in points."""

    row: int
    col: int
    row_span: int
    col_span: int
    box: Rect


#: shortest ruling line kept, in points (letter stems are shorter than this)
MIN_RULE_H_PT = 20.0
MIN_RULE_V_PT = 12.0
#: a heuristic figure must be at least this big (points) and this share of the page
MIN_FIGURE_PT = 40.0
MIN_FIGURE_SHARE = 0.015
HEURISTIC_FIGURE_SCORE = 0.5
#: a cluster of this many vector paths with no region on it is artwork (a logo), not a rule
MIN_ART_PATHS = 4


@dataclass(frozen=True)
class Segment:
    """A ruling line in pixels: horizontal lines have y0 == y1, vertical ones x0 == x1."""

    x0: float
    y0: float
    x1: float
    y1: float


def ruling_segments(image: Image, scale: float) -> tuple[list[Segment], list[Segment]]:
    """Horizontal and vertical ruling lines that meet each other (table frames, not text)."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    ink = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 15, 10)
    thick = 3.0 * scale + 1
    hk = cv2.getStructuringElement(cv2.MORPH_RECT, (max(8, int(MIN_RULE_H_PT * scale)), 1))
    vk = cv2.getStructuringElement(cv2.MORPH_RECT, (1, max(8, int(MIN_RULE_V_PT * scale))))
    h_parts = _components(cv2.morphologyEx(ink, cv2.MORPH_OPEN, hk))
    v_parts = _components(cv2.morphologyEx(ink, cv2.MORPH_OPEN, vk))
    horiz = [Segment(x, y + h / 2, x + w, y + h / 2) for x, y, w, h in h_parts if h <= thick]
    vert = [Segment(x + w / 2, y, x + w / 2, y + h) for x, y, w, h in v_parts if w <= thick]
    tol = 3.0 * scale
    # A table rule ends on another rule; a tall letter stem does not.
    vert = [v for v in vert if _touches(v.y0, v.x0, horiz, tol) and _touches(v.y1, v.x0, horiz, tol)]
    horiz = [h for h in horiz if sum(1 for v in vert if _crosses(h, v, tol)) >= 2]
    return horiz, vert


def _components(mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask)
    return [(int(x), int(y), int(w), int(h)) for x, y, w, h, _ in stats[1:]]


def _crosses(h: Segment, v: Segment, tol: float) -> bool:
    return h.x0 - tol <= v.x0 <= h.x1 + tol and v.y0 - tol <= h.y0 <= v.y1 + tol


def _touches(y: float, x: float, horiz: Sequence[Segment], tol: float) -> bool:
    return any(abs(h.y0 - y) <= tol and h.x0 - tol <= x <= h.x1 + tol for h in horiz)


def ruled_table_boxes(image: Image, scale: float) -> list[PxBox]:
    """Pixel boxes of ruled grids (at least two rules each way) on a page image."""
    horiz, vert = ruling_segments(image, scale)
    mask = np.zeros(image.shape[:2], dtype=np.uint8)
    width = max(1, int(2 * scale))
    for seg in [*horiz, *vert]:
        cv2.line(mask, (int(seg.x0), int(seg.y0)), (int(seg.x1), int(seg.y1)), 255, width)
    boxes: list[PxBox] = []
    for x, y, w, h in _components(mask):
        box = (float(x), float(y), float(x + w), float(y + h))
        n_h = sum(1 for s in horiz if _center_in((s.x0, s.y0, s.x1, s.y1), box))
        n_v = sum(1 for s in vert if _center_in((s.x0, s.y0, s.x1, s.y1), box))
        if n_h >= 2 and n_v >= 2 and w >= MIN_FIGURE_PT * scale:
            boxes.append(box)
    return boxes


def pixmap_to_bgr(samples: bytes, width: int, height: int, channels: int) -> Image:
    """A PyMuPDF pixmap's bytes as the BGR array OpenCV and RapidOCR expect."""
    array = np.frombuffer(samples, dtype=np.uint8).reshape(height, width, channels)
    code = cv2.COLOR_GRAY2BGR if channels == 1 else cv2.COLOR_RGB2BGR
    return cv2.cvtColor(array, code)


def _coverage(segs: Sequence[Segment], pos: float, span: tuple[float, float], tol: float) -> float:
    """Share of `span` drawn by segments lying at `pos` (x for vertical, y for horizontal)."""
    lo, hi = span
    drawn = 0.0
    for s in segs:
        vertical = s.x0 == s.x1
        at, a, b = (s.x0, s.y0, s.y1) if vertical else (s.y0, s.x0, s.x1)
        if abs(at - pos) <= tol:
            drawn += max(0.0, min(b, hi) - max(a, lo))
    return min(1.0, drawn / (hi - lo)) if hi > lo else 0.0


def cells_from_rulings(image: Image, scale: float, origin: tuple[float, float]) -> list[Cell]:
    """Grid cells (points) from an image's ruling lines; a missing rule between two grid
    slots merges them, which is how row and column spans appear."""
    horiz, vert = ruling_segments(image, scale)
    tol = 3.0 * scale
    ys, xs = boundaries([h.y0 for h in horiz], tol), boundaries([v.x0 for v in vert], tol)
    if len(ys) < 2 or len(xs) < 2:
        return []
    nr, nc = len(ys) - 1, len(xs) - 1
    parent = list(range(nr * nc))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for r in range(nr):
        for c in range(nc):
            if c > 0 and _coverage(vert, xs[c], (ys[r], ys[r + 1]), tol) < 0.6:
                parent[find(r * nc + c)] = find(r * nc + c - 1)
            if r > 0 and _coverage(horiz, ys[r], (xs[c], xs[c + 1]), tol) < 0.6:
                parent[find(r * nc + c)] = find((r - 1) * nc + c)
    spans: dict[int, list[int]] = {}
    for i in range(nr * nc):
        r, c = divmod(i, nc)
        s = spans.setdefault(find(i), [r, c, r, c])
        s[:] = [min(s[0], r), min(s[1], c), max(s[2], r), max(s[3], c)]
    ox, oy = origin
    cells = {}
    for r0, c0, r1, c1 in spans.values():
        box = (ox + xs[c0] / scale, oy + ys[r0] / scale, ox + xs[c1 + 1] / scale, oy + ys[r1 + 1] / scale)
        cells[(r0, c0)] = Cell(r0, c0, r1 - r0 + 1, c1 - c0 + 1, box)
    return sorted(cells.values(), key=lambda cell: (cell.row, cell.col))


def boundaries(values: Sequence[float], tol: float = 2.0) -> list[float]:
    """Sorted coordinates with values closer than `tol` merged into their mean."""
    groups: list[list[float]] = []
    for v in sorted(values):
        if groups and v - groups[-1][-1] <= tol:
            groups[-1].append(v)
        else:
            groups.append([v])
    return [sum(g) / len(g) for g in groups]


def paragraphs(lines: Sequence[PxBox]) -> list[PxBox]:
    """Group text-line boxes into blocks: a line joins a block just above it that it
    overlaps horizontally, when the gap is under ~0.8 line heights and the sizes match."""
    blocks: list[list[float]] = []  # x0, y0, x1, y1, last line height
    for x0, y0, x1, y1 in sorted(lines, key=lambda b: (b[1], b[0])):
        h = y1 - y0
        for blk in reversed(blocks):
            gap = y0 - blk[3]
            overlap = min(x1, blk[2]) - max(x0, blk[0])
            similar = max(h, blk[4]) <= 1.6 * min(h, blk[4])
            if -0.5 * h <= gap <= 0.8 * h and overlap > 0.3 * min(x1 - x0, blk[2] - blk[0]) and similar:
                blk[:] = [min(x0, blk[0]), blk[1], max(x1, blk[2]), max(y1, blk[3]), h]
                break
        else:
            blocks.append([x0, y0, x1, y1, h])
    return [(b[0], b[1], b[2], b[3]) for b in blocks]


def ink_figures(image: Image, scale: float, exclude: Sequence[PxBox]) -> list[PxBox]:
    """Large inked areas that hold no text lines or tables: photos, charts, drawings."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    _, ink = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    pad = int(2 * scale)
    for x0, y0, x1, y1 in exclude:
        ink[max(0, int(y0) - pad) : int(y1) + pad, max(0, int(x0) - pad) : int(x1) + pad] = 0
    k = max(3, int(6 * scale))
    merged = cv2.dilate(ink, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    page_area = float(gray.shape[0] * gray.shape[1])
    out: list[PxBox] = []
    for x, y, w, h in _components(merged):
        big = w >= MIN_FIGURE_PT * scale and h >= MIN_FIGURE_PT * scale and w * h >= MIN_FIGURE_SHARE * page_area
        if big and w * h <= 0.8 * page_area and cv2.countNonZero(ink[y : y + h, x : x + w]) >= 0.02 * w * h:
            out.append((float(x), float(y), float(x + w), float(y + h)))
    return out


def _to_points(box: PxBox, scale: float, page: PageRef) -> Box:
    return Box(box[0] / scale, box[1] / scale, box[2] / scale, box[3] / scale).clipped(page.width_pt, page.height_pt)


@dataclass
class _PageWork:
    """One page of a batch: the page itself, and its image when OCR analysis is needed."""

    ref: PageRef
    image: Image | None = None


class EmbeddedLayoutModel(BatchModel[PageRef, list[_PageWork], list[list[DetectedRegion]], list[DetectedRegion]]):
    """Page -> regions. CPU only; the PyMuPDF layout model is process-global."""

    name = "embedded.pymupdf_layout"

    def __init__(self, engine: object) -> None:
        self.device = "cpu"
        self.engine = engine
        try:
            import pymupdf.layout  # noqa: F401 - importing it installs the layout model
        except Exception as exc:  # any failure means no layout model
            raise ModelLoadError(f"pymupdf.layout could not be loaded: {exc}") from exc

    def preprocess(self, items: Sequence[PageRef]) -> list[_PageWork]:
        return [_PageWork(ref=ref, image=None if ref.has_text_layer else read_image(ref.image_path)) for ref in items]

    def forward(self, batch: list[_PageWork]) -> list[list[DetectedRegion]]:
        # Documents stay open for this batch only, and close even when a page fails.
        docs: dict[str, pymupdf.Document] = {}
        try:
            return [self._page(work, docs) for work in batch]
        finally:
            for doc in docs.values():
                doc.close()

    def _page(self, work: _PageWork, docs: dict[str, pymupdf.Document]) -> list[DetectedRegion]:
        ref = work.ref
        if ref.has_text_layer:
            regions = self._model_regions(ref, docs)
            if regions:
                return regions
            logger.debug("layout model found nothing on %s p%d; analysing the image", ref.pdf_path, ref.page_no)
        image = work.image if work.image is not None else read_image(ref.image_path)
        return self._image_regions(ref, image)

    def _model_regions(self, ref: PageRef, docs: dict[str, pymupdf.Document]) -> list[DetectedRegion]:
        if ref.pdf_path not in docs:
            try:
                docs[ref.pdf_path] = open_pdf(ref.pdf_path)
            except Exception as exc:  # any open failure is a document error
                raise DocumentError(f"cannot open {ref.pdf_path!r}: {exc}") from exc
        page = docs[ref.pdf_path][ref.page_no]
        # filter_img_bboxes adds embedded raster images as pictures; without it a page's
        # photos and raster charts are silently missing from the result.
        page.get_layout(filter_img_bboxes=True)
        # pymupdf.layout leaves one (x0, y0, x1, y1, class name) entry per region.
        found: list[tuple[float, float, float, float, object]] = page.layout_information or []
        # The model keeps no score per region (its per-word class probabilities are voted into
        # groups and dropped), so every region it returns carries 1.0.
        out = []
        for x0, y0, x1, y1, raw in found:
            box = Box(float(x0), float(y0), float(x1), float(y1)).clipped(ref.width_pt, ref.height_pt)
            if box.area > 0:
                out.append(DetectedRegion(label=canonical_label(str(raw)), box=box, score=1.0))
        return refine_figures(out, page)

    def _image_regions(self, ref: PageRef, image: Image) -> list[DetectedRegion]:
        scale = ref.px_per_pt
        tables = ruled_table_boxes(image, scale)
        lines = [b for b in detect(self.engine, image) if not any(_center_in(b, t) for t in tables)]
        figures = ink_figures(image, scale, [*lines, *tables])
        found = [("text", b, 1.0) for b in paragraphs(lines)]
        found += [("table", b, 1.0) for b in tables] + [("figure", b, HEURISTIC_FIGURE_SCORE) for b in figures]
        regions = [DetectedRegion(label, _to_points(b, scale, ref), score) for label, b, score in found]
        regions = [r for r in regions if r.box.area > 0]
        return sorted(regions, key=lambda r: (round(r.box.y0), r.box.x0))

    def postprocess(self, raw: list[list[DetectedRegion]], items: Sequence[PageRef]) -> list[list[DetectedRegion]]:
        return [regions for regions, _ in zip(raw, items, strict=True)]

    def cost(self, item: PageRef) -> float:
        return float(item.width_pt * item.height_pt)


def refine_figures(regions: list[DetectedRegion], page: pymupdf.Page) -> list[DetectedRegion]:
    """Whole pictures with their own labels inside (see `layout_rules`), in the model's order."""
    bounds = Box(*page.rect)
    images = [Box(*info["bbox"]) for info in page.get_image_info()]
    out = merge_strips(add_missing_images(merge_strips(regions), images, bounds))
    out = split_list_items(out, lambda box: _lines(page, box))
    paths = page.get_drawings()
    if any(r.label == "figure" for r in out):
        drawings = [Box(*d["rect"]) for d in paths]
        out = absorb_figure_text(out, drawings, bounds, lambda box: page.get_textbox(pymupdf.Rect(*box.as_tuple())))
    return add_vector_figures(out, _drawn_clusters(page, paths))


def _drawn_clusters(page: pymupdf.Page, paths: list[dict]) -> list[Box]:
    """Boxes of the page's clusters of vector drawings that look like artwork (a logo or an
    icon: a curve, or several paths, in less than half the page's width) rather than rules
    or shaded cells."""
    if not paths:
        return []
    width = page.rect.width
    out = []
    for rect in page.cluster_drawings(drawings=paths):
        box = Box(*rect)
        inside = [p for p in paths if Box(*p["rect"]).intersection(box) > 0]
        curved = any(item[0] == "c" for p in inside for item in p["items"])
        if box.width <= 0.5 * width and (curved or len(inside) >= MIN_ART_PATHS):
            out.append(box)
    return out


def _lines(page: pymupdf.Page, box: Box) -> list[tuple[Box, str]]:
    """The text lines inside `box`: each line's box and its first span's text (a list marker)."""
    found = page.get_text("dict", clip=pymupdf.Rect(*box.as_tuple()))["blocks"]
    return [
        (Box(*line["bbox"]), line["spans"][0]["text"] if line["spans"] else "")
        for block in found
        for line in block.get("lines", [])
    ]


def _center_in(box: PxBox, outer: PxBox) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return outer[0] <= cx <= outer[2] and outer[1] <= cy <= outer[3]

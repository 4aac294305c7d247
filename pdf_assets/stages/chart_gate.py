"""A cheap, model-free gate: which figure crops are charts worth sending to the chart model.

The chart model (DePlot) is a slow generative model, and most figures in real documents are
logos, photos, screenshots, maps or diagrams, which it can only turn into nonsense tables.
This gate decides from evidence that costs a few milliseconds per figure:

* Size: anything smaller than `MIN_WIDTH_PT` x `MIN_HEIGHT_PT` (logos, icons) is not a chart.
* Born-digital drawings (the page has a text layer and the region is not an embedded
  picture): a chart's tick and value labels are real text, so the region needs at least
  `MIN_NUMBERS` numeric words, making up `MIN_NUMBER_SHARE` of its words, over at least
  `MIN_PATHS` vector paths (bars, lines, markers). Diagrams and code listings have words but
  no numbers. A drawing without any words (labels turned into outlines) is left to the pixels.
* Pictures (embedded images, scanned pages, unlabelled drawings): pixel statistics on a copy
  downscaled to `ANALYSIS_SIDE`. A chart is mostly light background (`MIN_WHITE_SHARE`) in few
  flat colours (`MAX_COLOURS`) with few smooth gradients (`MAX_SOFT_SHARE`): photos, scans and
  maps fail here. And it has an axis corner: a long thin vertical line meeting a long thin
  horizontal line at its bottom, with tick labels outside (see `axis_corner`). The frames of
  screenshots and diagrams sit at the picture's edge or have no labels outside them.

Every decision is a `ChartVerdict` with a reason and the scores behind it, so the log says
why a figure was or was not read as a chart. The thresholds were calibrated on the shared
test corpus (charts: a vector grouped bar chart, a raster stacked bar chart and a raster
line chart; not charts: a map, photos, logos, screenshots, diagrams, code and a scan).
"""

from __future__ import annotations

import logging
import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property, reduce

import numpy as np
import pymupdf
from PIL import Image

from pdf_assets.core.pdf import open_pdf
from pdf_assets.core.types import Box, Crop

logger = logging.getLogger(__name__)

MIN_WIDTH_PT = 100.0
MIN_HEIGHT_PT = 60.0
PICTURE_SHARE = 0.5  # a region this much covered by embedded images is judged on its pixels
MIN_WORDS = 3  # with fewer words the text layer says nothing about a drawing
MIN_NUMBERS = 3
MIN_NUMBER_SHARE = 0.25
MIN_PATHS = 6
ANALYSIS_SIDE = 320  # pixels, longer side of the analysed copy
LIGHT_LEVEL = 235  # every channel at least this bright: background
INK_LEVEL = 224  # darker than this after min-pooling: ink (faint grey gridlines included)
MIN_WHITE_SHARE = 0.45
MAX_COLOURS = 20  # 3-bit-per-channel colour bins, each holding COLOUR_MIN_SHARE of the pixels
COLOUR_MIN_SHARE = 0.003
MAX_SOFT_SHARE = 0.2  # pixels on smooth gradients (photos, shaded renderings)
LONG_LINE = 0.4  # an axis spans this share of the picture's width or height
MAX_LINE_PX = 3  # thicker bands are filled areas (bars, dark backgrounds), not lines
LABEL_BAND = 0.2  # labels are looked for this share of the picture beyond an axis
MIN_LABEL_INK = 0.01  # share of ink in that band

_NUMBER = re.compile(r"^[(\[]?[-+\u2212]?[$\u20ac\u00a3]?\d+(?:[.,]\d+)*[%)\]]?[.,;:]?$")

Rect = tuple[float, float, float, float]


@dataclass(frozen=True)
class ChartVerdict:
    """The gate's decision for one figure, with the reason and the numbers behind it."""

    is_chart: bool
    reason: str
    evidence: str  # "size" | "text_layer" | "pixels" | "error"
    scores: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Line:
    """A long thin straight line in analysis pixels: row (or column) `at`, from `start` to `end`."""

    at: int
    start: int
    end: int


class _PageFacts:
    """A page's words, image boxes and drawings, each read at most once (several figures share a page)."""

    def __init__(self, page: pymupdf.Page) -> None:
        self.page = page

    @cached_property
    def _textpage(self) -> pymupdf.TextPage:
        """One text extraction gives both the words and the placed images (as image blocks)."""
        return self.page.get_textpage(flags=pymupdf.TEXTFLAGS_WORDS | pymupdf.TEXT_PRESERVE_IMAGES)

    @cached_property
    def words(self) -> list[tuple[float, float, float, float, str]]:
        return [(w[0], w[1], w[2], w[3], w[4]) for w in self.page.get_text("words", textpage=self._textpage)]

    @cached_property
    def images(self) -> list[Rect]:
        blocks = self.page.get_text("blocks", textpage=self._textpage)
        return [(b[0], b[1], b[2], b[3]) for b in blocks if b[6] == 1]

    @cached_property
    def drawings(self) -> list[tuple[Rect, int]]:
        """(box, number of path items) per drawing; the slowest listing, so read last."""
        return [(tuple(d["rect"]), len(d["items"])) for d in self.page.get_cdrawings()]

    def words_in(self, box: Box) -> list[str]:
        """Words whose centre lies in `box`."""
        return [
            w[4] for w in self.words if box.x0 <= (w[0] + w[2]) / 2 <= box.x1 and box.y0 <= (w[1] + w[3]) / 2 <= box.y1
        ]

    def picture_share(self, box: Box) -> float:
        """Share of `box` under embedded images (overlaps counted twice, capped at 1)."""
        area = sum(box.intersection(Box(*r)) for r in self.images)
        return min(1.0, area / box.area) if box.area > 0 else 0.0

    def paths_in(self, box: Box, slack: float = 2.0) -> int:
        """Path items of drawings inside `box`; one as big as the box is a background or frame."""
        total = 0
        for (x0, y0, x1, y1), n in self.drawings:
            inside = x0 >= box.x0 - slack and y0 >= box.y0 - slack and x1 <= box.x1 + slack and y1 <= box.y1 + slack
            if inside and (x1 - x0) * (y1 - y0) < 0.9 * box.area:
                total += n
        return total


def classify_crops(crops: Sequence[Crop]) -> list[ChartVerdict]:
    """A verdict per crop, in order; each PDF is opened once and each page read once."""
    verdicts: dict[int, ChartVerdict] = {}
    by_pdf: dict[str, list[int]] = defaultdict(list)
    for i, crop in enumerate(crops):
        by_pdf[crop.pdf_path if crop.text_layer else ""].append(i)
    for pdf_path, indexes in by_pdf.items():
        doc = _open(pdf_path) if pdf_path else None
        try:
            pages: dict[int, _PageFacts] = {}
            for i in indexes:
                verdicts[i] = _classify_safely(crops[i], doc, pages)
        finally:
            if doc is not None:
                doc.close()
    return [verdicts[i] for i in range(len(crops))]


def classify_crop(crop: Crop) -> ChartVerdict:
    """The verdict for one crop (use `classify_crops` for many: it opens each PDF once)."""
    return classify_crops([crop])[0]


def _open(pdf_path: str) -> pymupdf.Document | None:
    try:
        return open_pdf(pdf_path)
    except Exception as exc:  # noqa: BLE001 - the pixels can still decide
        logger.warning("chart gate cannot open %s (%s); judging its figures on pixels", pdf_path, exc)
        return None


def _classify_safely(crop: Crop, doc: pymupdf.Document | None, pages: dict[int, _PageFacts]) -> ChartVerdict:
    """A figure the gate cannot read goes to the chart model: a lost chart costs more than one call."""
    try:
        return _classify(crop, doc, pages)
    except Exception as exc:  # noqa: BLE001 - one bad figure never stops the stage
        logger.warning("chart gate failed on %s (%s); sending it to the chart model", crop.region.key.slug(), exc)
        return ChartVerdict(True, f"gate error, sent to the chart model: {type(exc).__name__}: {exc}", "error")


def _classify(crop: Crop, doc: pymupdf.Document | None, pages: dict[int, _PageFacts]) -> ChartVerdict:
    box = crop.region.box
    scores = {"width_pt": round(box.width, 1), "height_pt": round(box.height, 1)}
    if box.width < MIN_WIDTH_PT or box.height < MIN_HEIGHT_PT:
        return ChartVerdict(False, f"too small for a chart ({box.width:.0f}x{box.height:.0f} pt)", "size", scores)
    if doc is not None:
        page_no = crop.region.key.page_no
        if page_no not in pages:
            pages[page_no] = _PageFacts(doc[page_no])
        verdict = _text_layer_verdict(pages[page_no], box, scores)
        if verdict is not None:
            return verdict
    return pixel_verdict(crop.image_path, scores)


def _text_layer_verdict(page: _PageFacts, box: Box, scores: dict[str, float]) -> ChartVerdict | None:
    """Decide a born-digital drawing from its words and vector paths; None: let the pixels decide."""
    picture = page.picture_share(box)
    scores["picture_share"] = round(picture, 3)
    if picture >= PICTURE_SHARE:
        return None  # an embedded picture: its labels, if any, are pixels too
    words = page.words_in(box)
    numbers = sum(1 for w in words if _NUMBER.match(w))
    share = numbers / len(words) if words else 0.0
    scores.update(words=len(words), numbers=numbers, number_share=round(share, 3))
    labelled = numbers >= MIN_NUMBERS and share >= MIN_NUMBER_SHARE
    if not labelled and len(words) >= MIN_WORDS:
        return ChartVerdict(False, f"{numbers} numeric words of {len(words)}: no axis labels", "text_layer", scores)
    paths = page.paths_in(box)  # only now: listing a page's drawings is the slow part
    scores["paths"] = paths
    if paths < MIN_PATHS:
        return ChartVerdict(False, f"only {paths} vector paths: nothing plotted", "text_layer", scores)
    if labelled:
        return ChartVerdict(True, f"{numbers} numeric labels over {paths} vector paths", "text_layer", scores)
    return None  # a drawing without words: its labels, if any, are outlines, so the pixels decide


def pixel_verdict(image_path: str, scores: dict[str, float] | None = None) -> ChartVerdict:
    """Decide a picture from its pixels: flat colours on a light background, and an axis corner."""
    with Image.open(image_path) as image:
        image.load()
        rgb = image if image.mode == "RGB" else image.convert("RGB")
    k = max(1, math.ceil(max(rgb.size) / ANALYSIS_SIDE))
    stats = pixel_stats(np.asarray(rgb.reduce(k) if k > 1 else rgb))
    out = {**(scores or {}), **stats}
    if stats["white_share"] < MIN_WHITE_SHARE:
        reason = f"only {stats['white_share']:.0%} light background: a photo or a dense picture"
        return ChartVerdict(False, reason, "pixels", out)
    if stats["colours"] > MAX_COLOURS:
        return ChartVerdict(False, f"{stats['colours']:.0f} distinct colours: a photo or a map", "pixels", out)
    if stats["soft_share"] > MAX_SOFT_SHARE:
        return ChartVerdict(False, f"{stats['soft_share']:.0%} smooth gradients: a photo", "pixels", out)
    corner = axis_corner(ink_mask(np.asarray(rgb.convert("L")), k))
    out["axis_corner"] = float(corner)
    if not corner:
        return ChartVerdict(False, "no labelled axis corner", "pixels", out)
    return ChartVerdict(True, "labelled axis corner on a flat light background", "pixels", out)


def pixel_stats(rgb: np.ndarray) -> dict[str, float]:
    """Light-background share, number of flat colours, and share of smooth gradients."""
    r, g, b = (rgb[..., i] for i in range(3))
    light = np.minimum(np.minimum(r, g), b) >= LIGHT_LEVEL
    codes = ((r >> 5).astype(np.int32) << 6 | (g >> 5).astype(np.int32) << 3 | (b >> 5)).ravel()
    colours = int((np.bincount(codes, minlength=512) >= COLOUR_MIN_SHARE * codes.size).sum())
    gray = (r.astype(np.int16) + g + b) // 3
    step = np.maximum(np.abs(np.diff(gray, axis=1))[:-1], np.abs(np.diff(gray, axis=0))[:, :-1])
    soft = float(((step > 3) & (step < 24)).mean()) if step.size else 0.0
    return {"white_share": round(float(light.mean()), 3), "colours": float(colours), "soft_share": round(soft, 3)}


def ink_mask(gray: np.ndarray, k: int) -> np.ndarray:
    """Dark pixels after k x k min-pooling: unlike averaging, it keeps one-pixel axis lines."""
    h, w = gray.shape[0] // k, gray.shape[1] // k
    if k > 1 and h and w:
        gray = gray[: h * k, : w * k]
        gray = reduce(np.minimum, (gray[i::k] for i in range(k)))
        gray = reduce(np.minimum, (gray[:, i::k] for i in range(k)))
    return gray < INK_LEVEL


def long_lines(ink: np.ndarray) -> list[Line]:
    """Long thin lines along the rows of `ink` (pass `ink.T` for columns).

    A row qualifies when its longest ink run spans LONG_LINE of the width; neighbouring
    qualifying rows merge, and a band thicker than MAX_LINE_PX is a filled area, not a line.
    """
    counts = np.cumsum(ink, axis=1, dtype=np.int32)
    runs = counts - np.maximum.accumulate(np.where(ink, 0, counts), axis=1)
    best, ends = runs.max(axis=1), runs.argmax(axis=1)
    lines: list[Line] = []
    band: list[int] = []
    for row in [*np.flatnonzero(best >= max(2, LONG_LINE * ink.shape[1])).tolist(), -2]:
        if band and row != band[-1] + 1:
            if len(band) <= MAX_LINE_PX:
                last = band[-1]
                lines.append(Line(last, int(ends[last] - best[last] + 1), int(ends[last])))
            band = []
        band.append(row)
    return lines


def axis_corner(ink: np.ndarray) -> bool:
    """Whether a y axis meets an x axis at its bottom, with tick labels outside.

    Labels outside one axis are enough for an open plot (an L, as in most bar charts); a
    closed box needs labels outside both, since a table or a window with text below it is
    a box too. Frames at the picture's edge have nothing outside them at all.
    """
    h, w = ink.shape
    tol = max(2, round(0.03 * max(h, w)))
    rows, cols = long_lines(ink), long_lines(ink.T)
    text = _without_lines(ink, rows, cols)  # labels are what is left: a parallel frame is no label
    for y_axis in cols:
        for x_axis in rows:
            if abs(y_axis.end - x_axis.at) > tol or abs(x_axis.start - y_axis.at) > tol:
                continue
            x_left = max(0, y_axis.at - round(LABEL_BAND * w))
            left = text[y_axis.start : y_axis.end + 1, x_left : max(0, y_axis.at - MAX_LINE_PX)]
            below = text[x_axis.at + MAX_LINE_PX + 1 : x_axis.at + round(LABEL_BAND * h), x_axis.start : x_axis.end + 1]
            labelled = int(_share(left) >= MIN_LABEL_INK) + int(_share(below) >= MIN_LABEL_INK)
            if labelled == 2 or (labelled == 1 and not _boxed(y_axis, x_axis, rows, cols, tol)):
                return True
    return False


def _without_lines(ink: np.ndarray, rows: Sequence[Line], cols: Sequence[Line]) -> np.ndarray:
    """`ink` with the long lines (and the pixel either side of them) erased."""
    text = ink.copy()
    for line in rows:
        text[max(0, line.at - MAX_LINE_PX) : line.at + 2, line.start : line.end + 1] = False
    for line in cols:
        text[line.start : line.end + 1, max(0, line.at - MAX_LINE_PX) : line.at + 2] = False
    return text


def _boxed(y_axis: Line, x_axis: Line, rows: Sequence[Line], cols: Sequence[Line], tol: int) -> bool:
    """Whether lines along the top and the right close the two axes into a box."""
    top = any(abs(r.at - y_axis.start) <= tol and r.end - r.start >= 0.5 * (x_axis.end - x_axis.start) for r in rows)
    right = any(abs(c.at - x_axis.end) <= tol and c.end - c.start >= 0.5 * (y_axis.end - y_axis.start) for c in cols)
    return top and right


def _share(block: np.ndarray) -> float:
    return float(block.mean()) if block.size else 0.0

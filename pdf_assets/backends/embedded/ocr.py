"""RapidOCR (PP-OCR detection + recognition on onnxruntime) as the embedded text backend.

Besides the OCR stage's model this module holds the small OCR toolkit that the layout and
table backends share: running the engine on an image array, and grouping the engine's
line boxes into visual lines in reading order.

RapidOCR quirks handled here:
- it returns `(None, None)` (not an empty list) when it finds nothing;
- its global `max_side_len` (2000 px by default) silently shrinks large inputs, which
  undoes our upscaling of small crops, so the engine is built with a larger limit;
- recognition quality drops sharply below ~2 px per PDF point (e.g. "self contained"
  is read as "selfcontained" at 1.5 px/pt), so low-resolution crops are upscaled first.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from pdf_assets.core.errors import DocumentError, ModelLoadError
from pdf_assets.core.model import BatchModel, pixel_cost
from pdf_assets.core.types import Crop, OcrText

if TYPE_CHECKING:
    from rapidocr_onnxruntime import RapidOCR

logger = logging.getLogger(__name__)

Image = np.ndarray
#: below this scale a crop is upscaled before OCR (see the module docstring)
DEFAULT_MIN_PX_PER_PT = 2.0
#: the largest side RapidOCR may see; larger inputs are downscaled by the engine itself
MAX_SIDE_PX = 3000
#: white margin added around a crop before OCR, in points
PAD_PT = 8.0


@dataclass(frozen=True)
class OcrLine:
    """One text line found by the engine, box in the pixels of the image it was run on."""

    x0: float
    y0: float
    x1: float
    y1: float
    text: str
    score: float

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2


def make_engine(threads: int | None = None) -> RapidOCR:
    """Build a RapidOCR engine; onnxruntime picks the thread count unless `threads` is set."""
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:
        raise ModelLoadError("rapidocr-onnxruntime is not installed (pip install rapidocr-onnxruntime)") from exc
    # The detector's default ("min" side >= 736 px) blows a one-line crop up to several
    # thousand pixels wide; inputs are already at a readable scale, so only cap the size.
    # The 180-degree angle classifier flips long, upright text lines of a page and the
    # recogniser then reads them backwards (score < 0.5, dropped); rendered pages are upright.
    kwargs: dict[str, int | str | bool] = {
        "use_cls": False,
        "max_side_len": MAX_SIDE_PX,
        "det_limit_type": "max",
        "det_limit_side_len": MAX_SIDE_PX,
    }
    if threads:
        kwargs["intra_op_num_threads"] = threads
        kwargs["inter_op_num_threads"] = 1
    try:
        return RapidOCR(**kwargs)
    except Exception as exc:  # any failure here means no OCR at all
        raise ModelLoadError(f"RapidOCR failed to load: {exc}") from exc


def read_image(path: str) -> Image:
    """Decode an image file to a BGR array (what RapidOCR and OpenCV expect)."""
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise DocumentError(f"cannot read image {path!r}")
    return image


def upscale(image: Image, px_per_pt: float, min_px_per_pt: float) -> tuple[Image, float]:
    """Upscale an image whose resolution is too low for recognition; returns (image, factor)."""
    if px_per_pt <= 0 or px_per_pt >= min_px_per_pt:
        return image, 1.0
    factor = min(min_px_per_pt / px_per_pt, MAX_SIDE_PX / max(image.shape[:2]))
    if factor <= 1.0:
        return image, 1.0
    return cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC), factor


def pad_white(image: Image, px_per_pt: float) -> Image:
    """A white margin around a tight crop: without it the detector clips edge glyphs and
    splits lines ("Docling bundles P" + "PDF document ..." on a crop cut at the text)."""
    pad = max(16, int(PAD_PT * px_per_pt))
    return cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(255, 255, 255))


def _box_of(points: Sequence[Sequence[float]]) -> tuple[float, float, float, float]:
    xs = [float(p[0]) for p in points]
    ys = [float(p[1]) for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def recognize(engine: RapidOCR, image: Image) -> list[OcrLine]:
    """Detected and recognised lines of `image` (pixel boxes), in the engine's order."""
    result, _ = engine(image)
    lines: list[OcrLine] = []
    for points, text, score in result or []:
        if not str(text).strip():
            continue
        lines.append(OcrLine(*_box_of(points), text=str(text).strip(), score=float(score)))
    return lines


def detect(engine: RapidOCR, image: Image) -> list[tuple[float, float, float, float]]:
    """Text-line boxes only (no recognition): what layout needs, at a third of the cost."""
    result, _ = engine(image, use_cls=False, use_rec=False)
    return [_box_of(points) for points in result or []]


def visual_lines(lines: Sequence[OcrLine]) -> list[list[OcrLine]]:
    """Group engine lines into visual lines (top to bottom), each sorted left to right.

    Two boxes share a visual line when their vertical centres are closer than half the
    smaller box height: the engine splits a line at wide gaps (columns, table cells).
    """
    rows: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda ln: (ln.cy, ln.x0)):
        if rows:
            last = rows[-1]
            ref = sum(ln.cy for ln in last) / len(last)
            tol = 0.5 * min(line.height, min(ln.height for ln in last))
            if abs(line.cy - ref) <= tol:
                last.append(line)
                continue
        rows.append([line])
    return [sorted(row, key=lambda ln: ln.x0) for row in rows]


def join_lines(lines: Sequence[OcrLine]) -> str:
    """Reading-order text: words of one visual line joined by spaces, lines by newlines."""
    return "\n".join(" ".join(ln.text for ln in row) for row in visual_lines(lines))


def to_ocr_text(lines: Sequence[OcrLine]) -> OcrText:
    if not lines:
        return OcrText(text="", confidence=0.0)
    return OcrText(text=join_lines(lines), confidence=sum(ln.score for ln in lines) / len(lines))


class RapidOcrModel(BatchModel[Crop, list[Image], list[list[OcrLine]], OcrText]):
    """Crop image -> text. RapidOCR has no batch API, so a batch is a loop over crops."""

    name = "embedded.rapidocr"

    def __init__(self, engine: RapidOCR, min_px_per_pt: float = DEFAULT_MIN_PX_PER_PT) -> None:
        self.engine = engine
        self.min_px_per_pt = min_px_per_pt
        self.device = "cpu"

    def preprocess(self, items: Sequence[Crop]) -> list[Image]:
        return [self._prepare(crop) for crop in items]

    def _prepare(self, crop: Crop) -> Image:
        image, factor = upscale(read_image(crop.image_path), crop.px_per_pt, self.min_px_per_pt)
        return pad_white(image, crop.px_per_pt * factor)

    def forward(self, batch: list[Image]) -> list[list[OcrLine]]:
        return [recognize(self.engine, image) for image in batch]

    def postprocess(self, raw: list[list[OcrLine]], items: Sequence[Crop]) -> list[OcrText]:
        return [to_ocr_text(lines) for lines, _ in zip(raw, items, strict=True)]

    def cost(self, item: Crop) -> float:
        return pixel_cost(item)

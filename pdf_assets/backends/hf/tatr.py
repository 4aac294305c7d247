"""Table structure with Table Transformer: table crops -> `TableStructure`.

The model detects rows, columns, column headers, projected row headers and spanning
cells; `stages.table_grid.grid_from_detections` turns them into cells. Cell text comes from
the PDF text layer when the page has one (exact, free) and otherwise from RapidOCR over
the crop (option `ocr=none` leaves such tables empty). Words are gathered in `preprocess`,
on the CPU, so they overlap with the device work of the previous batch.

Coordinates: everything is matched in crop pixels. A crop is its region's box plus a
small padding, clipped to the page, and `Crop` does not carry that padded box, so the crop's
origin in points is estimated from the crop size assuming symmetric padding (off by at most
half the padding where the crop touches a page edge: well under a word's width).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pymupdf

from pdf_assets.backends.hf.detection import DetectionBatch, DetectionRaw, Detector, load_detector, open_rgb
from pdf_assets.backends.torch_base import TorchBatchModel
from pdf_assets.core.config import ModelSpec
from pdf_assets.core.errors import ConfigError
from pdf_assets.core.types import Box, Crop, TableStructure
from pdf_assets.stages.table_grid import grid_from_detections

logger = logging.getLogger(__name__)

Words = list[tuple[Box, str]]

ROW, COLUMN, HEADER = "table row", "table column", "table column header"
# Projected row headers span the table's width, so they merge like spanning cells.
SPANNING = ("table spanning cell", "table projected row header")


def crop_origin_pt(crop: Crop) -> tuple[float, float]:
    """Top-left of the crop in page points (see the module docstring for the estimate)."""
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


def split_line(box: Box, text: str) -> Words:
    """An OCR line -> word boxes by character position, so a line crossing columns still splits."""
    words: Words = []
    n = max(len(text), 1)
    pos = 0
    for token in text.split():
        start = text.index(token, pos)
        pos = start + len(token)
        x0 = box.x0 + box.width * start / n
        x1 = box.x0 + box.width * pos / n
        words.append((Box(x0, box.y0, x1, box.y1), token))
    return words


class OcrEngine(Protocol):
    """RapidOCR's call: image -> ([[corner points, text, score], ...] or None, timings)."""

    def __call__(self, img_content: np.ndarray) -> tuple[list[tuple[list[list[float]], str, float]] | None, object]: ...


class WordSource:
    """Text-layer words where trusted, RapidOCR otherwise (created on first use, shared)."""

    def __init__(self, ocr: str) -> None:
        if ocr not in ("rapidocr", "none"):
            raise ConfigError(f"tables option ocr={ocr!r}; expected 'rapidocr' or 'none'")
        self.ocr = ocr
        self._engine: OcrEngine | None = None
        self._lock = threading.Lock()

    def _rapidocr(self) -> OcrEngine:
        with self._lock:
            if self._engine is None:
                from rapidocr_onnxruntime import RapidOCR

                self._engine = RapidOCR()  # bundled ONNX weights: no download
            return self._engine

    def ocr_words(self, image_path: str) -> Words:
        if self.ocr == "none":
            return []
        engine = self._rapidocr()
        result, _ = engine(np.asarray(open_rgb(image_path)))
        words: Words = []
        for points, text, _score in result or []:
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            words.extend(split_line(Box(min(xs), min(ys), max(xs), max(ys)), str(text)))
        return words

    def words_for(self, crops: Sequence[Crop]) -> list[Words]:
        """One word list per crop; each PDF of the batch is opened once."""
        docs: dict[str, pymupdf.Document] = {}
        try:
            out: list[Words] = []
            for crop in crops:
                if crop.text_layer:
                    if crop.pdf_path not in docs:
                        docs[crop.pdf_path] = pymupdf.open(crop.pdf_path)
                    out.append(text_layer_words(crop, docs[crop.pdf_path][crop.region.key.page_no]))
                else:
                    out.append(self.ocr_words(crop.image_path))
            return out
        finally:
            for doc in docs.values():
                doc.close()


@dataclass
class TableBatch:
    detection: DetectionBatch
    words: list[Words]


@dataclass
class TableRaw:
    detection: DetectionRaw
    words: list[Words]


class TatrModel(TorchBatchModel[Crop, TableBatch, TableRaw, TableStructure]):
    """Table crops -> cell grids."""

    name = "hf.tatr"

    def __init__(self, detector: Detector, words: WordSource, threshold: float = 0.5) -> None:
        self.detector = detector
        self.device = detector.device
        self.word_source = words
        self.threshold = threshold

    def cost(self, item: Crop) -> float:
        return float(item.width_px * item.height_px)

    def preprocess(self, items: Sequence[Crop]) -> TableBatch:
        batch = self.detector.encode_paths([crop.image_path for crop in items])
        return TableBatch(batch, self.word_source.words_for(items))

    def forward(self, batch: TableBatch) -> TableRaw:
        return TableRaw(self.detector.detect(batch.detection), batch.words)

    def postprocess(self, raw: TableRaw, items: Sequence[Crop]) -> list[TableStructure]:
        out: list[TableStructure] = []
        for detections, words in zip(self.detector.decode(raw.detection, self.threshold), raw.words, strict=True):
            found: dict[str, list[Box]] = {}
            for d in detections:
                found.setdefault(d.label, []).append(Box(*d.box))
            spans = [b for name in SPANNING for b in found.get(name, [])]
            out.append(
                grid_from_detections(found.get(ROW, []), found.get(COLUMN, []), found.get(HEADER, []), spans, words)
            )
        return out


def load_tatr(spec: ModelSpec, device: str) -> TatrModel:
    return TatrModel(
        load_detector(spec, device),
        WordSource(spec.option("ocr") or "rapidocr"),
        threshold=spec.float_option("threshold", 0.5),
    )

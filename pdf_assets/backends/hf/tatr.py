"""Table structure with Table Transformer: table crops -> `TableStructure`.

The model detects rows, columns, column headers, projected row headers and spanning
cells; `core.table_grid.grid_from_detections` turns them into cells. Cell text comes from
the PDF text layer when the page has one (exact, free) and otherwise from RapidOCR over
the crop (option `ocr=none` leaves such tables empty). Words are gathered in `preprocess`,
on the CPU (text-layer words on the shared worker processes, see `words.py`), so they
overlap with the device work of the previous batch.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from pdf_assets.backends.hf.detection import DetectionBatch, DetectionRaw, Detector, load_detector, open_rgb
from pdf_assets.backends.hf.words import Words, text_layer_words_of
from pdf_assets.backends.torch_base import TorchBatchModel
from pdf_assets.core.config import ModelSpec
from pdf_assets.core.errors import ConfigError
from pdf_assets.core.table_grid import grid_from_detections
from pdf_assets.core.types import Box, Crop, TableStructure

logger = logging.getLogger(__name__)


ROW, COLUMN, HEADER = "table row", "table column", "table column header"
# Projected row headers span the table's width, so they merge like spanning cells.
SPANNING = ("table spanning cell", "table projected row header")


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
                # The embedded OCR backend's engine and settings (bundled ONNX weights, no
                # angle classifier: see `make_engine`), so both read text the same way.
                from pdf_assets.backends.embedded.ocr import make_engine

                self._engine = make_engine()
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
        """One word list per crop: the text layer's where the page has one, else OCR's."""
        layer = text_layer_words_of([c for c in crops if c.text_layer])
        return [next(layer) if crop.text_layer else self.ocr_words(crop.image_path) for crop in crops]


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
        return self.detector.shape_cost(item.height_px, item.width_px)

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

"""The text of regions a stage failed on, so a failure never loses what the box says.

Layout models call paragraphs tables and table models then find no grid; a chart model
can choke on a figure. The region's box still holds text, and dropping it silently (the
document stays "ok") loses whole paragraphs. Every such region falls back to its box's
text: the PDF's text layer where usable, else one OCR run over all of them (the run's
regions across every partition in one batched stage). The fallback is an ordinary
`TextResult` of the region, and the stage's failure says what it recovered.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from pdf_assets.core.batching import StageRun
from pdf_assets.core.types import Crop, ItemFailure, OcrText, RegionKey, StageMetrics, TextResult
from pdf_assets.stages.crops import cut_pending
from pdf_assets.stages.engine import InferenceEngine
from pdf_assets.stages.text import TEXT_LAYER_ENGINE, clean_text, text_layer_texts, text_result

logger = logging.getLogger(__name__)

FALLBACK_OCR_STAGE = "ocr_fallback"  # the metrics name of the fallback's OCR run


@dataclass
class Fallback:
    """Fallback texts and the failures they answer (with `recovered` set), by partition."""

    texts: dict[str, list[TextResult]] = field(default_factory=lambda: defaultdict(list))
    failures: dict[str, list[ItemFailure]] = field(default_factory=lambda: defaultdict(list))
    metrics: tuple[StageMetrics, ...] = ()

    def texts_of(self, partition: str) -> tuple[TextResult, ...]:
        return tuple(self.texts.get(partition, ()))

    def failures_of(self, partition: str) -> tuple[ItemFailure, ...]:
        return tuple(self.failures.get(partition, ()))


def _ocr(crops: Sequence[Crop], engine: InferenceEngine) -> tuple[list[TextResult], tuple[StageMetrics, ...]]:
    """OCR of the crops, in one batched run; crops that cannot be cut or read are skipped."""
    cut, cut_failures = cut_pending(crops)
    pending = [c for c in cut if c is not None]
    for failure in cut_failures:
        logger.warning("no fallback text for %s: %s", failure.item, failure.error)
    if not pending:
        return [], ()
    run: StageRun[OcrText] = engine.run("ocr", pending)
    name = run.metrics.backend or engine.spec("ocr").backend
    texts: list[TextResult] = []
    for i, (crop, out) in enumerate(zip(pending, run.outputs, strict=True)):
        if i in run.failures or out is None:
            logger.warning("no fallback text for %s: %s", crop.region.key.slug(), run.failures.get(i, "no output"))
            continue
        text = clean_text(out.text)
        if text:
            texts.append(text_result(crop, text, "ocr", out.confidence, name))
    return texts, (replace(run.metrics, stage=FALLBACK_OCR_STAGE),)


def fallback_texts(crops: Sequence[Crop], failures: Sequence[ItemFailure], engine: InferenceEngine) -> Fallback:
    """The box text of every crop a failure names (by `ItemFailure.region`).

    Returns every failure (those naming no crop unchanged) by partition, each marked with
    what was recovered: "text_layer", "ocr", or None when the box held no readable text.
    Figures can call this with their crops and failures just as the table stage does.
    """
    by_key = {c.region.key: c for c in crops}
    failed_keys = list(dict.fromkeys(f.region for f in failures if f.region in by_key))
    failed = [by_key[k] for k in failed_keys if k is not None]
    layer = text_layer_texts(failed)
    texts = [text_result(failed[i], text, "text_layer", 1.0, TEXT_LAYER_ENGINE) for i, text in sorted(layer.items())]
    ocr_texts, metrics = _ocr([c for i, c in enumerate(failed) if i not in layer], engine)
    texts += ocr_texts
    recovered: dict[RegionKey, str] = {t.key: t.source for t in texts}
    out = Fallback(metrics=metrics)
    for text in texts:
        out.texts[text.partition].append(text)
    for failure in failures:
        source = recovered.get(failure.region) if failure.region is not None else None
        out.failures[failure.partition or ""].append(replace(failure, recovered=source) if source else failure)
    return out

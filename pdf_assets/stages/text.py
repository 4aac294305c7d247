"""Text of text regions: the PDF's text layer where it is usable, OCR where it is not."""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence

import pymupdf

from pdf_assets.core.types import Crop, OcrText, TextResult
from pdf_assets.stages.collect import collect_crops
from pdf_assets.stages.engine import InferenceEngine
from pdf_assets.stages.manifests import CategorizedRegions, TextManifest

logger = logging.getLogger(__name__)

TEXT_LAYER_ENGINE = "pymupdf.text_layer"
_WS = re.compile(r"[ \t]+")


def usable_text(text: str) -> bool:
    """A text layer is trusted when it has letters or digits and little replacement garbage.

    Scanned PDFs sometimes carry an invisible, broken OCR layer full of U+FFFD or private-use
    glyphs; those regions go to OCR instead.
    """
    stripped = text.strip()
    if not stripped or not any(ch.isalnum() for ch in stripped):
        return False
    bad = sum(1 for ch in stripped if ch == "\ufffd" or "\ue000" <= ch <= "\uf8ff")
    return bad / len(stripped) < 0.1


def clean_text(text: str) -> str:
    lines = (_WS.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def text_layer_texts(crops: Sequence[Crop]) -> dict[int, str]:
    """Text-layer text per crop index, for crops on pages with a text layer (each PDF opened once)."""
    by_pdf: dict[str, list[int]] = defaultdict(list)
    for i, crop in enumerate(crops):
        if crop.text_layer:
            by_pdf[crop.pdf_path].append(i)
    texts: dict[int, str] = {}
    for pdf_path, indexes in by_pdf.items():
        try:
            with pymupdf.open(pdf_path) as doc:
                for i in indexes:
                    region = crops[i].region
                    clip = pymupdf.Rect(region.box.as_tuple())
                    texts[i] = clean_text(doc[region.key.page_no].get_text("text", clip=clip, sort=True))
        except Exception as exc:  # noqa: BLE001 - fall back to OCR for this PDF's regions
            logger.warning("text layer of %s unreadable (%s); using OCR", pdf_path, exc)
    return {i: t for i, t in texts.items() if usable_text(t)}


def _result(crop: Crop, text: str, source: str, confidence: float, engine: str) -> TextResult:
    region = crop.region
    return TextResult(region.key, region.partition, region.label, text, source, confidence, engine)


def extract_text(
    categorized: Mapping[str, CategorizedRegions], engine: InferenceEngine
) -> dict[str, TextManifest]:
    """Text for every text region of the run; one OCR stage over all regions without a text layer."""
    crops = [c for m in categorized.values() for c in m.text]
    layer = text_layer_texts(crops)
    pending = [c for i, c in enumerate(crops) if i not in layer]
    run = engine.run("ocr", pending)
    ocr_engine = run.metrics.backend or engine.spec("ocr").backend

    def convert(crop: Crop, out: OcrText) -> TextResult:
        return _result(crop, clean_text(out.text), "ocr", out.confidence, ocr_engine)

    collected = collect_crops("ocr", pending, run, convert)
    for i, text in sorted(layer.items()):
        crop = crops[i]
        collected.results[crop.region.partition].append(_result(crop, text, "text_layer", 1.0, TEXT_LAYER_ENGINE))
    return {
        key: TextManifest(
            key,
            tuple(sorted(collected.results_of(key), key=lambda r: (r.key.doc_id, r.key.page_no, r.key.index))),
            collected.failures_of(key),
            (run.metrics,),
        )
        for key in categorized
    }

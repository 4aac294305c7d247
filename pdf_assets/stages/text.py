"""Text of text regions: the PDF's text layer where it is usable, OCR where it is not."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import pymupdf

from pdf_assets.core.batching import StageRun
from pdf_assets.core.parallel import map_by_group
from pdf_assets.core.pdf import open_pdf
from pdf_assets.core.types import Crop, ItemFailure, OcrText, TextResult
from pdf_assets.stages.collect import collect_crops, combine_runs
from pdf_assets.stages.crops import cut_pending
from pdf_assets.stages.engine import ChainedProgress, InferenceEngine
from pdf_assets.stages.garbled import looks_garbled
from pdf_assets.stages.manifests import CategorizedRegions, TextManifest

logger = logging.getLogger(__name__)

TEXT_LAYER_ENGINE = "pymupdf.text_layer"
_WS = re.compile(r"[ \t]+")


def usable_text(text: str) -> bool:
    """A text layer is trusted when it has letters or digits, little replacement garbage and
    words shaped like a language.

    Scanned PDFs sometimes carry an invisible, broken OCR layer full of U+FFFD or private-use
    glyphs, and a font with a custom encoding extracts as mojibake ("]üìÜüéê •ìê"; see
    `stages.garbled`); those regions go to OCR instead.
    """
    stripped = text.strip()
    if not stripped or not any(ch.isalnum() for ch in stripped):
        return False
    bad = sum(1 for ch in stripped if ch == "\ufffd" or "\ue000" <= ch <= "\uf8ff")
    return bad / len(stripped) < 0.1 and not looks_garbled(stripped)


def clean_text(text: str) -> str:
    lines = (_WS.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


# Regions per worker job: large PDFs are split so every worker gets a share.
REGIONS_PER_JOB = 64
# Below this many regions the reads run inline: a worker round trip would cost more.
MIN_PARALLEL_REGIONS = 128


def read_text_layer(crops: list[Crop]) -> list[str | None]:
    """The text of some regions of one PDF (runs in a worker process; never raises: None
    for every region of a PDF that cannot be read, so they fall back to OCR).

    Each read re-parses the page within its clip (MuPDF has no cheaper exact way), about
    10-15 ms a region: a run's thousands of regions are spread over the worker processes.
    """
    pdf_path = crops[0].pdf_path
    try:
        with open_pdf(pdf_path) as doc:
            return [
                clean_text(
                    doc[c.region.key.page_no].get_text("text", clip=pymupdf.Rect(c.region.box.as_tuple()), sort=True)
                )
                for c in crops
            ]
    except Exception as exc:  # noqa: BLE001 - fall back to OCR for these regions
        logger.warning("text layer of %s unreadable (%s); using OCR", pdf_path, exc)
        return [None] * len(crops)


def text_layer_texts(crops: Sequence[Crop]) -> dict[int, str]:
    """Usable text-layer text per crop index, for crops on pages with a text layer."""
    layer = [i for i, crop in enumerate(crops) if crop.text_layer]
    texts = map_by_group(
        read_text_layer,
        [crops[i] for i in layer],
        lambda crop: crop.pdf_path,
        chunk=REGIONS_PER_JOB,
        inline_below=MIN_PARALLEL_REGIONS,
    )
    return {i: t for i, t in zip(layer, texts, strict=True) if t is not None and usable_text(t)}


def text_result(crop: Crop, text: str, source: str, confidence: float, engine: str) -> TextResult:
    """The text of a crop's region as the text stage (and the fallback for failed regions) stores it."""
    region = crop.region
    return TextResult(region.key, region.partition, region.label, text, source, confidence, engine)


def _read_and_ocr(
    crops: Sequence[Crop], engine: InferenceEngine
) -> tuple[dict[int, str], list[Crop], list[ItemFailure], StageRun[OcrText]]:
    """The usable text-layer texts, the crops OCR read, the crops that could not be cut, and
    the OCR run over them (aligned with the crops it read).

    The text layer is read on the worker processes while the OCR model already reads the
    regions of pages without one (their crops were cut in categorize): the CPU and the
    device work at once. Regions whose text layer turns out unusable are cut and read by a
    second, usually small, OCR run.
    """
    ready = [c for c in crops if not c.text_layer and c.cut]
    chain = ChainedProgress(engine.progress)  # one OCR bar over both runs
    ocr = chain.engine(engine)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ocr") as device:
        first: Future[StageRun[OcrText]] = device.submit(ocr.run, "ocr", ready)
        layer = text_layer_texts(crops)
        rest = [c for i, c in enumerate(crops) if i not in layer and (c.text_layer or not c.cut)]
        cut, cut_failures = cut_pending(rest)
        ready_run: StageRun[OcrText] = first.result()
    chain.finished(len(ready))
    late = [c for c in cut if c is not None]
    late_run: StageRun[OcrText] = ocr.run("ocr", late)
    runs = [r for r in (ready_run, late_run) if r.metrics.items] or [ready_run]
    return layer, ready + late, cut_failures, combine_runs("ocr", runs)


def extract_text(categorized: Mapping[str, CategorizedRegions], engine: InferenceEngine) -> dict[str, TextManifest]:
    """Text for every text region of the run: the text layer where usable, OCR elsewhere."""
    crops = [c for m in categorized.values() for c in m.text]
    layer, pending, cut_failures, run = _read_and_ocr(crops, engine)
    ocr_engine = run.metrics.backend or engine.spec("ocr").backend

    def convert(crop: Crop, out: OcrText) -> TextResult:
        return text_result(crop, clean_text(out.text), "ocr", out.confidence, ocr_engine)

    collected = collect_crops("ocr", pending, run, convert)
    for failure in cut_failures:
        collected.failures[failure.partition or ""].append(failure)
    for i, text in sorted(layer.items()):
        crop = crops[i]
        collected.results[crop.region.partition].append(text_result(crop, text, "text_layer", 1.0, TEXT_LAYER_ENGINE))
    return {
        key: TextManifest(
            key,
            tuple(sorted(collected.results_of(key), key=lambda r: (r.key.doc_id, r.key.page_no, r.key.index))),
            collected.failures_of(key),
            (run.metrics,),
        )
        for key in categorized
    }

"""The text stage reads the text layer while OCR already reads the pages without one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pdf_assets.backends.registry import clear_cache
from pdf_assets.core.batching import StageRun
from pdf_assets.core.config import ModelSpec
from pdf_assets.core.types import Box, Crop
from pdf_assets.stages.engine import InferenceEngine
from pdf_assets.stages.layout import categorize
from pdf_assets.stages.render import render_partitions
from pdf_assets.stages.text import extract_text
from tests.unit.test_no_silent_loss import PARAGRAPH_BOX, _born_digital, _layout, _scanned

EMPTY_BOX = Box(72, 700, 523, 780)  # a text region over blank paper: its text layer has no text
SCANNED_BOX = Box(0, 80, 595, 230)


@dataclass
class CountingEngine(InferenceEngine):
    ocr_calls: list[list[str]] = field(default_factory=list)

    def run(self, stage: str, items: Sequence[object]) -> StageRun[object]:  # type: ignore[override]
        if stage == "ocr":
            self.ocr_calls.append([c.region.key.doc_id for c in items if isinstance(c, Crop)])
        return super().run(stage, items)


@pytest.fixture(autouse=True)
def _fresh_models() -> None:
    clear_cache()


def test_ocr_reads_scanned_pages_first_and_unusable_text_layers_after(tmp_path: Path) -> None:
    folder = tmp_path / "inbox" / "part"
    folder.mkdir(parents=True)
    _born_digital(folder / "a-digital.pdf")
    _scanned(folder / "b-scanned.pdf")
    pages = render_partitions({"part": folder}, tmp_path / "pages", dpi=72, workers=1)["part"]
    digital, scanned = pages.pages
    layouts = _layout(digital, ("text", PARAGRAPH_BOX), ("text", EMPTY_BOX))
    layouts = type(layouts)("part", layouts.regions + _layout(scanned, ("text", SCANNED_BOX)).regions)
    categorized = categorize({"part": layouts}, {"part": pages}, tmp_path / "crops")

    engine = CountingEngine({"ocr": ModelSpec("ocr", backend="fake")}, progress=None)
    manifest = extract_text(categorized, engine)["part"]

    # First the scanned page's region (already cut), then the blank region of the digital page.
    assert engine.ocr_calls == [[scanned.doc_id], [digital.doc_id]]
    by_box = {(r.key.doc_id, r.key.index): r.source for r in manifest.results}
    assert by_box[(digital.doc_id, 0)] == "text_layer"
    assert by_box[(digital.doc_id, 1)] == "ocr" and by_box[(scanned.doc_id, 0)] == "ocr"
    (metrics,) = manifest.metrics
    assert (metrics.stage, metrics.items, metrics.backend) == ("ocr", 2, "fake.ocr")
    assert not manifest.failures

"""Replayed layout: real regions on pages, with the GPU layout model's full cost.

Random-weight layout models find no usable regions, so nothing downstream would get work.
In replay mode the regions come from the embedded (no-download) layout detector, run
beforehand on the same source PDFs and saved to a small JSON file that can travel to a
GPU machine. During the benchmark the hf layout model still decodes, uploads, runs its
forward and post-processes every page; only its (meaningless) detections are replaced by
the recorded ones. OCR, tables and figures then see the real number, kind and size of
regions.

File format (version 1): `{"version": 1, "detector": "...", "pages": {"<file name>#<page_no>":
[[label, x0, y0, x1, y1, score], ...]}}`, boxes in PDF points. Copies of a source (same
file name in other folders) share its entries.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

from pdf_assets.core.config import ModelSpec
from pdf_assets.core.model import BatchModel
from pdf_assets.core.types import Box, DetectedRegion, PageRef
from pdf_assets.stages.engine import InferenceEngine
from pdf_assets.stages.render import render_partitions

Model = BatchModel[object, object, object, object]
REPLAY_VERSION = 1


def page_id(page: PageRef) -> str:
    return f"{Path(page.pdf_path).name}#{page.page_no}"


def record_regions(sources: Sequence[Path], out: Path, workers: int | None = None) -> int:
    """Run the embedded layout detector over `sources` and save its regions to `out`."""
    work = Path(tempfile.mkdtemp(prefix="pdf-assets-replay-"))
    folder = work / "sources"
    folder.mkdir()
    for src in sources:
        (folder / src.name).write_bytes(src.read_bytes())
    pages = render_partitions({"sources": folder}, work / "pages", workers=workers)["sources"].pages
    engine = InferenceEngine(
        specs={"layout": ModelSpec(stage="layout", backend="embedded", device="cpu")}, progress=None
    )
    run = engine.run("layout", list(pages))
    table = {
        page_id(page): [[r.label, *r.box.as_tuple(), r.score] for r in (regions or [])]
        for page, regions in zip(pages, run.outputs, strict=True)
    }
    doc = {"version": REPLAY_VERSION, "detector": run.metrics.backend, "pages": table}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc))
    return len(table)


def load_regions(path: Path) -> dict[str, list[DetectedRegion]]:
    doc = json.loads(path.read_text())
    if doc.get("version") != REPLAY_VERSION:
        raise ValueError(f"{path}: replay file version {doc.get('version')!r}, expected {REPLAY_VERSION}")
    return {
        key: [DetectedRegion(str(label), Box(x0, y0, x1, y1), float(score)) for label, x0, y0, x1, y1, score in rows]
        for key, rows in doc["pages"].items()
    }


class ReplayedLayout(BatchModel[PageRef, object, object, list[DetectedRegion]]):
    """A layout replica that does all of its model's work but answers with recorded regions."""

    def __init__(self, model: Model, regions: dict[str, list[DetectedRegion]]) -> None:
        self.model = model
        self.regions = regions
        self.name = f"{model.name}+replay"
        self.device = model.device
        self.missing: set[str] = set()

    def __getattr__(self, name: str) -> object:
        # Memory hooks and anything else the runner asks of the wrapped replica.
        return getattr(self.model, name)

    def cost(self, item: PageRef) -> float:
        return self.model.cost(item)

    def preprocess(self, items: Sequence[PageRef]) -> object:
        return self.model.preprocess(items)

    def forward(self, batch: object) -> object:
        return self.model.forward(batch)

    def postprocess(self, raw: object, items: Sequence[PageRef]) -> list[list[DetectedRegion]]:
        self.model.postprocess(raw, items)  # its real CPU cost; the detections are noise
        out = []
        for page in items:
            key = page_id(page)
            if key not in self.regions:
                self.missing.add(key)
            out.append(list(self.regions.get(key, [])))
        return out

    def is_out_of_memory(self, exc: BaseException) -> bool:
        return self.model.is_out_of_memory(exc)

    def free_memory(self) -> None:
        self.model.free_memory()

    def reset_peak_memory(self) -> None:
        self.model.reset_peak_memory()

    def peak_memory_bytes(self) -> int:
        return self.model.peak_memory_bytes()

"""Full pipeline throughput with the transformers backends (a script, not a test).

Runs every stage over folders of PDFs (e.g. the shared corpus and the generated samples)
exactly as the Dagster job does, stage by stage, without an orchestrator. With
`--reference` the four hf models are built at their real sizes from configs with random
weights (nothing is downloaded): the values are meaningless, the timings are not.

    python -m benchmarks.pipeline --reference --device cuda:0 --inputs corpus/ samples/
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from pdf_assets.backends.registry import load_models, register_models
from pdf_assets.core.config import STAGES, BatchPolicy, ModelSpec
from pdf_assets.core.folders import partition_key_for
from pdf_assets.core.types import DetectedRegion
from pdf_assets.samples import write_samples
from pdf_assets.stages.engine import InferenceEngine
from pdf_assets.stages.pipeline import run_pipeline

DEFAULT_BATCH = {"layout": 32, "ocr": 256, "tables": 32, "figures": 16}


def build_engine(args: argparse.Namespace) -> InferenceEngine:
    """hf on every stage; reference-size random models are registered under the same specs."""
    specs = {
        s: ModelSpec(
            stage=s, backend="hf", device=args.device, dtype=args.dtype, options=_options(s, args.layout_threshold)
        )
        for s in STAGES
    }
    if args.reference:
        from pdf_assets.backends.devices import resolve_devices
        from pdf_assets.backends.hf.reference import build_reference_model

        for stage, spec in specs.items():
            models = [build_reference_model(stage, d, args.dtype) for d in resolve_devices(args.device)]
            if stage == "layout":
                for model in models:
                    model.threshold = args.layout_threshold  # type: ignore[attr-defined]
                    model.nms_iou = args.layout_nms_iou  # type: ignore[attr-defined]
                if args.cycle_labels:
                    models = [CycledLabels(m) for m in models]  # type: ignore[misc]
            register_models(spec, models)
    else:
        for spec in specs.values():
            load_models(spec)
    policies = {s: BatchPolicy(batch_size=DEFAULT_BATCH[s]) for s in STAGES}
    return InferenceEngine(specs=specs, policies=policies, progress=None)


class CycledLabels:
    """Wraps a random-weight layout model and relabels its regions text, table, figure in turn.

    Random weights do not tell a table from a figure, so without this every downstream stage
    but OCR would see no items; the boxes and the work per region are the model's own.
    """

    CYCLE = ("text", "table", "figure")

    def __init__(self, model: object) -> None:
        self._model = model

    def __getattr__(self, name: str) -> object:
        return getattr(self._model, name)

    def run(self, items: list[object]) -> list[object]:
        return self.postprocess(self.forward(self.preprocess(items)), items)

    def postprocess(self, raw: object, items: list[object]) -> list[list[DetectedRegion]]:
        pages = self._model.postprocess(raw, items)  # type: ignore[attr-defined]
        return [[replace(r, label=self.CYCLE[i % len(self.CYCLE)]) for i, r in enumerate(regions)] for regions in pages]


def _options(stage: str, layout_threshold: float) -> tuple[tuple[str, str], ...]:
    # Random table weights find no words on image-only pages anyway; skip the CPU OCR there.
    if stage == "tables":
        return (("ocr", "none"),)
    # Random layout weights score every class near 1/13: a low threshold makes them emit regions.
    return (("threshold", str(layout_threshold)),) if stage == "layout" else ()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.pipeline", description=__doc__.splitlines()[0])
    p.add_argument("--inputs", nargs="*", type=Path, default=[], help="folders of PDFs (one partition each)")
    p.add_argument("--samples", action="store_true", help="add the generated sample PDFs as a partition")
    p.add_argument("--reference", action="store_true", help="reference-size random models (no downloads)")
    p.add_argument("--device", default="auto")
    p.add_argument("--dtype", default="fp16", choices=("auto", "fp32", "fp16", "bf16"))
    p.add_argument("--layout-threshold", type=float, default=0.5, help="layout score threshold")
    p.add_argument("--layout-nms-iou", type=float, default=0.5, help="1 disables NMS")
    p.add_argument("--cycle-labels", action="store_true", help="relabel random layout regions text/table/figure")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="pdf-assets-bench-"))
    folders = {partition_key_for(f.name) or f.name: f.resolve() for f in args.inputs}
    if args.samples:
        folders["samples"] = write_samples(work / "samples")[0].parent
    engine = build_engine(args)
    started = time.perf_counter()
    out = run_pipeline(folders, work / "data", engine)
    total = time.perf_counter() - started
    pages = sum(len(m.pages) for m in out.pages.values())
    metrics = [
        m.metrics[0]
        for group in (out.pages, out.layouts, out.texts, out.tables, out.figures)
        for m in list(group.values())[:1]
    ]
    rows = [m.as_dict() for m in metrics]
    print(f"pages: {pages}  wall: {total:.1f} s  pages/s: {pages / total:.2f}")
    print("| stage | backend | device | items | batches | max batch | items/s | seconds | failures |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['stage']} | {r['backend']} | {r['device']} | {r['items']} | {r['batches']} "
            f"| {r['max_batch_size']} | {r['items_per_s']} | {r['seconds']} | {r['failures']} |"
        )
    if args.json:
        args.json.write_text(json.dumps({"pages": pages, "seconds": total, "stages": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

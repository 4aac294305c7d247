"""End-to-end throughput: the whole pipeline over a documented mix of real PDFs (a script).

`prepare` builds the source PDFs of both mixes and records replayed regions for them with
the embedded detector (CPU, no downloads; see `replay.py`). `run` copies the sources into
folders until N pages (see `mixes.py`), then times every step of the real pipeline, render
to database write, and prints pages/s, each step's seconds and share of the wall time, the
GPU's busy share, host peak RSS and device peak memory, as Markdown and JSON. It also
times, in the same process: each model stage alone over the same items ("model-only"), a
page-by-page baseline (every model at batch 1, no prefetch) against the batched pipeline on
the same pages, the Dagster job in process (`--dagster`), and variants of the settings
whose outputs must not change (`--variants`).

    python -m benchmarks.end_to_end prepare --out .bench/e2e --corpus ../shared/corpus/pdfs
    python -m benchmarks.end_to_end run --prepared .bench/e2e --mix born-digital --pages 1000 \\
        --reference --device cuda:0 --baseline-pages 70 --sizes 200,2000 --json out.json --md out.md
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.e2e_report import markdown
from benchmarks.e2e_support import RecordingEngine, Sampler, StageCall, model_only_seconds, output_digest
from benchmarks.mixes import Mix, born_digital_sources, build_mix, scanned_sources
from benchmarks.replay import ReplayedLayout, load_regions, record_regions
from pdf_assets.backends.registry import register_models
from pdf_assets.core.config import STAGES, BatchPolicy, ModelSpec
from pdf_assets.stages.pipeline import build_bundle, run_pipeline

MIXES = ("born-digital", "scanned")
BATCH = {"layout": 64, "ocr": 512, "tables": 64, "figures": 128}


def prepare(out: Path, corpus: Path | None) -> None:
    """Source PDFs of both mixes plus their replayed regions, ready to carry elsewhere."""
    work = Path(tempfile.mkdtemp(prefix="pdf-assets-prepare-"))
    for mix, sources in (("born-digital", born_digital_sources(corpus, work)), ("scanned", scanned_sources(work))):
        folder = out / mix
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for src in sources:
            shutil.copy2(src, folder / src.name)
        pages = record_regions(sorted(folder.glob("*.pdf")), out / f"{mix}.regions.json")
        print(f"{mix}: {len(sources)} PDFs, {pages} pages with replayed regions")


def specs_for(args: argparse.Namespace) -> dict[str, ModelSpec]:
    # Table cells come from the text layer; image-only tables would need the CPU OCR.
    options = {"tables": (("ocr", "none"),)} if args.backend == "hf" else {}
    if args.backend == "fake":  # simulated device time, to check overlap where no GPU is at hand
        options = {stage: (("sleep_item_ms", str(ms)),) for stage, ms in args.fake_item_ms.items()}
    return {
        s: ModelSpec(stage=s, backend=args.backend, device=args.device, dtype=args.dtype, options=options.get(s, ()))
        for s in STAGES
    }


def build_engine(args: argparse.Namespace, batch: dict[str, int] | None = None, prefetch: int = 3) -> RecordingEngine:
    sizes = batch or {**BATCH, **args.batch_size}
    policies = {s: BatchPolicy(batch_size=sizes[s], prefetch=prefetch) for s in STAGES}
    return RecordingEngine(specs=specs_for(args), policies=policies, progress=None)


def register_reference(args: argparse.Namespace, regions_file: Path | None) -> None:
    """Reference-size random models under the run's specs; layout answers with replayed regions."""
    from pdf_assets.backends.hf.reference import build_reference_model

    regions = load_regions(regions_file) if regions_file else None
    for stage, spec in specs_for(args).items():
        model = build_reference_model(stage, args.device, args.dtype)
        if stage == "layout" and regions is not None:
            model = ReplayedLayout(model, regions)  # type: ignore[assignment]
        register_models(spec, [model])


def device_peak(device: str, reset: bool = False) -> int:
    if not device.startswith("cuda"):
        return 0
    import torch

    if reset:
        torch.cuda.reset_peak_memory_stats(device)
        return 0
    return int(torch.cuda.max_memory_allocated(device))


def measure(
    mix: Mix,
    engine: RecordingEngine,
    args: argparse.Namespace,
    work: Path,
    model_only: bool = False,
    stream: bool = True,
) -> dict[str, object]:
    """One timed run of the plain pipeline, render to database write (then, optionally, each
    model stage alone over the same items, while their page images and crops still exist).
    `stream`: layout overlaps rendering, as the pipeline runs by default."""
    from pdf_assets.storage.db import init_db, make_engine, session_scope
    from pdf_assets.storage.repository import replace_partitions

    data = work / f"data-{time.monotonic_ns()}"
    db = make_engine(f"sqlite:///{data / 'pdf_assets.db'}")
    init_db(db)
    engine.calls.clear()
    device_peak(args.device, reset=True)
    started = time.perf_counter()
    with Sampler(args.device) as sampler:
        out = run_pipeline(mix.folders, data, engine, stream_layout=stream)
        t0 = time.perf_counter()
        with session_scope(db) as session:
            rows = replace_partitions(session, build_bundle(out))
        out.seconds["db_rows"] = time.perf_counter() - t0
    wall = time.perf_counter() - started
    pages = sum(len(m.pages) for m in out.pages.values())
    calls = list(engine.calls)  # the model-only runs below add their own calls
    only = model_only_seconds(engine, calls) if model_only else {}
    shutil.rmtree(data, ignore_errors=True)
    return {
        "mix": mix.name,
        "pages": pages,
        "stream_layout": stream,
        "wall_s": round(wall, 3),
        "pages_per_s": round(pages / wall, 2),
        "steps_s": {k: round(v, 3) for k, v in out.seconds.items()},
        "steps_share": {k: round(v / wall, 3) for k, v in out.seconds.items()},
        "stage_items": _per_stage(calls, lambda c: len(c.items)),
        "stage_s": {k: round(v, 3) for k, v in _per_stage(calls, lambda c: c.seconds).items()},
        "stage_calls": _per_stage(calls, lambda c: 1),
        "gpu_busy_share": None if sampler.gpu_busy_share is None else round(sampler.gpu_busy_share, 3),
        "host_rss_start_mib": round(sampler.rss_start / 2**20, 1),
        "host_rss_peak_mib": round(sampler.rss_peak / 2**20, 1),
        "host_rss_with_workers_peak_mib": round(sampler.rss_all_peak / 2**20, 1),
        "device_peak_mib": round(device_peak(args.device) / 2**20, 1),
        "rows": rows,
        "digest": output_digest(out),
        "model_only_s": {k: round(v, 3) for k, v in only.items()},
        "wall_over_model_only": round(wall / sum(only.values()), 3) if only else None,
    }


def _per_stage(calls: Sequence[StageCall], value: Callable[[StageCall], float]) -> dict[str, Any]:
    """A value summed over each stage's calls (layout runs in several chunks when streamed)."""
    out: dict[str, Any] = {}
    for call in calls:
        out[call.stage] = out.get(call.stage, 0) + value(call)
    return out


def run_dagster(mix: Mix, args: argparse.Namespace, work: Path) -> dict[str, object]:
    """The same folders through the Dagster job, in process (models come from the same cache)."""
    from dagster import DagsterInstance

    from pdf_assets.defs.automation import RANGE_END, RANGE_START
    from pdf_assets.defs.definitions import build_definitions
    from pdf_assets.defs.jobs import pdf_job
    from pdf_assets.defs.partitions import PARTITIONS_NAME
    from pdf_assets.defs.resources import PdfAssetsResource, StageConfig

    specs = specs_for(args)
    batch_size = {**BATCH, **args.batch_size}
    stages = {
        s: StageConfig(backend=args.backend, device=args.device, dtype=args.dtype, batch_size=batch_size[s], prefetch=3,
                       options=dict(specs[s].options))
        for s in STAGES
    }  # fmt: skip
    data = work / "dagster-data"
    resource = PdfAssetsResource(
        data_dir=str(data), db_url=f"sqlite:///{data / 'pdf_assets.db'}",
        folder_paths={k: str(v) for k, v in mix.folders.items()}, **stages,
    )  # fmt: skip
    instance = DagsterInstance.ephemeral()
    keys = sorted(mix.folders)
    instance.add_dynamic_partitions(PARTITIONS_NAME, keys)
    job = build_definitions(resource).resolve_job_def(pdf_job.name)
    started = time.perf_counter()
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    tags = {RANGE_START: keys[0], RANGE_END: keys[-1]}
    result = job.execute_in_process(instance=instance, tags=tags, run_config=quiet, raise_on_error=False)
    wall = time.perf_counter() - started
    return {
        "pages": mix.pages,
        "wall_s": round(wall, 3),
        "pages_per_s": round(mix.pages / wall, 2),
        "success": result.success,
    }


def apply_variant(name: str) -> None:
    """Settings that must not change outputs, switched on the loaded models: `default`
    (a repeat of the main run), `no-buckets` (batches padded only to their largest page),
    `no-autotune` and `autotune` (cuDNN's benchmark mode off / on). (`no-stream`, render
    then layout one after the other, is a setting of the run: see `variants`.)"""
    import torch

    from pdf_assets.backends.hf.detection import PAD_MULTIPLE, ShapeBuckets
    from pdf_assets.backends.registry import _CACHE
    from pdf_assets.backends.torch_base import cudnn_autotune_enabled

    torch.backends.cudnn.benchmark = {"no-autotune": False, "autotune": True}.get(name, cudnn_autotune_enabled())
    for models in _CACHE.values():
        for model in models:
            detector = getattr(getattr(model, "model", model), "detector", None) or getattr(model, "detector", None)
            if detector is not None:
                multiple = 0 if name == "no-buckets" else PAD_MULTIPLE
                detector.buckets = ShapeBuckets.for_processor(detector.processor, multiple)


def environment(device: str) -> dict[str, object]:
    import os
    import platform

    import pymupdf

    env: dict[str, object] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "pymupdf": pymupdf.__version__,
    }
    try:
        import torch
        import transformers

        env.update(torch=torch.__version__, transformers=transformers.__version__)
        if device.startswith("cuda"):
            env["gpu"] = torch.cuda.get_device_name(device)
    except ImportError:
        pass
    return env


def _touch(job: int) -> int:
    """A no-op worker job that pays the render module's imports, as a real first job would."""
    import pdf_assets.stages.render  # noqa: F401

    return job


def warm_workers() -> None:
    """Start every worker process before timing, like loading the models: the warm-up mix has
    too few PDFs to start them all, and the first timed run would pay the rest (about a second
    each; the scanned mix's render step took 4.6 s instead of 1.8 s)."""
    from pdf_assets.core.parallel import default_workers, killable_map, process_map

    jobs = list(range(default_workers()))
    list(killable_map(_touch, jobs, 120.0, lambda job, _message, _timed_out: job))
    list(process_map(_touch, jobs))


def run(args: argparse.Namespace) -> dict[str, object]:
    prepared: Path = args.prepared
    sources = sorted((prepared / args.mix).glob("*.pdf"))
    regions = prepared / f"{args.mix}.regions.json"
    if args.reference:
        register_reference(args, regions if args.replay else None)
    work = Path(tempfile.mkdtemp(prefix="pdf-assets-e2e-"))
    engine = build_engine(args)
    measure(build_mix(args.mix, sources[:3], 1, work / "warmup"), engine, args, work)  # load models, CUDA init
    warm_workers()
    report: dict[str, object] = {"args": {k: str(v) for k, v in vars(args).items()}, "env": environment(args.device)}
    main = build_mix(args.mix, sources, args.pages, work / "main")
    result = measure(main, engine, args, work, model_only=args.model_only)
    report["main"] = _emit("main", result)
    report["sizes"] = [_emit(f"size {n}", _sized(n, sources, engine, args, work)) for n in args.sizes]
    if args.variants:
        report["variants"] = [_emit(f"variant {v['variant']}", v) for v in variants(args, main, engine, work, result)]
    if args.baseline_pages:
        report["baseline"] = _emit("baseline", baseline(args, sources, engine, work))
    if args.dagster:
        report["dagster"] = _emit("dagster", run_dagster(main, args, work))
    return report


def _emit(label: str, result: dict[str, object]) -> dict[str, object]:
    """Print each measurement as it completes (one JSON line), so a run cut short still tells."""
    brief = {k: v for k, v in result.items() if k not in ("digest", "rows", "batched", "page_by_page")}
    print(f"# {label}: {json.dumps(brief)}", file=sys.stderr, flush=True)
    return result


def _sized(
    pages: int, sources: list[Path], engine: RecordingEngine, args: argparse.Namespace, work: Path
) -> dict[str, object]:
    return measure(build_mix(args.mix, sources, pages, work / f"size-{pages}"), engine, args, work)


def baseline(args: argparse.Namespace, sources: list[Path], engine: RecordingEngine, work: Path) -> dict[str, object]:
    """Batched vs page-by-page (batch 1, no prefetch, no overlap of render and layout) on the
    same pages, one after the other."""
    mix = build_mix(args.mix, sources, args.baseline_pages, work / "baseline")
    batched = measure(mix, engine, args, work)
    single = measure(mix, build_engine(args, {s: 1 for s in STAGES}, prefetch=0), args, work, stream=False)
    return {
        "batched": batched,
        "page_by_page": single,
        "ratio": round(float(single["wall_s"]) / float(batched["wall_s"]), 2),
    }  # type: ignore[arg-type]


def variants(
    args: argparse.Namespace, mix: Mix, engine: RecordingEngine, work: Path, ref: dict[str, object]
) -> list[dict[str, object]]:
    out = []
    for name in args.variants:
        apply_variant(name)
        result = measure(mix, engine, args, work, stream=name != "no-stream")
        result["variant"] = name
        result["same_outputs_as_main"] = result["digest"] == ref["digest"]
        out.append(result)
    apply_variant("default")
    return out


def _sizes(text: str) -> dict[str, int]:
    pairs = (item.split("=", 1) for item in text.split(",") if item)
    return {stage: int(size) for stage, size in pairs}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.end_to_end", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="source PDFs and replayed regions of both mixes")
    prep.add_argument("--out", type=Path, default=Path(".bench/e2e"))
    prep.add_argument("--corpus", type=Path, default=Path("../shared/corpus/pdfs"))
    r = sub.add_parser("run", help="time the pipeline over a mix")
    r.add_argument("--prepared", type=Path, default=Path(".bench/e2e"))
    r.add_argument("--mix", choices=MIXES, default="born-digital")
    r.add_argument("--pages", type=int, default=1000)
    r.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",") if x], default=[])
    r.add_argument("--backend", default="hf", choices=("hf", "embedded", "fake"))
    r.add_argument("--reference", action="store_true", help="reference-size random hf models (no downloads)")
    r.add_argument("--no-replay", dest="replay", action="store_false", help="use the layout model's own regions")
    r.add_argument("--device", default="cuda:0")
    r.add_argument("--dtype", default="fp16")
    r.add_argument("--batch-size", type=_sizes, default={}, help="per-stage batch sizes, e.g. ocr=512")
    r.add_argument(
        "--fake-item-ms", type=_sizes, default={}, help="fake backend: simulated device ms per item, e.g. layout=20"
    )
    r.add_argument("--baseline-pages", type=int, default=0)
    r.add_argument("--model-only", action="store_true")
    r.add_argument("--variants", type=lambda s: [x for x in s.split(",") if x], default=[])
    r.add_argument("--dagster", action="store_true")
    r.add_argument("--json", type=Path)
    r.add_argument("--md", type=Path)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.command == "prepare":
        corpus = args.corpus if args.corpus.is_dir() else None
        prepare(args.out, corpus)
        return 0
    report = run(args)
    text = markdown(report)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    if args.md:
        args.md.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

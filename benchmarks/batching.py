"""Batching benchmark: page-by-page vs batched throughput per stage, in one process.

For each stage it builds the stage's model replicas, builds synthetic but realistically
sized items (a generated PDF rendered at 150 dpi: pages of ~1240x1754 px, text-line crops
of ~600x48, table crops of ~900x500, figure crops of ~800x560), warms up, then runs the
same items at batch size 1 and at the stage's batch size through the batch runner and
prints items/s and the speed-up as a Markdown table.

    python -m benchmarks.batching --backend fake --items 64
    python -m benchmarks.batching --backend embedded --stages layout,ocr --items 12
    python -m benchmarks.batching --backend hf --reference --devices cuda:0 cuda:all \\
        --batch-size layout=32,ocr=128,tables=16,figures=16 --oom-demo --oom-items 2048 --json out.json

`--oom-demo` reruns each stage with a batch size far too large for the device and shows the
runner finishing anyway (halving on out-of-memory) with outputs equal to the normal run. On
the fake backend the device limit is simulated (`oom_above` = the normal batch size).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import io
import itertools
import json
import logging
import random
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pymupdf
from PIL import Image, ImageDraw, ImageFont

from pdf_assets.backends.registry import clear_cache, load_models
from pdf_assets.core.batching import StageRun, run_batched
from pdf_assets.core.config import STAGES, BatchPolicy, ModelSpec
from pdf_assets.core.memory_budget import clear_fitted
from pdf_assets.core.model import BatchModel
from pdf_assets.core.types import Box, Crop, PageRef, Region, RegionKey, kind_of_label

DPI = 150
PX_PER_PT = DPI / 72
A4 = (595.0, 842.0)
DEFAULT_BATCH = "layout=32,ocr=128,tables=16,figures=16"
DEFAULT_OOM_BATCH = "layout=4096,ocr=16384,tables=4096,figures=4096"
#: simulated device time for the fake backend: per batch and per item (ms)
FAKE_DEVICE_TIME = (("sleep_item_ms", "1"), ("sleep_ms", "4"))
WORDS = ("batch", "device", "layout", "region", "table", "figure", "stage", "page", "model", "memory",
         "quarter", "revenue", "growth", "report", "result", "sample", "value", "index", "total", "share")  # fmt: skip

Model = BatchModel[object, object, object, object]
Item = PageRef | Crop


@dataclass
class Synthetic:
    """Rendered pages and the crops cut from them, per stage."""

    pages: list[PageRef]
    crops: dict[str, list[Crop]]

    def items(self, stage: str, n: int) -> list[Item]:
        """`n` items of a stage, cycling over the distinct ones that were rendered."""
        pool: Sequence[Item] = self.pages if stage == "layout" else self.crops[stage]
        return list(itertools.islice(itertools.cycle(pool), n))


def chart_png(rng: random.Random, size: tuple[int, int] = (800, 560)) -> bytes:
    """A bar chart as a raster image, as figures come in scanned and exported reports."""
    w, h = size
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=20)
    left, bottom, top = 80, h - 60, 50
    draw.line([(left, top), (left, bottom), (w - 20, bottom)], fill="black", width=2)
    values = [rng.randint(5, 50) for _ in range(5)]
    bar = (w - left - 40) // len(values)
    for i, value in enumerate(values):
        x = left + 20 + i * bar
        y = bottom - int((bottom - top) * value / max(values))
        draw.rectangle([x, y, x + bar - 30, bottom], fill=(60, 110, 200))
        draw.text((x + 4, bottom + 12), f"Q{i + 1}", fill="black", font=font)
        draw.text((x + 4, y - 26), str(value), fill="black", font=font)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def draw_page(page: pymupdf.Page, rng: random.Random) -> list[tuple[str, Box]]:
    """A title, eight text lines, a ruled 8x4 table and a chart; returns the regions in points."""
    regions: list[tuple[str, Box]] = []
    page.insert_text((72, 78), f"Quarterly report {page.number + 1}", fontsize=20, fontname="hebo")
    regions.append(("title", Box(68, 56, 400, 86)))
    for i in range(8):
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 8))).capitalize()
        y = 120 + i * 24
        page.insert_text((72, y), line, fontsize=13, fontname="helv")
        width = pymupdf.get_text_length(line, fontname="helv", fontsize=13)
        regions.append(("text", Box(68, y - 16, 76 + width, y + 7)))
    x0, y0, col_w, row_h = 72.0, 318.0, 108.0, 30.0
    for r, c in itertools.product(range(8), range(4)):
        cell = pymupdf.Rect(x0 + c * col_w, y0 + r * row_h, x0 + (c + 1) * col_w, y0 + (r + 1) * row_h)
        page.draw_rect(cell, color=(0, 0, 0), width=0.8)
        text = ("Region", "Q1", "Q2", "Q3")[c] if r == 0 else (f"Area {r}" if c == 0 else str(rng.randint(10, 999)))
        page.insert_text((cell.x0 + 6, cell.y1 - 10), text, fontsize=11, fontname="hebo" if r == 0 else "helv")
    regions.append(("table", Box(x0 - 2, y0 - 2, x0 + 4 * col_w + 2, y0 + 8 * row_h + 2)))
    figure = pymupdf.Rect(72, 570, 456, 839)
    page.insert_image(figure, stream=chart_png(rng))
    regions.append(("figure", Box(figure.x0, figure.y0, figure.x1, figure.y1)))
    return regions


def build_synthetic(folder: Path, n_pages: int, scanned: bool) -> Synthetic:
    """Write a PDF, render its pages and cut the region crops, all under `folder`."""
    pdf_path = folder / "synthetic.pdf"
    doc = pymupdf.open()
    layout: list[list[tuple[str, Box]]] = []
    for n in range(n_pages):
        layout.append(draw_page(doc.new_page(width=A4[0], height=A4[1]), random.Random(n)))
    doc.save(pdf_path)
    doc_id = hashlib.sha256(pdf_path.read_bytes()).hexdigest()
    pages: list[PageRef] = []
    crops: dict[str, list[Crop]] = {"ocr": [], "tables": [], "figures": []}
    bucket = {"text": "ocr", "title": "ocr", "table": "tables", "figure": "figures"}
    for page_no in range(doc.page_count):
        page = doc[page_no]
        image_path = folder / f"page-{page_no:04d}.png"
        page.get_pixmap(dpi=DPI).save(image_path)
        text_chars = 0 if scanned else len(page.get_text())
        pages.append(PageRef(doc_id, "bench", str(pdf_path), page_no, A4[0], A4[1], str(image_path),
                             PX_PER_PT, text_chars))  # fmt: skip
        with Image.open(image_path) as image:
            for index, (label, box) in enumerate(layout[page_no]):
                region = Region(RegionKey(doc_id, page_no, index), "bench", label, kind_of_label(label), box, 1.0)
                crops[bucket[label]].append(cut(image, region, str(pdf_path), folder, not scanned))
    doc.close()
    return Synthetic(pages=pages, crops=crops)


def cut(image: Image.Image, region: Region, pdf_path: str, folder: Path, text_layer: bool) -> Crop:
    px = region.box.scaled(PX_PER_PT).clipped(image.width, image.height)
    piece = image.crop((round(px.x0), round(px.y0), round(px.x1), round(px.y1)))
    path = folder / f"crop-{region.key.slug()}.png"
    piece.save(path)
    return Crop(region, pdf_path, str(path), PX_PER_PT, piece.width, piece.height, text_layer)


def per_stage(text: str, what: str) -> dict[str, str]:
    """Parse `layout=32,ocr=128` into {"layout": "32", "ocr": "128"}."""
    out: dict[str, str] = {}
    for part in filter(None, text.split(",")):
        stage, sep, value = part.partition("=")
        if not sep or stage not in STAGES:
            raise SystemExit(f"--{what}: expected stage=value with stage in {STAGES}, got {part!r}")
        out[stage] = value
    return out


def build_models(args: argparse.Namespace, stage: str, device: str, oom_demo: bool = False) -> list[Model]:
    """The stage's replicas on `device`: the reference hf builder, or the model registry."""
    if args.reference:
        # Imported here: the reference builders pull in torch and transformers.
        from pdf_assets.backends.devices import resolve_devices
        from pdf_assets.backends.hf.reference import build_reference_model

        devices = resolve_devices(device)
        if len(devices) > 1 or args.process_replicas:
            from pdf_assets.backends.process_replica import ProcessReplica, replica_cpu_threads

            threads = replica_cpu_threads(len(devices))
            return [ProcessReplica(partial(build_reference_model, stage, d, args.dtype), threads) for d in devices]  # type: ignore[misc]
        return [build_reference_model(stage, d, args.dtype) for d in devices]
    options = dict(args.option)
    if args.backend == "fake":
        options = {**dict(FAKE_DEVICE_TIME), **options}
        if oom_demo:
            options["oom_above"] = str(args.batch[stage])
    model, _, revision = args.model.get(stage, "").partition("@")
    spec = ModelSpec(stage=stage, backend=args.backend, model=model or None, revision=revision or None,
                     device=device, dtype=args.dtype, options=tuple(sorted(options.items())))  # fmt: skip
    return load_models(spec)


def release_models() -> None:
    """Drop loaded replicas so the next configuration starts from free device memory."""
    clear_cache()
    clear_fitted()
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def timed(stage: str, models: list[Model], items: list[Item], batch: int, prefetch: int) -> StageRun[object]:
    """One measured run; the runner's own wall clock (`metrics.seconds`) is the number reported."""
    return run_batched(stage, models, items, BatchPolicy(batch_size=batch, prefetch=prefetch))


def bench_stage(args: argparse.Namespace, stage: str, device: str, items: list[Item]) -> list[dict[str, object]]:
    """Warm up, then page-by-page and batched on the same items; optionally the OOM demo."""
    models = build_models(args, stage, device)
    batch = args.batch[stage]
    warm = items[: max(1, args.warmup)]
    run_batched(stage, models, warm, BatchPolicy(batch_size=1))
    # Two full batches per replica: each GPU autotunes its kernels before the timed runs.
    run_batched(stage, models, items[: max(1, min(2 * batch * len(models), len(items)))], BatchPolicy(batch_size=batch))
    single = timed(stage, models, items, 1, args.prefetch) if args.page_by_page else None
    worker_timings(models)  # reset: report the batched run's alone
    batched = timed(stage, models, items, batch, args.prefetch)
    report_worker_timings(stage, models)
    m = batched.metrics
    base = single.metrics.items_per_s if single is not None else 0.0
    rows: list[dict[str, object]] = [{
        "kind": "throughput", "stage": stage, "backend": m.backend, "device": m.device, "items": len(items),
        "batch": batch, "page_by_page_items_s": round(base, 2),
        "batched_items_s": round(m.items_per_s, 2),
        "speedup": round(m.items_per_s / base, 2) if base else 0.0,
        "batches": m.batches, "oom_retries": m.oom_retries, "failures": m.failures,
        "peak_mib": round(m.peak_memory_bytes / 2**20, 1),
        "same_outputs": single.outputs == batched.outputs if single is not None else "-",
    }]  # fmt: skip
    if args.oom_demo:
        rows.append(oom_demo(args, stage, device, models, items, batched))
    for model in models:
        getattr(model, "close", lambda: None)()  # replica worker processes
    release_models()
    return rows


def worker_timings(models: list[Model]) -> list[dict[str, float]]:
    """Per-phase seconds of each replica worker process since the last call (none in-process)."""
    return [model.worker_timings() for model in models if hasattr(model, "worker_timings")]


def report_worker_timings(stage: str, models: list[Model]) -> None:
    """Where each worker's time went in the batched run: hand-off, waiting, device work."""
    for model, timings in zip(models, worker_timings(models), strict=False):
        phases = ", ".join(f"{k} {v:.3f}" for k, v in timings.items())
        print(f"worker {stage} on {model.device}: {phases}", file=sys.stderr)


def oom_demo(
    args: argparse.Namespace,
    stage: str,
    device: str,
    models: list[Model],
    items: list[Item],
    normal: StageRun[object],
) -> dict[str, object]:
    """A batch far too large for the device: it must finish, with the normal run's outputs."""
    if args.backend == "fake" and not args.reference:
        models = build_models(args, stage, device, oom_demo=True)
    forced = args.oom_batch[stage]
    demo_items = items if args.oom_items is None else list(itertools.islice(itertools.cycle(items), args.oom_items))
    run = timed(stage, models, demo_items, forced, args.prefetch)
    reference = normal.outputs if demo_items == items else timed(stage, models, demo_items, args.batch[stage],
                                                                 args.prefetch).outputs  # fmt: skip
    sizes = run.metrics.batch_sizes
    return {
        "kind": "oom_demo", "stage": stage, "backend": run.metrics.backend, "device": run.metrics.device,
        "items": len(demo_items), "forced_batch": forced, "first_batch": min(forced, len(demo_items)),
        "oom_retries": run.metrics.oom_retries, "sizes_used": f"{min(sizes, default=0)}..{max(sizes, default=0)}",
        "failures": run.metrics.failures, "items_s": round(run.metrics.items_per_s, 2),
        "same_outputs": run.outputs == reference,
    }  # fmt: skip


def markdown(rows: list[dict[str, object]]) -> str:
    if not rows:
        return ""
    keys = [k for k in rows[0] if k != "kind"]
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(row[k]) for k in keys) + " |" for row in rows]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.batching", description=__doc__.split("\n\n")[0])
    p.add_argument("--stages", default=",".join(STAGES), help="comma-separated subset of %(default)s")
    p.add_argument("--backend", choices=("fake", "embedded", "hf"), default="fake")
    p.add_argument("--reference", action="store_true", help="hf only: models from backends.hf.reference")
    p.add_argument("--items", type=int, default=32, help="items per stage (default %(default)s)")
    p.add_argument("--pages", type=int, default=8, help="distinct synthetic pages; items cycle over them")
    p.add_argument("--batch-size", default=DEFAULT_BATCH, help="per stage (default %(default)s)")
    p.add_argument("--devices", nargs="+", default=["auto"], help="e.g. cuda:0 cuda:all (default auto)")
    p.add_argument("--dtype", default="auto", choices=("auto", "fp32", "fp16", "bf16"))
    p.add_argument("--model", action="append", default=[], help="stage=ID[@REVISION] (registry backends)")
    p.add_argument("--option", action="append", default=[], help="KEY=VALUE backend option, repeatable")
    p.add_argument("--prefetch", type=int, default=2, help="batches preprocessed ahead (default %(default)s)")
    p.add_argument("--warmup", type=int, default=4, help="warm-up items at batch 1 (default %(default)s)")
    p.add_argument("--scanned", action="store_true", help="pages without a text layer (image path)")
    p.add_argument("--no-page-by-page", dest="page_by_page", action="store_false",
                   help="skip the batch-1 run (scaling studies across devices)")  # fmt: skip
    p.add_argument("--process-replicas", action="store_true",
                   help="--reference: run even a single device in a worker process, as cuda:all does")  # fmt: skip
    p.add_argument("--oom-demo", action="store_true", help="also run with a batch far too large")
    p.add_argument("--oom-batch-size", default=DEFAULT_OOM_BATCH, help="per stage (default %(default)s)")
    p.add_argument("--oom-items", type=int, default=None, help="items for the OOM demo (default --items)")
    p.add_argument("--json", type=Path, default=None, metavar="OUT", help="write the numbers as JSON")
    p.add_argument("--workdir", type=Path, default=None, help="keep synthetic files here (default: temp)")
    p.add_argument("-v", "--verbose", action="store_true", help="runner logs at INFO")
    args = p.parse_args(argv)
    args.stages = [s for s in args.stages.split(",") if s]
    if unknown := set(args.stages) - set(STAGES):
        p.error(f"unknown stages {sorted(unknown)}")
    if args.reference and args.backend != "hf":
        p.error("--reference needs --backend hf")
    args.batch = {s: int(v) for s, v in {**per_stage(DEFAULT_BATCH, "batch-size"),
                                         **per_stage(args.batch_size, "batch-size")}.items()}  # fmt: skip
    args.oom_batch = {s: int(v) for s, v in {**per_stage(DEFAULT_OOM_BATCH, "oom-batch-size"),
                                             **per_stage(args.oom_batch_size, "oom-batch-size")}.items()}  # fmt: skip
    args.model = {s: v for part in args.model for s, v in per_stage(part, "model").items()}
    args.option = [tuple(o.split("=", 1)) for o in args.option if "=" in o]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    with tempfile.TemporaryDirectory(prefix="bench-batching-") as tmp:
        folder = args.workdir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        data = build_synthetic(folder, max(1, args.pages), args.scanned)
        rows = [row for device in args.devices for stage in args.stages
                for row in bench_stage(args, stage, device, data.items(stage, args.items))]  # fmt: skip
    label = f"{args.backend}{' (reference)' if args.reference else ''}"
    print(f"## Batched vs page-by-page, {label}\n")
    print(markdown([r for r in rows if r["kind"] == "throughput"]))
    if args.oom_demo:
        print(f"\n## OOM recovery demo, {label}\n")
        print(markdown([r for r in rows if r["kind"] == "oom_demo"]))
    if args.json is not None:
        args.json.write_text(json.dumps({"backend": label, "rows": rows}, indent=2))
    failed = any(r["kind"] == "oom_demo" and not r["same_outputs"] for r in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

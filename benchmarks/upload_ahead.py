"""Check that upload-ahead (GPU preprocessing on a side stream) leaves results unchanged.

Runs the layout, tables, OCR and figures reference models on one GPU with upload-ahead on, then off, over
the same synthetic items and prints whether the outputs are equal. For OCR and figures "off"
means the image processor runs on the CPU, so the model inputs are compared too (GPU and CPU resizing
round differently by about one grey level).

    python -m benchmarks.upload_ahead --device cuda:0
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from benchmarks.batching import build_synthetic
from pdf_assets.backends.hf.reference import build_reference_model
from pdf_assets.core.batching import run_batched
from pdf_assets.core.config import BatchPolicy

#: (stage, items, batch size)
CASES = (("layout", 128, 64), ("tables", 64, 32), ("ocr", 512, 256), ("figures", 32, 16))
#: the preprocessed tensor of the stages whose "off" runs the image processor on the CPU
PIXELS = {"ocr": "pixel_values", "figures": "flattened_patches"}


def check_stage(stage: str, n: int, batch: int, device: str, folder: Path) -> str:
    """One line: whether outputs with and without upload-ahead agree."""
    items = build_synthetic(folder, 64, False).items(stage, n)
    model = build_reference_model(stage, device, "fp16")
    owner = getattr(model, "detector", model)  # layout and tables keep it on their detector
    policy = BatchPolicy(batch_size=batch, sort_by_cost=False)
    on = run_batched(stage, [model], items, policy)
    upload, owner.upload = owner.upload, None
    off = run_batched(stage, [model], items, policy)
    line = f"{stage}: upload-ahead {'on' if upload else 'n/a'}; outputs equal to off: {on.outputs == off.outputs}"
    if stage in PIXELS and upload is not None:
        owner.upload = upload
        gpu = getattr(model.preprocess(items[:batch]), PIXELS[stage])
        owner.upload = None
        cpu = getattr(model.preprocess(items[:batch]), PIXELS[stage])
        assert gpu is not None and cpu is not None
        diff = (gpu.float().cpu() - cpu.float()).abs()
        line += f"; pixel values GPU vs CPU processor: max abs diff {diff.max():.4f}, mean {diff.mean():.5f}"
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda:0")
    args = parser.parse_args()
    for stage, n, batch in CASES:
        with tempfile.TemporaryDirectory() as folder:
            print(check_stage(stage, n, batch, args.device, Path(folder)), flush=True)
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()

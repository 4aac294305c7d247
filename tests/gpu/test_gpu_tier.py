"""The GPU-only code paths, on a real CUDA device: upload-ahead, pinned copies, fp16 weights,
out-of-memory recovery and a worker-process replica.

CPU-only CI skips this module; run it on a GPU machine with `python -m pytest -m gpu tests/gpu`.
The models are the backend tests' tiny random checkpoints, so each test takes seconds.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from pdf_assets.core.batching import run_batched
from pdf_assets.core.config import BatchPolicy, ModelSpec
from pdf_assets.core.types import Box, ChartData, DetectedRegion, OcrText, PageRef
from tests.backends.conftest import FIGURE_BOX, PARAGRAPH, TABLE_BOX, TEXT_BOX, Sample, render_sample

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (the gpu test tier)"),
]

DEVICE = "cuda:0"
MIB = 1 << 20


@pytest.fixture(autouse=True)
def _fresh_model_cache() -> Iterator[None]:
    """Each test loads its own replicas (the registry caches them process-wide)."""
    from pdf_assets.backends.registry import clear_cache

    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def sample(tmp_path: Path) -> Sample:
    return render_sample(tmp_path, scale=2.0)


@pytest.fixture
def pages(tmp_path: Path) -> list[PageRef]:
    """Two pages of different pixel sizes, so a batch is padded and sorting matters."""
    big, small = tmp_path / "big", tmp_path / "small"
    big.mkdir()
    small.mkdir()
    return [render_sample(big, scale=2.0).page, render_sample(small, scale=1.0).page]


def gpu_spec(stage: str, model: Path, dtype: str = "fp16", **options: str) -> ModelSpec:
    return ModelSpec(
        stage=stage, backend="hf", model=str(model), device=DEVICE, dtype=dtype, options=tuple(sorted(options.items()))
    )


def assert_same_regions(ours: Sequence[DetectedRegion], theirs: Sequence[DetectedRegion], what: str) -> None:
    """Same regions up to float noise: equal inputs may meet different kernels on a GPU."""
    assert len(ours) == len(theirs), f"{what}: region count"
    for a, b in zip(ours, theirs, strict=True):
        assert a.label == b.label, what
        assert abs(a.score - b.score) < 1e-2, what
        assert abs(a.box.x0 - b.box.x0) + abs(a.box.y0 - b.box.y0) < 1.0, what
        assert abs(a.box.x1 - b.box.x1) + abs(a.box.y1 - b.box.y1) < 1.0, what


def load(spec: ModelSpec) -> Any:
    from pdf_assets.backends.registry import load_models

    (model,) = load_models(spec)
    return model


# --- upload-ahead -------------------------------------------------------------------------


def test_detection_upload_ahead_matches_preprocessing_inside_the_forward(
    tiny_models: dict[str, Path], pages: list[PageRef], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = gpu_spec("layout", tiny_models["layout"], threshold="0", nms_iou="1")
    ahead = load(spec)
    assert ahead.detector.upload is not None, "cuda + a fast processor must take the upload-ahead path"
    batch = ahead.preprocess(pages)
    assert batch.ready is not None and batch.images is None
    assert batch.pixel_values.device.type == "cuda" and batch.pixel_values.dtype == torch.float16
    raw = ahead.forward(batch)

    monkeypatch.setenv("PDF_ASSETS_UPLOAD_AHEAD", "0")
    from pdf_assets.backends.registry import clear_cache

    clear_cache()
    inline = load(spec)
    assert inline.detector.upload is None
    inline_raw = inline.forward(inline.preprocess(pages))
    torch.testing.assert_close(raw.logits, inline_raw.logits, atol=2e-2, rtol=2e-2)
    torch.testing.assert_close(raw.pred_boxes, inline_raw.pred_boxes, atol=2e-2, rtol=2e-2)


def test_detection_upload_ahead_through_the_runner_keeps_every_page_in_order(
    tiny_models: dict[str, Path], pages: list[PageRef]
) -> None:
    model = load(gpu_spec("layout", tiny_models["layout"], threshold="0", nms_iou="1"))
    assert model.detector.upload is not None
    # Eight items of two sizes: every batch of two holds one size, so no page is padded
    # differently from its twins, and the prefetched uploads overlap the forwards.
    items = [pages[i % 2] for i in range(8)]
    run = run_batched("layout", [model], items, BatchPolicy(batch_size=2, prefetch=2))
    assert run.failures == {} and len(run.outputs) == len(items)
    assert run.metrics.batch_sizes == [2, 2, 2, 2]
    assert all(regions for regions in run.outputs), "threshold 0 keeps every query"
    for i, regions in enumerate(run.outputs):
        assert regions is not None
        assert_same_regions(regions, run.outputs[i % 2] or [], f"item {i} against item {i % 2}")


def test_trocr_and_deplot_take_the_upload_path(tiny_models: dict[str, Path], sample: Sample) -> None:
    ocr = load(gpu_spec("ocr", tiny_models["ocr"], max_new_tokens="6"))
    assert ocr.upload is not None
    crops = [sample.crop(TEXT_BOX, "text", 1), sample.crop(Box(250, 20, 300, 30), "text", 3)]
    batch = ocr.preprocess(crops)
    assert batch.ready is not None and batch.pixel_values.device.type == "cuda"
    texts = run_batched("ocr", [ocr], [*crops, crops[0]], BatchPolicy(batch_size=2)).outputs
    assert [type(t) for t in texts] == [OcrText] * 3
    assert len(texts[0].text.split("\n")) == len(PARAGRAPH)
    assert texts[1] == OcrText("", 0.0), "a crop without lines is read as empty"
    assert texts[2] == texts[0]

    figures = load(gpu_spec("figures", tiny_models["figures"], max_new_tokens="8"))
    assert figures.upload is not None
    figure_crops = [sample.crop(FIGURE_BOX, "figure", 5), sample.crop(TABLE_BOX, "figure", 6)]
    charts = run_batched("figures", [figures], figure_crops, BatchPolicy(batch_size=2)).outputs
    assert [type(c) for c in charts] == [ChartData, ChartData]


# --- pinned memory ------------------------------------------------------------------------


def test_batches_are_pinned_before_the_copy(
    tiny_models: dict[str, Path], sample: Sample, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pdf_assets.backends.hf.detection import read_rgb_pinned
    from pdf_assets.backends.hf.staging import to_device

    (page,) = read_rgb_pinned([sample.page.image_path])
    assert page.is_pinned() and page.dtype == torch.uint8
    with Image.open(sample.page.image_path) as image:
        expected = np.array(image.convert("RGB"))
    (on_device,) = to_device([expected], DEVICE)
    assert on_device.device.type == "cuda" and tuple(on_device.shape) == (3, *expected.shape[:2])
    assert torch.equal(on_device.permute(1, 2, 0).cpu(), torch.from_numpy(expected))

    # Without upload-ahead the processors run on the CPU and their output is pinned instead.
    monkeypatch.setenv("PDF_ASSETS_UPLOAD_AHEAD", "0")
    ocr = load(gpu_spec("ocr", tiny_models["ocr"], max_new_tokens="4"))
    lines = ocr.preprocess([sample.crop(TEXT_BOX, "text", 1)])
    assert lines.ready is None and lines.pixel_values.is_pinned()
    figures = load(gpu_spec("figures", tiny_models["figures"], max_new_tokens="4"))
    patches = figures.preprocess([sample.crop(FIGURE_BOX, "figure", 5)])
    assert patches.flattened_patches.is_pinned() and patches.attention_mask.is_pinned()


# --- fp16 ---------------------------------------------------------------------------------


def test_fp16_weights_give_outputs_that_postprocess(tiny_models: dict[str, Path], sample: Sample) -> None:
    layout = load(gpu_spec("layout", tiny_models["layout"], threshold="0", nms_iou="1"))
    assert next(layout.detector.model.parameters()).dtype == torch.float16
    raw = layout.forward(layout.preprocess([sample.page]))
    assert raw.logits.dtype == torch.float32 and bool(torch.isfinite(raw.logits).all())
    (regions,) = layout.postprocess(raw, [sample.page])
    assert regions
    for region in regions:
        assert 0.0 <= region.score <= 1.0
        assert 0 <= region.box.x0 < region.box.x1 <= sample.page.width_pt
        assert 0 <= region.box.y0 < region.box.y1 <= sample.page.height_pt

    ocr = load(gpu_spec("ocr", tiny_models["ocr"], max_new_tokens="6"))
    assert ocr.dtype == torch.float16 and next(ocr.model.parameters()).dtype == torch.float16
    (text,) = ocr.run([sample.crop(TEXT_BOX, "text", 1)])
    assert 0.0 < text.confidence <= 1.0 and np.isfinite(text.confidence)

    figures = load(gpu_spec("figures", tiny_models["figures"], max_new_tokens="8"))
    assert next(figures.model.parameters()).dtype == torch.float16
    (chart,) = figures.run([sample.crop(FIGURE_BOX, "figure", 5)])
    assert isinstance(chart, ChartData)


# --- out-of-memory recovery ---------------------------------------------------------------


class _Hungry:
    """Forward allocates `per_item` bytes per item on the GPU: under a memory cap, batches
    above a few items raise CUDA's own `OutOfMemoryError`, deterministically."""

    name = "test.hungry"

    def __init__(self, per_item: int) -> None:
        self.per_item = per_item
        self.ooms = 0

    def forward(self, batch: list[int]) -> Any:
        try:
            hog = torch.empty(len(batch) * self.per_item, dtype=torch.uint8, device=DEVICE)
        except torch.cuda.OutOfMemoryError:
            self.ooms += 1
            raise
        hog[:1].zero_()
        del hog
        return torch.tensor(batch, device=DEVICE) * 2


def _hungry_model(per_item: int) -> Any:
    from pdf_assets.backends.torch_base import TorchBatchModel

    class HungryModel(TorchBatchModel[int, list[int], object, int]):
        name = "test.hungry"
        device = DEVICE

        def __init__(self) -> None:
            self.hungry = _Hungry(per_item)

        def preprocess(self, items: Sequence[int]) -> list[int]:
            return list(items)

        def forward(self, batch: list[int]) -> object:
            return self.hungry.forward(batch)

        def postprocess(self, raw: object, items: Sequence[int]) -> list[int]:
            return [int(v) for v in raw.cpu().tolist()]  # type: ignore[attr-defined]

    return HungryModel()


def test_a_real_cuda_oom_halves_the_batch_and_every_item_still_gets_its_output() -> None:
    gc.collect()
    torch.cuda.empty_cache()
    per_item = 384 * MIB
    total = torch.cuda.get_device_properties(DEVICE).total_memory
    cap = torch.cuda.memory_reserved(DEVICE) + 2048 * MIB  # batches of 4 fit (1.5 GiB), 8 do not (3 GiB)
    model = _hungry_model(per_item)
    items = list(range(16))
    torch.cuda.set_per_process_memory_fraction(cap / total, DEVICE)
    try:
        run = run_batched("hungry", [model], items, BatchPolicy(batch_size=8, prefetch=1, sort_by_cost=False))
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, DEVICE)
        torch.cuda.empty_cache()
    assert model.hungry.ooms > 0, "the first batch of 8 must raise CUDA's OutOfMemoryError"
    assert run.metrics.oom_retries > 0
    assert run.failures == {}
    assert run.outputs == [2 * i for i in items]
    assert max(run.metrics.batch_sizes) <= 4 and sum(run.metrics.batch_sizes) == len(items)


# --- worker-process replica ---------------------------------------------------------------


def test_process_replica_on_cuda_matches_the_in_process_model(
    tiny_models: dict[str, Path], pages: list[PageRef]
) -> None:
    from pdf_assets.backends.process_replica import ProcessReplica
    from pdf_assets.backends.registry import load_one

    spec = gpu_spec("layout", tiny_models["layout"], threshold="0", nms_iou="1")
    items = [pages[0], pages[1], pages[0], pages[1], pages[1]]
    replica: ProcessReplica[PageRef, object] = ProcessReplica(partial(load_one, spec, DEVICE), cpu_threads=2)
    try:
        assert replica.device == DEVICE and replica.name == "hf.layout"
        remote = run_batched("layout", [replica], items, BatchPolicy(batch_size=2))
        assert replica.peak_memory_bytes() > 0, "the worker's model runs on the GPU"
    finally:
        replica.close()
    # The same runner and policy in this process: the same batches, so the same padding.
    local = run_batched("layout", [load_one(spec, DEVICE)], items, BatchPolicy(batch_size=2))
    assert remote.failures == {} == local.failures
    assert remote.metrics.batch_sizes == local.metrics.batch_sizes
    assert len(remote.outputs) == len(local.outputs) == len(items)
    for i, (theirs, ours) in enumerate(zip(remote.outputs, local.outputs, strict=True)):
        assert theirs and ours, f"item {i}: threshold 0 keeps every query"
        assert_same_regions(ours, theirs, f"item {i}")

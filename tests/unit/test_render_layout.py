"""Render and layout overlapped: the same pages and regions as one stage after the other."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from pdf_assets.core.config import BatchPolicy, ModelSpec
from pdf_assets.core.errors import SystemicError
from pdf_assets.core.types import StageMetrics
from pdf_assets.samples import write_samples
from pdf_assets.stages.collect import combine_metrics
from pdf_assets.stages.engine import InferenceEngine
from pdf_assets.stages.layout import detect_layouts
from pdf_assets.stages.render import RenderSettings, render_pages
from pdf_assets.stages.render_layout import LayoutFeeder, render_and_detect


def _folders(tmp_path: Path) -> dict[str, Path]:
    """Two partitions of the generated samples (a few PDFs each, several pages in all)."""
    first = tmp_path / "alpha"
    write_samples(first)
    second = tmp_path / "beta"
    shutil.copytree(first, second)
    return {"alpha": first, "beta": second}


def _engine(progress: list[tuple[str, int, int]], **options: str) -> InferenceEngine:
    spec = ModelSpec(stage="layout", backend="fake", device="cpu", options=tuple(sorted(options.items())))
    # Batches of one page: chunks of CHUNK_BATCHES pages, so a run has several chunks.
    policies = {"layout": BatchPolicy(batch_size=1)}
    return InferenceEngine({"layout": spec}, policies, lambda s, d, t: progress.append((s, d, t)))


def test_streamed_render_and_layout_match_the_stages_one_after_the_other(tmp_path: Path) -> None:
    folders = _folders(tmp_path)
    settings = RenderSettings(workers=2)
    progress: list[tuple[str, int, int]] = []
    streamed = render_and_detect(folders, tmp_path / "streamed", _engine(progress), settings, stream=True)

    pages = render_pages(folders, tmp_path / "plain", settings)
    layouts = detect_layouts(pages, _engine([]))

    def strip(manifests: dict[str, object]) -> list[object]:  # image paths differ by store
        return [[(p.doc_id, p.page_no, p.width_pt, p.text_chars) for p in m.pages] for m in manifests.values()]

    assert strip(streamed.pages) == strip(pages)
    assert {k: m.regions for k, m in streamed.layouts.items()} == {k: m.regions for k, m in layouts.items()}
    total = sum(len(m.pages) for m in pages.values())
    metrics = streamed.layouts["alpha"].metrics[0]
    assert metrics.items == total and metrics.batches == total
    # The layout bar only moves forward, reaches its total only at the end (PDFs still
    # rendering count as pages to come), and ends at the whole stage's total.
    layout = [(d, t) for s, d, t in progress if s == "layout"]
    assert [d for d, _ in layout] == sorted(d for d, _ in layout) and layout[-1] == (total, total)
    assert all(d < t for d, t in layout[:-1]), layout


def test_the_feeder_runs_chunks_as_pages_arrive(tmp_path: Path) -> None:
    pages = [
        p
        for m in render_pages(_folders(tmp_path), tmp_path / "store", RenderSettings(workers=2)).values()
        for p in m.pages
    ]
    assert len(pages) >= 8
    progress: list[tuple[str, int, int]] = []
    feeder = LayoutFeeder(_engine(progress), min_chunk=4)
    feeder.add(pages[:4])
    deadline = time.monotonic() + 60
    while not any(d == 4 for _, d, _ in progress) and time.monotonic() < deadline:
        time.sleep(0.01)  # the first chunk runs on the feeder's thread
    feeder.add(pages[4:])
    fed, run = feeder.finish()
    assert fed == pages and run.metrics.items == len(pages) and not run.failures
    # Two chunks: the first one's bar counted only the 4 pages it knew of.
    assert ("layout", 4, 4) in progress and progress[-1] == ("layout", len(pages), len(pages))


def test_not_streamed_runs_layout_once_over_every_page(tmp_path: Path) -> None:
    folders = _folders(tmp_path)
    out = render_and_detect(folders, tmp_path / "store", _engine([]), RenderSettings(workers=2), stream=False)
    pages = sum(len(m.pages) for m in out.pages.values())
    assert out.layouts["beta"].metrics[0].items == pages
    assert sum(len(m.regions) for m in out.layouts.values()) > 0


def test_a_failing_layout_model_stops_the_render(tmp_path: Path) -> None:
    folders = _folders(tmp_path)
    with pytest.raises(SystemicError):
        render_and_detect(folders, tmp_path / "store", _engine([], systemic="1"), RenderSettings(workers=2))


def test_an_item_failure_lands_on_its_page(tmp_path: Path) -> None:
    folders = _folders(tmp_path)
    first = render_pages(folders, tmp_path / "probe", RenderSettings(workers=2))["beta"].documents[0]
    out = render_and_detect(folders, tmp_path / "store", _engine([], fail_on=first.doc_id), RenderSettings(workers=2))
    failed = [f for m in out.layouts.values() for f in m.failures]
    assert len(failed) == first.pages > 0
    assert all(f.stage == "layout" and f.doc_id == first.doc_id and f.partition == "beta" for f in failed)
    assert all(r.key.doc_id != first.doc_id for m in out.layouts.values() for r in m.regions)


def test_combined_metrics_add_counts_and_keep_the_peak() -> None:
    parts = [
        StageMetrics("layout", "fake", "cpu", 3, 2, [2, 1], 1, 0, 0.5, 10),
        StageMetrics("layout", "fake", "cpu", 4, 1, [4], 0, 1, 0.25, 30),
    ]
    merged = combine_metrics("layout", parts)
    assert (merged.items, merged.batches, merged.batch_sizes) == (7, 3, [2, 1, 4])
    assert (merged.oom_retries, merged.failures, merged.seconds, merged.peak_memory_bytes) == (1, 1, 0.75, 30)

"""Render and layout as one overlapped step: the layout model starts on the first rendered
pages while the worker processes still render the rest.

Rendering is CPU work in worker processes and layout is device work in this one, so run one
after the other they add up (on born-digital folders each takes about as long as the other)
while one of the two sits idle. Here the rendered pages are handed to a feeder thread that
runs the layout stage over whatever has accumulated, in chunks of at least `min_chunk`
pages (one batch): each chunk is still batched by the usual runner (sorted by size, adaptive batches,
out-of-memory halving), so the GPU keeps its large batches, and since render output arrives
faster while the previous chunk runs, chunks grow on their own. The outputs are the same as
`render_partitions` followed by `detect_layouts`: pages in job order, regions per page in the
same order, one merged `StageMetrics` for the layout stage.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pdf_assets.core.batching import StageRun
from pdf_assets.core.types import DetectedRegion, PageRef
from pdf_assets.stages.collect import combine_runs
from pdf_assets.stages.engine import ChainedProgress, InferenceEngine
from pdf_assets.stages.layout import layout_manifests
from pdf_assets.stages.manifests import LayoutManifest, PagesManifest
from pdf_assets.stages.render import RenderedDocument, RenderSettings, pages_manifests, render_jobs, render_stream

#: the smallest chunk the feeder hands to the layout stage, in layout batches: one, since the
#: device idles while it waits; a chunk's batches are still sorted by size, and chunks grow
#: on their own whenever rendering runs ahead of the model
CHUNK_BATCHES = 1

Detected = list[DetectedRegion]


@dataclass(frozen=True)
class RenderedAndDetected:
    pages: dict[str, PagesManifest]
    layouts: dict[str, LayoutManifest]
    render_s: float  # until the last PDF was rendered
    layout_tail_s: float  # layout work left after that (all of layout when not streamed)


class LayoutFeeder:
    """Runs the layout stage on a background thread over pages handed to it as they render."""

    def __init__(self, engine: InferenceEngine, min_chunk: int) -> None:
        self._expected_more = 0  # pages the PDFs still rendering are expected to add
        self._chain = ChainedProgress(engine.progress, lambda: len(self._waiting) + self._expected_more)
        self._engine = self._chain.engine(engine)
        self._min_chunk = max(1, min_chunk)
        self._ready = threading.Condition()
        self._waiting: list[PageRef] = []
        self._closed = False
        self._fed: list[PageRef] = []  # pages handed to the model so far, in run order
        self._runs: list[StageRun[Detected]] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="layout-feeder", daemon=True)
        self._thread.start()

    def add(self, pages: Sequence[PageRef], expected_more: int = 0) -> None:
        """Queue rendered pages, with an estimate of the pages still to come (for the progress
        total only); a layout error from an earlier chunk is raised here, so the render stops
        instead of finishing work nobody will use."""
        if self._error is not None:
            raise self._error
        with self._ready:
            self._waiting.extend(pages)
            self._expected_more = expected_more
            self._ready.notify()

    def finish(self) -> tuple[list[PageRef], StageRun[Detected]]:
        """Wait for the last chunk; every page fed, with the combined run aligned to them."""
        with self._ready:
            self._closed, self._expected_more = True, 0
            self._ready.notify()
        self._thread.join()
        if self._error is not None:
            raise self._error
        if not self._runs:  # no pages: the stage's empty run, as `detect_layouts` records it
            self._runs.append(self._engine.run("layout", []))
        return self._fed, combine_runs("layout", self._runs)

    def abandon(self) -> None:
        """The render failed: drop the pages not yet started and wait for the chunk running."""
        with self._ready:
            self._waiting, self._closed = [], True
            self._ready.notify()
        self._thread.join()

    def _take(self) -> list[PageRef]:
        with self._ready:
            self._ready.wait_for(lambda: self._closed or len(self._waiting) >= self._min_chunk)
            chunk, self._waiting = self._waiting, []
            return chunk

    def _loop(self) -> None:
        try:
            while chunk := self._take():
                self._runs.append(self._engine.run("layout", chunk))
                self._fed += chunk
                self._chain.finished(len(chunk))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the rendering thread
            self._error = exc


def _pages_to_come(rendered: Collection[RenderedDocument], jobs: int) -> int:
    """An estimate of the pages the PDFs not yet rendered will add (the average so far, at
    least one a PDF): a bar total that grows to the truth, never one reached too early."""
    left = jobs - len(rendered)
    average = sum(len(r.pages) for r in rendered) / max(1, len(rendered))
    return math.ceil(left * max(1.0, average))


def render_and_detect(
    folders: Mapping[str, Path],
    store: Path,
    engine: InferenceEngine,
    settings: RenderSettings,
    stream: bool = True,
) -> RenderedAndDetected:
    """Every PDF of every partition rendered, and the layout of every page; with `stream`,
    layout runs on rendered pages while the rest still render."""
    started = time.perf_counter()
    jobs = render_jobs(folders, store, settings)
    chunk = CHUNK_BATCHES * engine.policy("layout").batch_size if stream else sys.maxsize
    feeder = LayoutFeeder(engine, chunk)
    rendered: dict[int, RenderedDocument] = {}
    try:
        for index, document in render_stream(jobs, settings.workers, engine.progress, settings.timeout_s):
            rendered[index] = document
            feeder.add(document.pages, _pages_to_come(rendered.values(), len(jobs)))
    except BaseException:
        feeder.abandon()
        raise
    rendered_at = time.perf_counter()
    fed, run = feeder.finish()
    ordered = [rendered[i] for i in range(len(jobs))]
    pages = pages_manifests(folders, ordered, rendered_at - started)
    layouts = layout_manifests(pages, fed, run)
    return RenderedAndDetected(pages, layouts, rendered_at - started, time.perf_counter() - rendered_at)

"""The inference engine: one place that turns stage settings into batched model runs.

The Dagster resource, the CLI and the benchmarks all build one of these; it holds the
per-stage model specs and batch policies, loads models through the process-wide cache
and runs every stage through the batch runner.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar, cast

from pdf_assets.backends.registry import load_models
from pdf_assets.core.batching import StageRun, run_batched
from pdf_assets.core.config import STAGES, BatchPolicy, ModelSpec
from pdf_assets.core.host_memory import release_free_memory
from pdf_assets.core.model import BatchModel
from pdf_assets.core.types import StageMetrics
from pdf_assets.core.work_queue import Progress

logger = logging.getLogger(__name__)
progress_logger = logging.getLogger("pdf_assets.progress")

ItemT = TypeVar("ItemT")
OutT = TypeVar("OutT")

DEFAULT_BATCH = {"layout": 8, "ocr": 32, "tables": 8, "figures": 8}


def log_progress(stage: str, done: int, total: int) -> None:
    """Progress as log records: the Dagster log shows them, the CLI draws bars from them."""
    progress_logger.info("%s: %d/%d", stage, done, total, extra={"stage": stage, "done": done, "total": total})


class ChainedProgress:
    """Consecutive runs of one stage reported as one run: counts go on from where the earlier
    runs ended, and the total includes `pending()` items known to come later. The layout
    feeder (chunks of pages as they render) and the text stage (OCR before and after the
    text-layer reads) use it, so a stage's bar runs once from 0 to its end."""

    def __init__(self, report: Progress | None, pending: Callable[[], int] = lambda: 0) -> None:
        self._report = report
        self._pending = pending
        self._before = 0

    def engine(self, engine: InferenceEngine) -> InferenceEngine:
        """`engine`, reporting through this chain (unchanged when it reports nothing)."""
        return dataclasses.replace(engine, progress=self._progress) if self._report else engine

    def finished(self, items: int) -> None:
        """A run of `items` items ended: the next run's counts start after them."""
        self._before += items

    def _progress(self, stage: str, done: int, total: int) -> None:
        if self._report is not None:
            self._report(stage, self._before + done, self._before + total + self._pending())


@dataclass
class InferenceEngine:
    specs: dict[str, ModelSpec] = field(default_factory=dict)
    policies: dict[str, BatchPolicy] = field(default_factory=dict)
    progress: Progress | None = log_progress

    def spec(self, stage: str) -> ModelSpec:
        return self.specs.get(stage) or ModelSpec(stage=stage)

    def policy(self, stage: str) -> BatchPolicy:
        return self.policies.get(stage) or BatchPolicy(batch_size=DEFAULT_BATCH[stage])

    def run(self, stage: str, items: Sequence[ItemT]) -> StageRun[OutT]:
        """All items of a stage, across every partition of the run, in batches."""
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}")
        if not items:
            # No model is loaded for a stage with nothing to do (e.g. no tables in the run).
            return StageRun(outputs=[], metrics=StageMetrics(stage=stage, backend=self.spec(stage).backend))
        # The registry loads models by name, so their item and output types are the stage's,
        # which only the caller knows (it annotates what `run` returns).
        models = cast("list[BatchModel[ItemT, object, object, OutT]]", load_models(self.spec(stage)))
        result = run_batched(stage, models, items, self.policy(stage), self.progress)
        release_free_memory()  # the stage's decoded images are garbage now
        return result

"""Fold a batched stage run back into per-partition results and failures.

Every model stage runs over all items of the run at once; this is the one place that
splits the outputs again by partition and turns missing outputs into recorded failures.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from pdf_assets.core.batching import StageRun
from pdf_assets.core.types import Crop, ItemFailure, StageMetrics

OutT = TypeVar("OutT")
ResT = TypeVar("ResT")


@dataclass
class Collected(Generic[ResT]):
    results: dict[str, list[ResT]] = field(default_factory=lambda: defaultdict(list))
    failures: dict[str, list[ItemFailure]] = field(default_factory=lambda: defaultdict(list))

    def failures_of(self, partition: str) -> tuple[ItemFailure, ...]:
        return tuple(self.failures.get(partition, ()))

    def results_of(self, partition: str) -> tuple[ResT, ...]:
        return tuple(self.results.get(partition, ()))


def region_failure(stage: str, crop: Crop, error: str) -> ItemFailure:
    """A failure tied to its document and region, so storage can mark both."""
    key = crop.region.key
    return ItemFailure(stage, key.slug(), error, crop.region.partition, doc_id=key.doc_id, region=key)


def collect_crops(
    stage: str,
    crops: Sequence[Crop],
    run: StageRun[OutT],
    convert: Callable[[Crop, OutT], ResT],
) -> Collected[ResT]:
    """Pair crops with outputs; a missing output or a failing conversion is a recorded failure."""
    collected: Collected[ResT] = Collected()
    for i, (crop, out) in enumerate(zip(crops, run.outputs, strict=True)):
        partition = crop.region.partition
        if i in run.failures:
            error = run.failures[i]
        else:
            try:
                collected.results[partition].append(convert(crop, out))  # type: ignore[arg-type]
                continue
            except Exception as exc:  # noqa: BLE001 - one bad output never loses the others
                error = f"{type(exc).__name__}: {exc}"
        collected.failures[partition].append(region_failure(stage, crop, error))
    return collected


def combine_runs(stage: str, runs: Sequence[StageRun[OutT]]) -> StageRun[OutT]:
    """Several runs of one stage over consecutive item lists as one run over their concatenation."""
    outputs: list[OutT | None] = []
    failures: dict[int, str] = {}
    for run in runs:
        failures.update({len(outputs) + i: error for i, error in run.failures.items()})
        outputs += run.outputs
    return StageRun(outputs, failures, combine_metrics(stage, [r.metrics for r in runs]))


def combine_metrics(stage: str, parts: Sequence[StageMetrics]) -> StageMetrics:
    """One stage's metrics over several runs: counts add up, seconds are the device stage's
    own time (summed), the peak is the largest."""
    first = next((m for m in parts if m.backend), StageMetrics(stage=stage))
    return StageMetrics(
        stage=stage,
        backend=first.backend,
        device=first.device,
        items=sum(m.items for m in parts),
        batches=sum(m.batches for m in parts),
        batch_sizes=[size for m in parts for size in m.batch_sizes],
        oom_retries=sum(m.oom_retries for m in parts),
        failures=sum(m.failures for m in parts),
        seconds=sum(m.seconds for m in parts),
        peak_memory_bytes=max((m.peak_memory_bytes for m in parts), default=0),
    )

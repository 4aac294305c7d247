"""The batch runner every model stage goes through.

Takes all items of a stage (across every document and partition of the run), sorts them
by the model's cost estimate so a batch holds similar sizes, runs them in batches and
returns results in the original order. Failures of single items are isolated and
recorded; systemic errors raise.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic

from pdf_assets.core.config import BatchPolicy
from pdf_assets.core.errors import SystemicError
from pdf_assets.core.model import BatchModel, BatchT, ItemT, OutT, RawT
from pdf_assets.core.types import ItemFailure, StageMetrics

logger = logging.getLogger(__name__)

#: progress callback: (stage, items done, items total)
Progress = Callable[[str, int, int], None]


@dataclass
class StageRun(Generic[OutT]):
    """Outputs aligned with the input items (None where the item failed)."""

    outputs: list[OutT | None]
    failures: dict[int, str] = field(default_factory=dict)  # item index -> error text
    metrics: StageMetrics = field(default_factory=lambda: StageMetrics(stage=""))

    def item_failures(self, stage: str, names: Sequence[str]) -> list[ItemFailure]:
        return [ItemFailure(stage=stage, item=names[i], error=e) for i, e in sorted(self.failures.items())]


def run_batched(
    stage: str,
    models: Sequence[BatchModel[ItemT, BatchT, RawT, OutT]],
    items: Sequence[ItemT],
    policy: BatchPolicy,
    progress: Progress | None = None,
) -> StageRun[OutT]:
    """Run `items` through `models` (one replica per device) in batches."""
    if not models:
        raise SystemicError(f"stage {stage}: no model replica to run on")
    model = models[0]
    metrics = StageMetrics(stage=stage, backend=model.name, device=model.device, items=len(items))
    outputs: list[OutT | None] = [None] * len(items)
    failures: dict[int, str] = {}
    order = sorted(range(len(items)), key=lambda i: model.cost(items[i])) if policy.sort_by_cost else list(range(len(items)))
    started = time.perf_counter()
    done = 0
    for start in range(0, len(order), policy.batch_size):
        idx = order[start : start + policy.batch_size]
        _run_isolating(model, items, idx, outputs, failures)
        metrics.batches += 1
        metrics.batch_sizes.append(len(idx))
        done += len(idx)
        if progress:
            progress(stage, done, len(items))
    metrics.seconds = time.perf_counter() - started
    metrics.failures = len(failures)
    return StageRun(outputs=outputs, failures=failures, metrics=metrics)


def _run_isolating(
    model: BatchModel[ItemT, BatchT, RawT, OutT],
    items: Sequence[ItemT],
    idx: list[int],
    outputs: list[OutT | None],
    failures: dict[int, str],
) -> None:
    """Run one batch; on an item-level error bisect to find the failing items."""
    try:
        results = model.run([items[i] for i in idx])
    except SystemicError:
        raise
    except Exception as exc:  # noqa: BLE001 - isolated below, recorded per item
        if len(idx) == 1:
            failures[idx[0]] = f"{type(exc).__name__}: {exc}"
            return
        mid = len(idx) // 2
        _run_isolating(model, items, idx[:mid], outputs, failures)
        _run_isolating(model, items, idx[mid:], outputs, failures)
        return
    for i, out in zip(idx, results, strict=True):
        outputs[i] = out

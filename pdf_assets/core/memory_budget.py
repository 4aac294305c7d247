"""Device memory budgets: turn "use at most N GiB" into a batch size.

A budget is easier to reason about than a batch size when one GPU is shared (two stages,
two runs, a notebook) or when the same config runs on cards of different sizes. The runner
measures how much device memory one item costs on a probe batch, then picks the largest
batch that fits. The answer is remembered per process, keyed by (stage, model, device,
budget), so later runs of the same stage skip the probe.

The model exposes its memory through the optional hooks of `BatchModel`
(`reset_peak_memory`, `peak_memory_bytes`) and, for a fractional budget, an optional
`total_memory_bytes()`; where any of them reports 0 (CPU, an unknown runtime) no budget
applies and the configured batch size stands.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from pdf_assets.core.config import BatchPolicy
from pdf_assets.core.model import BatchModel, BatchT, ItemT, OutT, RawT

logger = logging.getLogger(__name__)

GIB = 1 << 30

BudgetKey = tuple[str, str, str, int]

#: fitted batch sizes of this process: (stage, model name, device, budget bytes) -> size
_FITTED: dict[BudgetKey, int] = {}
_LOCK = threading.Lock()


def total_memory_bytes(model: BatchModel[ItemT, BatchT, RawT, OutT]) -> int:
    """The device's capacity when the backend can tell (torch backends on CUDA), else 0."""
    probe: Callable[[], int] | None = getattr(model, "total_memory_bytes", None)
    if probe is None or not callable(probe):
        return 0
    return max(0, int(probe()))


def budget_bytes(model: BatchModel[ItemT, BatchT, RawT, OutT], policy: BatchPolicy) -> int:
    """The stricter of the absolute and fractional budgets; 0 means no budget."""
    limits: list[int] = []
    if policy.max_memory_gib is not None and policy.max_memory_gib > 0:
        limits.append(int(policy.max_memory_gib * GIB))
    if policy.max_memory_fraction is not None:
        total = total_memory_bytes(model)
        if total > 0:
            limits.append(int(total * policy.max_memory_fraction))
    return min(limits) if limits else 0


def probe_size(policy: BatchPolicy) -> int:
    """A first batch small enough to stay inside most budgets, big enough to measure.

    A quarter of the configured size: the per-item estimate from it is slightly pessimistic
    (fixed workspace is spread over fewer items), which errs on the side of fitting.
    """
    return max(policy.min_batch_size, min(policy.batch_size, policy.batch_size // 4))


def clear_fitted() -> None:
    """Forget fitted sizes (tests; after swapping GPUs or models in a long-lived process)."""
    with _LOCK:
        _FITTED.clear()


class MemoryBudget:
    """The budget of one replica for one stage, and the batch size fitted to it."""

    def __init__(self, stage: str, model: BatchModel[ItemT, BatchT, RawT, OutT], policy: BatchPolicy) -> None:
        self.bytes = budget_bytes(model, policy)
        self.key: BudgetKey = (stage, model.name, model.device, self.bytes)
        self._policy = policy
        with _LOCK:
            self.fitted: int | None = _FITTED.get(self.key) if self.bytes else None
        self._gave_up = False

    @property
    def pending(self) -> bool:
        """A budget applies and the next successful batch should be measured."""
        return self.bytes > 0 and self.fitted is None and not self._gave_up

    def start_size(self) -> int:
        """The batch size to begin with: fitted, a probe while measuring, or the configured one."""
        if self.fitted is not None:
            return self.fitted
        if self.pending:
            return probe_size(self._policy)
        return self._policy.batch_size

    def measure(self, items: int, baseline: int, peak: int) -> int | None:
        """Fit the batch size from one batch of `items` that peaked at `peak` bytes.

        `baseline` is what was allocated before the batch (weights, caches); it is paid once,
        the rest scales with the batch. Returns the fitted size, or None when the device
        reports no usable numbers (then the configured size stands).
        """
        used = peak - baseline
        if items <= 0 or used <= 0:
            logger.info("memory budget for %s skipped: %s reports no peak memory", self.key[1], self.key[2])
            self._gave_up = True
            return None
        per_item = used / items
        room = self.bytes - baseline
        fit = int(room // per_item) if room > 0 else 0
        size = max(self._policy.min_batch_size, min(self._policy.batch_size, fit))
        if fit < self._policy.min_batch_size:
            logger.warning(
                "memory budget %.2f GiB for %s on %s fits %d item(s) per batch; using min_batch_size %d",
                self.bytes / GIB,
                self.key[1],
                self.key[2],
                fit,
                size,
            )
        with _LOCK:
            _FITTED[self.key] = size
        self.fitted = size
        logger.info(
            "memory budget %.2f GiB for %s/%s on %s: %.1f MiB per item, batch size %d",
            self.bytes / GIB,
            self.key[0],
            self.key[1],
            self.key[2],
            per_item / (1 << 20),
            size,
        )
        return size

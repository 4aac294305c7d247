"""The batch runner every model stage goes through.

Takes all items of a stage (across every document and partition of the run) and runs them
through one or more model replicas in batches, returning results in the original order:

- items are sorted by the model's cost estimate, largest first, so a batch holds similar
  sizes (less padding) and the most memory-hungry batch runs first: an out-of-memory error
  or a memory-budget probe meets the worst case early instead of at the end of a long run;
- the CPU `preprocess` of the next `policy.prefetch` batches runs on worker threads while
  the device runs `forward` of the current one, and the `postprocess` of each batch runs on
  one more thread while the next batch's `forward` keeps the device busy;
- an out-of-memory error frees device memory, halves the batch and retries the same items,
  growing back after `policy.grow_after` clean batches, so results equal an OOM-free run;
- any other item-level error is isolated by bisecting the batch; only the failing items are
  recorded, `SystemicError`s raise at once;
- a broken model is systemic, not a pile of item failures: a batch whose outputs break the
  contract (not one output per item) raises `ModelContractError` at once, and a batch of at
  least `REPEATED_ERROR_MIN_ITEMS` items that all fail alone with the very same error raises
  `RepeatedItemError` after its bisection;
- with several replicas (one per GPU) each runs in its own thread, pulling batches from one
  shared queue, with its own OOM and memory-budget state.

Backends must keep `preprocess` thread-safe (it runs on pool threads, several at a time)
and `postprocess` independent of what `forward` mutates (they overlap).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from typing import Generic, cast

from pdf_assets.core.config import BatchPolicy
from pdf_assets.core.errors import ModelContractError, RepeatedItemError, SystemicError
from pdf_assets.core.memory_budget import MemoryBudget
from pdf_assets.core.model import BatchModel, BatchT, ItemT, OutT, RawT
from pdf_assets.core.types import StageMetrics
from pdf_assets.core.work_queue import Progress, WorkQueue

logger = logging.getLogger(__name__)

#: A batch this large whose items all fail alone with one identical error means a broken
#: model. Smaller batches may hold a few alike bad items (cost sorting groups similar ones).
REPEATED_ERROR_MIN_ITEMS = 4


@dataclass
class StageRun(Generic[OutT]):
    """Outputs aligned with the input items (None where the item failed)."""

    outputs: list[OutT | None]
    failures: dict[int, str] = field(default_factory=dict)  # item index -> error text
    metrics: StageMetrics = field(default_factory=lambda: StageMetrics(stage=""))


def error_text(exc: BaseException) -> str:
    """How a failed item's error is recorded: type and message, no traceback."""
    return f"{type(exc).__name__}: {exc}"


class _Replica(Generic[ItemT, BatchT, RawT, OutT]):
    """One model replica's worker: its prefetch pipeline, OOM state and memory budget."""

    def __init__(
        self, model: BatchModel[ItemT, BatchT, RawT, OutT], shared: WorkQueue[ItemT, OutT], policy: BatchPolicy
    ) -> None:
        self.model = model
        self.shared = shared
        self.policy = policy
        self.budget = MemoryBudget(shared.stage, model, policy)
        self.target = min(policy.batch_size, self.budget.fitted or policy.batch_size)
        self.size = self.budget.start_size()
        self.clean = 0  # clean batches since the last OOM or growth step
        self.grow_after = policy.grow_after
        self._grown_to = 0  # the size the last growth step tried
        self.oom_retries = 0
        self.peak = 0
        self.forwards = 0
        self.items_done = 0
        self.waited = 0.0  # seconds the device sat waiting for a batch's preprocessing
        self.busy = 0.0  # seconds in forward
        self._pipeline: deque[tuple[list[int], Future[BatchT]]] = deque()
        # The batch whose postprocess runs while the next forward does: (items, outputs, start).
        self._posting: tuple[list[int], Future[list[tuple[int, OutT]]], float] | None = None
        self._post_pool: ThreadPoolExecutor | None = None

    def run(self) -> None:
        """Pull batches until the shared work is gone; stop everyone on a systemic error."""
        pool = ThreadPoolExecutor(max(1, self.policy.prefetch), thread_name_prefix=f"{self.shared.stage}-pre")
        self._post_pool = ThreadPoolExecutor(1, thread_name_prefix=f"{self.shared.stage}-post")
        try:
            self.model.reset_peak_memory()
            while True:
                self._fill(pool)
                if self._pipeline:
                    self._run_batch(*self._pipeline.popleft())
                elif self._posting is not None:
                    self._settle()  # may hand items back to the queue
                else:
                    return
        except BaseException:
            self.shared.halt()
            raise
        finally:
            self._drop_pipeline()
            pool.shutdown(wait=True, cancel_futures=True)
            self._post_pool.shutdown(wait=True)

    def _fill(self, pool: ThreadPoolExecutor) -> None:
        """Keep the current batch plus `prefetch` more queued for (or in) preprocessing.

        While a memory budget is being probed only the probe batch is queued: the batches
        after it must be cut at the size the probe's measurement yields.
        """
        depth = 1 if self.budget.pending else self.policy.prefetch + 1
        while len(self._pipeline) < depth:
            # Only a replica with nothing queued or posting waits for items others may hand
            # back (its own unsettled batch counts as held: waiting for it would deadlock).
            held = sum(len(queued) for queued, _ in self._pipeline)
            idx = self.shared.take(self.size, wait=not self._pipeline and self._posting is None, held=held)
            if not idx:
                return
            chunk = [self.shared.items[i] for i in idx]
            self._pipeline.append((idx, pool.submit(self.model.preprocess, chunk)))

    def _drop_pipeline(self) -> list[int]:
        """Cancel prefetched batches and return their items. A batch already preprocessed is
        handed to the model's optional `discard(batch)`, so a model that keeps prepared
        batches elsewhere (a worker process) releases them now, not when memory runs out."""
        discard = getattr(self.model, "discard", None)
        pending: list[int] = []
        for idx, future in self._pipeline:
            if not future.cancel() and discard is not None:
                future.add_done_callback(partial(_discard_result, discard))
            pending.extend(idx)
        self._pipeline.clear()
        return pending

    def _run_batch(self, idx: list[int], batch: Future[BatchT]) -> None:
        """Forward one batch, then settle the previous one's postprocess and start this one's."""
        started = time.perf_counter()
        try:
            ready = batch.result()
            self.waited += time.perf_counter() - started
            raw = self._device(idx, ready)
        except SystemicError:
            raise
        except Exception as exc:  # noqa: BLE001 - OOM is retried, anything else bisected
            self._settle()
            self._failed(idx, exc)
            return
        self._settle()
        assert self._post_pool is not None
        self._posting = (idx, self._post_pool.submit(self._post, idx, raw), started)

    def _settle(self) -> None:
        """Wait for the batch being postprocessed and record it (or handle its error)."""
        if self._posting is None:
            return
        idx, future, started = self._posting
        self._posting = None
        try:
            pairs = future.result()
        except SystemicError:
            raise
        except Exception as exc:  # noqa: BLE001 - as for forward errors
            self._failed(idx, exc)
            return
        self._succeeded(idx, pairs, started)

    def _failed(self, idx: list[int], exc: Exception) -> None:
        if self.model.is_out_of_memory(exc):
            self._shrink(idx, exc)
        else:
            self._isolate_batch(idx, exc)

    def _device(self, idx: list[int], batch: BatchT) -> RawT:
        """The device work of one preprocessed batch; probes the memory budget if pending."""
        started = time.perf_counter()
        measuring = self.budget.pending
        baseline = 0
        if measuring:
            self.model.reset_peak_memory()
            baseline = self.model.peak_memory_bytes()
        raw = self.model.forward(batch)
        self.forwards += 1
        self.items_done += len(idx)
        self.busy += time.perf_counter() - started
        peak = self.model.peak_memory_bytes()
        self.peak = max(self.peak, peak)
        if measuring and self.budget.measure(len(idx), baseline, peak) is not None:
            self.target = self.budget.fitted or self.target
            self.size = self.target
        return raw

    def _post(self, idx: list[int], raw: RawT) -> list[tuple[int, OutT]]:
        """Postprocess one batch (on the post thread), contract-checked: a model that does not
        return one output per item is broken for every batch, not for these items."""
        outputs: object = self.model.postprocess(raw, [self.shared.items[i] for i in idx])
        where = f"stage {self.shared.stage}: {self.model.name} on {self.model.device}"
        if not isinstance(outputs, Sequence) or isinstance(outputs, (str, bytes)):
            raise ModelContractError(f"{where}: postprocess returned {type(outputs).__name__}, not a list of outputs")
        if len(outputs) != len(idx):
            raise ModelContractError(
                f"{where}: postprocess returned {len(outputs)} outputs for {len(idx)} items (must be one per item)"
            )
        return list(zip(idx, cast("Sequence[OutT]", outputs), strict=True))

    def _succeeded(self, idx: list[int], pairs: list[tuple[int, OutT]], started: float) -> None:
        self.shared.record(pairs, {}, len(idx))
        logger.debug(
            "%s on %s: batch of %d in %.3fs",
            self.shared.stage,
            self.model.device,
            len(idx),
            time.perf_counter() - started,
        )
        if len(idx) >= self.size:
            # Smaller batches (prefetched before a growth step, bisection halves) say
            # nothing about whether the current size fits.
            self.clean += 1
        if self.size < self.target and self.clean >= self.grow_after:
            self.size = min(self.target, self.size * 2)
            self._grown_to = self.size
            self.clean = 0
            logger.debug("%s on %s: batch size grows to %d", self.shared.stage, self.model.device, self.size)

    def _shrink(self, idx: list[int], exc: Exception) -> None:
        """Out of memory: drop the prefetched batches, free, halve, and hand them all back."""
        half = len(idx) // 2
        if half < self.policy.min_batch_size:
            # Nothing smaller is allowed: the items cannot run on this device at all.
            self.model.free_memory()
            self.shared.record([], {i: error_text(exc) for i in idx}, None)
            return
        dropped = self._drop_pipeline()  # first: their prepared batches hold memory too
        self.model.free_memory()
        self.oom_retries += 1
        if len(idx) == self._grown_to:
            # Growing into this size failed again: wait twice as long before the next try,
            # so a hard limit costs a logarithmic number of retries, not one per few batches.
            self.grow_after = max(1, self.grow_after * 2)
        self.size = min(self.size, half)
        self.clean = 0
        logger.debug(
            "%s on %s: out of memory at batch %d, retrying at %d",
            self.shared.stage,
            self.model.device,
            len(idx),
            self.size,
        )
        self.shared.give_back(idx + dropped)

    def _isolate_batch(self, idx: list[int], exc: Exception) -> None:
        """Bisect a failing batch; if every item failed alone with one identical error, the
        model is broken (a stage of thousands of items would otherwise end "green" with every
        item failed, after a bisection per batch)."""
        errors: list[str] = []
        self._isolate(idx, exc, errors)
        if len(idx) >= REPEATED_ERROR_MIN_ITEMS and len(errors) == len(idx) and len(set(errors)) == 1:
            raise RepeatedItemError(
                f"stage {self.shared.stage}: {self.model.name} on {self.model.device} failed every item "
                f"of a batch of {len(idx)} alone with the same error: {errors[0]}"
            )

    def _isolate(self, idx: list[int], exc: Exception, errors: list[str]) -> None:
        """Bisect a failing batch until each failing item stands alone, then record it."""
        if len(idx) == 1:
            logger.debug("%s: item %d failed: %s", self.shared.stage, idx[0], error_text(exc))
            errors.append(error_text(exc))
            self.shared.record([], {idx[0]: error_text(exc)}, None)
            return
        mid = len(idx) // 2
        for half in (idx[:mid], idx[mid:]):
            self._run_now(half, errors)

    def _run_now(self, idx: list[int], errors: list[str]) -> None:
        """One sub-batch of a bisection, synchronously (it is small and rare)."""
        started = time.perf_counter()
        try:
            batch = self.model.preprocess([self.shared.items[i] for i in idx])
            pairs = self._post(idx, self._device(idx, batch))
        except SystemicError:
            raise
        except Exception as exc:  # noqa: BLE001 - bisected further, recorded per item
            if self.model.is_out_of_memory(exc):
                self.model.free_memory()
                if len(idx) > 1:
                    self.oom_retries += 1
            self._isolate(idx, exc, errors)
            return
        self._succeeded(idx, pairs, started)


def _discard_result(discard: Callable[[object], None], future: Future[object]) -> None:
    """Hand a dropped batch's prepared data to the model's `discard` (errors: nothing to free)."""
    if future.cancelled() or future.exception() is not None:
        return
    try:
        discard(future.result())
    except Exception:  # a failed release must not fail the stage; the worker caps what it keeps
        logger.debug("discarding a dropped batch failed", exc_info=True)


def run_batched(
    stage: str,
    models: Sequence[BatchModel[ItemT, BatchT, RawT, OutT]],
    items: Sequence[ItemT],
    policy: BatchPolicy,
    progress: Progress | None = None,
) -> StageRun[OutT]:
    """Run `items` through `models` (one replica per device) in batches, in input order."""
    devices = ",".join(m.device for m in models)
    backend = models[0].name if models else ""
    if not items:
        return StageRun(outputs=[], metrics=StageMetrics(stage=stage, backend=backend, device=devices or "cpu"))
    if not models:
        raise SystemicError(f"stage {stage}: no model replica to run on")
    started = time.perf_counter()
    order = list(range(len(items)))
    if policy.sort_by_cost:
        order.sort(key=lambda i: models[0].cost(items[i]), reverse=True)
    shared: WorkQueue[ItemT, OutT] = WorkQueue(stage, items, order, progress, len(models))
    replicas = [_Replica(model, shared, policy) for model in models]
    _run_replicas(stage, replicas)
    _log_replicas(stage, replicas)
    metrics = StageMetrics(
        stage=stage,
        backend=backend,
        device=devices,
        items=len(items),
        batches=len(shared.batch_sizes),
        batch_sizes=list(shared.batch_sizes),
        oom_retries=sum(r.oom_retries for r in replicas),
        failures=len(shared.failures),
        seconds=time.perf_counter() - started,
        peak_memory_bytes=max(r.peak for r in replicas),
    )
    _log_summary(metrics)
    return StageRun(outputs=shared.outputs, failures=dict(shared.failures), metrics=metrics)


def _run_replicas(stage: str, replicas: Sequence[_Replica[ItemT, BatchT, RawT, OutT]]) -> None:
    """One replica runs in the caller's thread; several run data-parallel, one thread each."""
    if len(replicas) == 1:
        replicas[0].run()
        return
    pool = ThreadPoolExecutor(len(replicas), thread_name_prefix=f"{stage}-replica")
    try:
        futures = [pool.submit(r.run) for r in replicas]
        wait(futures, return_when=FIRST_EXCEPTION)
        # A failing replica has set the stop flag; the others drain what they hold and exit.
        wait(futures)
    except BaseException:
        # An interrupt in this thread (a cancelled run): without the stop flag the replica
        # threads would run the whole stage to its end before the run could stop.
        replicas[0].shared.halt()
        raise
    finally:
        pool.shutdown(wait=True)
    for future in futures:
        exc = future.exception()
        if exc is not None:
            raise exc


def _log_replicas(stage: str, replicas: Sequence[_Replica[ItemT, BatchT, RawT, OutT]]) -> None:
    """Where the time went per device: a large `waited` means preprocessing, not the device,
    is the bottleneck (raise `prefetch` or give the stage more CPU)."""
    for replica in replicas:
        if replica.forwards == 0:
            logger.info("%s: replica on %s got no work (fewer batches than replicas)", stage, replica.model.device)
            continue
        logger.info(
            "%s on %s: %d batches, %d items, %.2fs in forward, %.2fs waiting for preprocessing",
            stage,
            replica.model.device,
            replica.forwards,
            replica.items_done,
            replica.busy,
            replica.waited,
        )


def _log_summary(metrics: StageMetrics) -> None:
    sizes = metrics.batch_sizes
    logger.info(
        "%s [%s on %s]: %d items, %d batches (size %d..%d), %d OOM retries, %d failures, %.2fs, %.1f items/s",
        metrics.stage,
        metrics.backend,
        metrics.device,
        metrics.items,
        metrics.batches,
        min(sizes) if sizes else 0,
        max(sizes) if sizes else 0,
        metrics.oom_retries,
        metrics.failures,
        metrics.seconds,
        metrics.items_per_s,
    )

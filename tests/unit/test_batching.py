"""The batch runner: order, OOM halving and growth, failure isolation, replicas, budgets.

Every test drives `run_batched` with the generic fake model (plain ints or strings as
items) and checks what the runner did through the fake's records, never through timing.
"""

from __future__ import annotations

import os
import random
import signal
import threading
from collections.abc import Iterator, Sequence
from typing import TypeVar

import pytest

from pdf_assets.backends.fake import FakeModel
from pdf_assets.core.batching import run_batched
from pdf_assets.core.config import BatchPolicy
from pdf_assets.core.errors import DeviceOutOfMemoryError, ModelContractError, ModelLoadError, RepeatedItemError
from pdf_assets.core.memory_budget import GIB, clear_fitted, probe_size

T = TypeVar("T")


@pytest.fixture(autouse=True)
def _fresh_budgets() -> Iterator[None]:
    clear_fitted()
    yield
    clear_fitted()


def shuffled(n: int, seed: int = 7) -> list[int]:
    items = list(range(n))
    random.Random(seed).shuffle(items)
    return items


def expected(model: FakeModel[T, str], items: Sequence[T]) -> list[str]:
    """What an OOM-free, failure-free run returns: the fake's answer per item, in input order."""
    return [model.compute(item) for item in items]


def test_outputs_keep_input_order_while_batches_run_in_cost_order() -> None:
    items = shuffled(50)
    model: FakeModel[int, str] = FakeModel()
    run = run_batched("s", [model], items, BatchPolicy(batch_size=8, sort_by_cost=True))

    assert run.outputs == expected(model, items)
    ran = [int(i) for batch in model.forward_batches for i in batch]
    assert ran == sorted(items, reverse=True)
    assert run.metrics.batch_sizes == model.forward_sizes
    assert run.metrics.items == 50 and run.metrics.batches == len(model.forward_batches)
    assert not run.failures


def test_empty_input_touches_no_model() -> None:
    class Untouchable(FakeModel[int, str]):
        def preprocess(self, items: Sequence[int]) -> list[int]:
            raise AssertionError("preprocess called for empty input")

        def cost(self, item: int) -> float:
            raise AssertionError("cost called for empty input")

        def reset_peak_memory(self) -> None:
            raise AssertionError("memory hooks called for empty input")

    run = run_batched("s", [Untouchable()], [], BatchPolicy())
    assert run.outputs == [] and run.failures == {}
    assert (run.metrics.items, run.metrics.batches, run.metrics.batch_sizes) == (0, 0, [])
    assert run.metrics.oom_retries == 0 and run.metrics.seconds == 0.0


def test_oom_halves_down_to_the_limit_with_identical_results() -> None:
    items = shuffled(70)
    limit = 4
    plain: FakeModel[int, str] = FakeModel()
    reference = run_batched("s", [plain], items, BatchPolicy(batch_size=16))
    tight: FakeModel[int, str] = FakeModel(oom_above=limit)
    run = run_batched("s", [tight], items, BatchPolicy(batch_size=16))

    assert run.outputs == reference.outputs == expected(plain, items)
    assert not run.failures
    assert run.metrics.oom_retries > 0
    assert tight.free_calls == run.metrics.oom_retries
    assert max(run.metrics.batch_sizes) == limit
    assert sum(run.metrics.batch_sizes) == len(items)


def test_batch_grows_back_after_clean_batches() -> None:
    items = list(range(120))
    # Batches above 2 run out of memory for the first 3 forward calls (16, 8, 4), then fit.
    model: FakeModel[int, str] = FakeModel(oom_above=2, oom_for_calls=3)
    run = run_batched("s", [model], items, BatchPolicy(batch_size=16, grow_after=2, sort_by_cost=False))

    sizes = run.metrics.batch_sizes
    assert run.metrics.oom_retries == 3
    assert sizes[0] == 2
    first_big = next(i for i, size in enumerate(sizes) if size > 2)
    assert sizes[first_big:].count(16) > 0, "batch size never grew back to the configured size"
    assert sizes == sorted(sizes[:-1]) + sizes[-1:], "growth should only go up once memory allows"
    assert run.outputs == expected(model, items)


def test_repeated_oom_at_a_hard_limit_backs_off() -> None:
    items = list(range(400))
    model: FakeModel[int, str] = FakeModel(oom_above=3)
    run = run_batched("s", [model], items, BatchPolicy(batch_size=8, grow_after=2))
    batches = len(run.metrics.batch_sizes)
    # Retrying the failed size every 2 batches would cost ~batches/3 retries; backing off costs log.
    assert run.metrics.oom_retries < batches // 10
    assert run.outputs == expected(model, items)


def test_poisoned_item_is_isolated_and_recorded() -> None:
    items = [f"item-{i:02d}" for i in range(40)]
    model: FakeModel[str, str] = FakeModel(fail_on="item-17")
    run = run_batched("s", [model], items, BatchPolicy(batch_size=8))

    assert set(run.failures) == {17}
    assert run.failures[17].startswith("ValueError: ") and "item-17" in run.failures[17]
    good = expected(model, items)
    assert [o for i, o in enumerate(run.outputs) if i != 17] == [o for i, o in enumerate(good) if i != 17]
    assert run.outputs[17] is None
    assert run.metrics.failures == 1
    assert list(run.failures) == [17] and run.failures[17]


def test_postprocess_error_is_isolated_while_the_next_batch_runs() -> None:
    items = [f"item-{i:02d}" for i in range(40)]
    model: FakeModel[str, str] = FakeModel(fail_post_on="item-23")
    run = run_batched("s", [model], items, BatchPolicy(batch_size=8, sort_by_cost=False))

    assert run.failures == {23: "ValueError: fake cannot decode the output for item-23"}
    good = expected(model, items)
    assert [o for i, o in enumerate(run.outputs) if i != 23] == [o for i, o in enumerate(good) if i != 23]


def test_preprocess_error_is_isolated_too() -> None:
    class BadDecode(FakeModel[str, str]):
        def preprocess(self, items: Sequence[str]) -> list[str]:
            if "broken" in items:
                raise OSError("cannot decode image")
            return super().preprocess(items)

    items = ["a", "b", "broken", "c", "d", "e"]
    model = BadDecode()
    run = run_batched("s", [model], items, BatchPolicy(batch_size=4))
    assert run.failures == {2: "OSError: cannot decode image"}
    assert [o for o in run.outputs if o is not None] == [model.compute(i) for i in items if i != "broken"]


class HugeItemModel(FakeModel[str, str]):
    """Any batch holding the item "huge" runs out of memory, even on its own."""

    def forward(self, batch: list[str]) -> list[str]:
        if "huge" in batch:
            raise DeviceOutOfMemoryError(f"batch of {len(batch)} with a huge item")
        return super().forward(batch)


def test_oom_at_batch_size_one_becomes_a_recorded_failure() -> None:
    items = [f"x{i}" for i in range(10)] + ["huge"] + [f"y{i}" for i in range(10)]
    model = HugeItemModel()
    run = run_batched("s", [model], items, BatchPolicy(batch_size=8, sort_by_cost=False))

    huge = items.index("huge")
    assert set(run.failures) == {huge}
    assert run.failures[huge].startswith("DeviceOutOfMemoryError: ")
    assert all(run.outputs[i] == model.compute(item) for i, item in enumerate(items) if i != huge)
    assert run.metrics.oom_retries >= 3  # 8 -> 4 -> 2 -> 1


def test_min_batch_size_is_never_undercut() -> None:
    items = list(range(40))
    model: FakeModel[int, str] = FakeModel(oom_above=2)
    run = run_batched("s", [model], items, BatchPolicy(batch_size=16, min_batch_size=4))
    assert min(model.forward_sizes) >= 4
    # Nothing of 4 or more fits, so every item is recorded as out of memory, none is dropped.
    assert set(run.failures) == set(range(40))
    assert all(text.startswith("DeviceOutOfMemoryError") for text in run.failures.values())


class SystemicOn(FakeModel[int, str]):
    def forward(self, batch: list[int]) -> list[int]:
        if 13 in batch:
            raise ModelLoadError("weights vanished")
        return super().forward(batch)


@pytest.mark.parametrize("replicas", [1, 2])
def test_systemic_error_propagates(replicas: int) -> None:
    models = [SystemicOn(device=f"fake:{i}") for i in range(replicas)]
    with pytest.raises(ModelLoadError, match="weights vanished"):
        run_batched("s", models, list(range(64)), BatchPolicy(batch_size=4))


class OneShort(FakeModel[int, str]):
    """Breaks the contract: one output too few for every batch."""

    def postprocess(self, raw: list[int], items: Sequence[int]) -> list[str]:
        return super().postprocess(raw, items)[:-1]


class NotAList(FakeModel[int, str]):
    def postprocess(self, raw: list[int], items: Sequence[int]) -> list[str]:
        return "one string for the whole batch"  # type: ignore[return-value]


@pytest.mark.parametrize("replicas", [1, 2])
def test_output_count_mismatch_is_a_contract_error_at_the_first_batch(replicas: int) -> None:
    models = [OneShort(device=f"fake:{i}") for i in range(replicas)]
    with pytest.raises(ModelContractError, match="returned 7 outputs for 8 items"):
        run_batched("s", models, list(range(64)), BatchPolicy(batch_size=8))
    # No bisection over 64 items: each replica ran at most its first batches, not 2n forwards.
    assert sum(len(m.forward_batches) for m in models) <= 3 * replicas


def test_a_non_list_output_is_a_contract_error() -> None:
    with pytest.raises(ModelContractError, match="returned str, not a list of outputs"):
        run_batched("s", [NotAList()], list(range(16)), BatchPolicy(batch_size=4))


class AlwaysFails(FakeModel[int, str]):
    def forward(self, batch: list[int]) -> list[int]:
        super().forward(batch)
        raise RuntimeError("CUDA error: device-side assert triggered")


def test_the_same_error_on_every_item_of_a_batch_is_systemic() -> None:
    model = AlwaysFails()
    with pytest.raises(RepeatedItemError, match="failed every item of a batch of 8 alone") as info:
        run_batched("s", [model], list(range(64)), BatchPolicy(batch_size=8))
    assert "device-side assert" in str(info.value)
    # One batch bisected (8 + 4 + 4 + 2*4 + 8 singles = 15 forwards at most), not all 8 batches.
    assert len(model.forward_batches) <= 15 + 3


def test_a_small_batch_of_alike_failures_stays_item_level() -> None:
    """Below the threshold a few items failing alike are items, not a broken model."""
    model = AlwaysFails()
    run = run_batched("s", [model], [1, 2, 3], BatchPolicy(batch_size=8))
    assert set(run.failures) == {0, 1, 2}


def test_different_errors_on_every_item_stay_item_level() -> None:
    items = [f"bad-{i:02d}" for i in range(8)]
    run = run_batched("s", [FakeModel(fail_on="bad")], items, BatchPolicy(batch_size=8))
    assert set(run.failures) == set(range(8))
    assert len(set(run.failures.values())) == 8


class InterruptsMain(FakeModel[int, str]):
    """Raises an interrupt in the main thread (as a cancelled run's signal does) on its 3rd forward."""

    def forward(self, batch: list[int]) -> list[int]:
        if len(self.forward_batches) == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return super().forward(batch)


def test_an_interrupt_stops_every_replica_instead_of_finishing_the_stage() -> None:
    models = [InterruptsMain(device="fake:0", sleep_ms=20), FakeModel(device="fake:1", sleep_ms=20)]
    with pytest.raises(KeyboardInterrupt):
        run_batched("s", models, list(range(400)), BatchPolicy(batch_size=4, prefetch=1))
    # 100 batches in all; the replicas stop after what they hold, far from the end.
    assert sum(len(m.forward_batches) for m in models) < 30


class MeetingReplica(FakeModel[int, str]):
    """Its first forward waits until the other replica is in forward as well."""

    def __init__(self, device: str, barrier: threading.Barrier, oom_above: int | None = None) -> None:
        super().__init__(device=device, oom_above=oom_above)
        self._barrier = barrier
        self.met: bool | None = None

    def forward(self, batch: list[int]) -> list[int]:
        if self.met is None:
            try:
                self._barrier.wait(timeout=10)
                self.met = True
            except threading.BrokenBarrierError:
                self.met = False
        return super().forward(batch)


def test_two_replicas_share_the_work_and_keep_order() -> None:
    items = shuffled(90)
    single: FakeModel[int, str] = FakeModel()
    reference = run_batched("s", [single], items, BatchPolicy(batch_size=4))
    barrier = threading.Barrier(2)
    replicas = [MeetingReplica("fake:0", barrier), MeetingReplica("fake:1", barrier)]
    run = run_batched("s", replicas, items, BatchPolicy(batch_size=4))

    assert run.outputs == reference.outputs
    assert all(r.met for r in replicas), "replicas did not run side by side"
    assert all(r.forward_batches for r in replicas)
    ran = sorted(int(i) for r in replicas for batch in r.forward_batches for i in batch)
    assert ran == sorted(items), "every item ran exactly once"
    assert run.metrics.device == "fake:0,fake:1"


def test_prefetch_leaves_a_short_stage_split_evenly() -> None:
    # 6 batches, prefetch 3: the first replica to start must not queue 4 of them.
    models: list[FakeModel[int, str]] = [FakeModel(device=f"fake:{i}", sleep_ms=30) for i in range(2)]
    items = list(range(24))
    run = run_batched("s", models, items, BatchPolicy(batch_size=4, prefetch=3, sort_by_cost=False))

    assert run.outputs == expected(models[0], items)
    assert [len(m.forward_batches) for m in models] == [3, 3]


def test_each_replica_recovers_from_oom_on_its_own() -> None:
    items = shuffled(200)
    barrier = threading.Barrier(2)
    tight, roomy = MeetingReplica("fake:0", barrier, oom_above=2), MeetingReplica("fake:1", barrier)
    run = run_batched("s", [tight, roomy], items, BatchPolicy(batch_size=8, grow_after=1000))

    assert run.outputs == expected(roomy, items)
    assert tight.met and roomy.met
    assert tight.forward_sizes[:3] == [8, 4, 2]
    assert max(tight.forward_sizes[2:]) <= 2
    # The other replica keeps its own size well past the 3 batches it claimed before the OOM.
    assert roomy.free_calls == 0 and roomy.forward_sizes.count(8) > 6
    assert run.metrics.oom_retries == 2


def test_progress_reaches_total_and_never_goes_back() -> None:
    calls: list[tuple[str, int, int]] = []
    items = [f"item-{i}" for i in range(30)]

    def progress(stage: str, done: int, total: int) -> None:
        calls.append((stage, done, total))

    run_batched("s", [FakeModel(fail_on="item-7")], items, BatchPolicy(batch_size=4), progress)
    assert calls[-1] == ("s", 30, 30)
    done = [d for _, d, _ in calls]
    assert done == sorted(done)
    assert {t for _, _, t in calls} == {30}


class OverlapProbe(FakeModel[int, str]):
    """Batch 0's forward waits (bounded) for batch 1's preprocess to start, and notes whether it did."""

    def __init__(self, wait_s: float) -> None:
        super().__init__()
        self.wait_s = wait_s
        self.events: list[str] = []
        self._lock_events = threading.Lock()
        self._second_started = threading.Event()
        self.overlapped: bool | None = None

    def _note(self, event: str) -> None:
        with self._lock_events:
            self.events.append(event)

    def preprocess(self, items: Sequence[int]) -> list[int]:
        self._note(f"pre-start {items[0]}")
        if items[0] == 4:
            self._second_started.set()
        return super().preprocess(items)

    def forward(self, batch: list[int]) -> list[int]:
        if batch[0] == 0:
            self.overlapped = self._second_started.wait(self.wait_s)
        out = super().forward(batch)
        self._note(f"forward-end {batch[0]}")
        return out


@pytest.mark.parametrize(("prefetch", "wait_s", "overlaps"), [(2, 10.0, True), (0, 0.3, False)])
def test_next_batch_is_preprocessed_while_the_device_works(prefetch: int, wait_s: float, overlaps: bool) -> None:
    model = OverlapProbe(wait_s)
    items = list(range(12))
    run = run_batched("s", [model], items, BatchPolicy(batch_size=4, prefetch=prefetch, sort_by_cost=False))

    assert run.outputs == expected(model, items)
    assert model.overlapped is overlaps
    started_next = model.events.index("pre-start 4")
    finished_first = model.events.index("forward-end 0")
    assert (started_next < finished_first) is overlaps


def test_memory_budget_fits_batch_from_measured_peak() -> None:
    per_item, total, fraction, baseline = 1_000, 100_000, 0.5, 10_000
    policy = BatchPolicy(batch_size=64, max_memory_fraction=fraction)
    model: FakeModel[int, str] = FakeModel(memory_per_item=per_item, total_memory=total, baseline_memory=baseline)
    items = list(range(300))
    run = run_batched("s", [model], items, policy)

    fit = int((total * fraction - baseline) // per_item)
    assert run.metrics.batch_sizes[0] == probe_size(policy)
    assert run.metrics.batch_sizes[1] == fit
    assert max(run.metrics.batch_sizes) == fit
    assert run.metrics.peak_memory_bytes == baseline + fit * per_item
    assert run.outputs == expected(model, items)

    # Remembered for the process: a new replica of the same model starts at the fitted size.
    again: FakeModel[int, str] = FakeModel(memory_per_item=per_item, total_memory=total, baseline_memory=baseline)
    assert run_batched("s", [again], items, policy).metrics.batch_sizes[0] == fit


def test_absolute_budget_caps_at_configured_size() -> None:
    model: FakeModel[int, str] = FakeModel(memory_per_item=GIB // 64)
    run = run_batched("s", [model], list(range(200)), BatchPolicy(batch_size=32, max_memory_gib=1.0))
    assert max(run.metrics.batch_sizes) == 32  # 64 would fit the budget; the configured size wins

    small: FakeModel[int, str] = FakeModel(name="other", memory_per_item=GIB // 64)
    run = run_batched("s", [small], list(range(200)), BatchPolicy(batch_size=128, max_memory_gib=0.25))
    assert run.metrics.batch_sizes[1:-1] == [16] * (len(run.metrics.batch_sizes) - 2)


def test_no_budget_without_memory_numbers() -> None:
    model: FakeModel[int, str] = FakeModel()  # reports no peak and no total memory
    run = run_batched("s", [model], list(range(40)), BatchPolicy(batch_size=8, max_memory_fraction=0.5))
    assert run.metrics.batch_sizes == [8] * 5


class PostOverlapProbe(FakeModel[int, str]):
    """Batch 0's postprocess waits (bounded) for batch 1's forward to start, and notes whether it did."""

    def __init__(self) -> None:
        super().__init__()
        self._second_forward = threading.Event()
        self.overlapped: bool | None = None

    def forward(self, batch: list[int]) -> list[int]:
        if batch[0] == 4:
            self._second_forward.set()
        return super().forward(batch)

    def postprocess(self, raw: list[int], items: Sequence[int]) -> list[str]:
        if raw[0] == 0:
            self.overlapped = self._second_forward.wait(10.0)
        return super().postprocess(raw, items)


def test_postprocess_runs_while_the_next_forward_does() -> None:
    model = PostOverlapProbe()
    items = list(range(12))
    run = run_batched("s", [model], items, BatchPolicy(batch_size=4, sort_by_cost=False))

    assert run.outputs == expected(model, items)
    assert model.overlapped is True

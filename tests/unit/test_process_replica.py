"""Replicas in worker processes behave exactly like in-process ones under the batch runner."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from functools import partial

import pytest

from pdf_assets.backends import fake
from pdf_assets.backends.process_replica import ProcessReplica
from pdf_assets.core.batching import run_batched
from pdf_assets.core.config import BatchPolicy, ModelSpec
from pdf_assets.core.errors import SystemicError, WorkerLostError

ITEMS = [f"item-{i:03d}" for i in range(40)]


@pytest.fixture()
def replicas(request: pytest.FixtureRequest) -> Iterator[list[ProcessReplica[str, object]]]:
    options: dict[str, object] = getattr(request, "param", {})
    started = [ProcessReplica(partial(fake.FakeModel, "fake", f"fake:{i}", **options)) for i in range(2)]
    yield started
    for replica in started:
        replica.close()


def _reference() -> list[object]:
    model: fake.FakeModel[str, object] = fake.FakeModel()
    return [model.run([item])[0] for item in ITEMS]


def test_two_worker_processes_return_ordered_identical_results(replicas: list[ProcessReplica[str, object]]) -> None:
    run = run_batched("ocr", replicas, ITEMS, BatchPolicy(batch_size=4))
    assert run.outputs == _reference()
    assert not run.failures
    assert {r.device for r in replicas} == {"fake:0", "fake:1"}
    assert run.metrics.device == "fake:0,fake:1"


@pytest.mark.parametrize("replicas", [{"oom_above": 3}], indirect=True)
def test_out_of_memory_in_a_worker_halves_the_batch(replicas: list[ProcessReplica[str, object]]) -> None:
    run = run_batched("ocr", replicas, ITEMS, BatchPolicy(batch_size=8, grow_after=1000))
    assert run.outputs == _reference()
    assert run.metrics.oom_retries > 0 and max(run.metrics.batch_sizes) <= 3


@pytest.mark.parametrize("replicas", [{"fail_on": "item-017"}], indirect=True)
def test_a_poisoned_item_in_a_worker_is_isolated(replicas: list[ProcessReplica[str, object]]) -> None:
    run = run_batched("ocr", replicas, ITEMS, BatchPolicy(batch_size=8))
    assert list(run.failures) == [ITEMS.index("item-017")]
    expected = _reference()
    assert all(out == expected[i] for i, out in enumerate(run.outputs) if i not in run.failures)


@pytest.mark.parametrize("replicas", [{"fail_post_on": "item-029"}], indirect=True)
def test_a_postprocess_error_in_a_worker_is_isolated(replicas: list[ProcessReplica[str, object]]) -> None:
    run = run_batched("ocr", replicas, ITEMS, BatchPolicy(batch_size=8))
    assert run.failures == {29: "WorkerItemError: ValueError: fake cannot decode the output for item-029"}
    expected = _reference()
    assert all(out == expected[i] for i, out in enumerate(run.outputs) if i != 29)


def test_worker_timings_account_for_each_batch(replicas: list[ProcessReplica[str, object]]) -> None:
    run_batched("ocr", replicas, ITEMS, BatchPolicy(batch_size=4))
    timings = [replica.worker_timings() for replica in replicas]
    assert sum(t["batches"] for t in timings) == len(ITEMS) // 4
    assert all(t["forward"] >= 0 and t["postprocess"] >= 0 for t in timings)
    assert [replica.worker_timings()["batches"] for replica in replicas] == [0, 0]  # taken means reset


def test_a_replica_that_cannot_load_is_a_systemic_error() -> None:
    with pytest.raises(SystemicError, match="failed to load"):
        spec = ModelSpec(stage="ocr", backend="fake", options=(("systemic", "1"),))
        ProcessReplica(partial(fake.load, spec, "fake:0"))


class HangsOn(fake.FakeModel[str, object]):
    """Its forward never returns for a batch holding `item` (a hung CUDA kernel, a deadlock)."""

    def __init__(self, item: str) -> None:
        super().__init__("fake", "fake:hang")
        self.item = item

    def forward(self, batch: list[str]) -> list[str]:
        if self.item in batch:
            time.sleep(3600)
        return super().forward(batch)


class DiesOn(fake.FakeModel[str, object]):
    """Its process dies on a batch holding `item` (a segfault); a poisoned item fails first."""

    def __init__(self, item: str) -> None:
        super().__init__("fake", "fake:die", fail_on="item-001")
        self.item = item

    def forward(self, batch: list[str]) -> list[str]:
        if self.item in batch:
            os._exit(3)
        return super().forward(batch)


def test_a_hung_worker_fails_the_stage_once_with_a_systemic_error() -> None:
    replica: ProcessReplica[str, object] = ProcessReplica(partial(HangsOn, "item-020"), timeout_s=2)
    try:
        with pytest.raises(WorkerLostError, match="no answer within 2 s") as info:
            run_batched("ocr", [replica], ITEMS, BatchPolicy(batch_size=8, sort_by_cost=False))
        assert isinstance(info.value, SystemicError)
        # Killed, and every later call fails at once instead of waiting out the timeout again.
        replica.join(10)
        assert not replica.is_alive()
        with pytest.raises(WorkerLostError):
            replica.peak_memory_bytes()
    finally:
        replica.close()


def test_a_dead_worker_is_systemic_and_names_its_last_error() -> None:
    replica: ProcessReplica[str, object] = ProcessReplica(partial(DiesOn, "item-020"))
    try:
        with pytest.raises(WorkerLostError, match="exit code 3") as info:
            run_batched("ocr", [replica], ITEMS, BatchPolicy(batch_size=8, sort_by_cost=False))
        assert "fake cannot handle item-001" in str(info.value)
    finally:
        replica.close()


@pytest.mark.parametrize("replicas", [{"oom_above": 3}], indirect=True)
def test_batches_dropped_after_out_of_memory_are_released_in_the_worker(
    replicas: list[ProcessReplica[str, object]],
) -> None:
    run = run_batched("ocr", replicas, ITEMS, BatchPolicy(batch_size=8, prefetch=4, grow_after=1000))
    assert run.outputs == _reference() and run.metrics.oom_retries > 0
    assert [replica.pending_batches() for replica in replicas] == [0, 0]

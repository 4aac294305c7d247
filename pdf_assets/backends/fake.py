"""Deterministic fake backends, selectable by config (`ModelSpec(backend="fake")`).

They let the whole pipeline, the Dagster graph and the batch runner be tested without
weights or a GPU: every output is computed from the item alone (so batched, page-by-page,
one-replica and many-replica runs agree), and the hard cases are switchable by options:

- `oom_above=N`: `forward` raises `DeviceOutOfMemoryError` for batches larger than N
  (`oom_for_calls=K` limits that to the first K forward calls, to watch the batch grow back);
- `fail_on=S`: `forward` raises `ValueError` when an item's id contains S;
- `fail_post_on=S`: the same in `postprocess` (errors in the phase that overlaps the next
  batch's forward);
- `sleep_ms` / `sleep_item_ms`: simulated device time per batch / per item;
- `memory_per_item`, `total_memory` (bytes): simulated peak memory and capacity, for
  memory budgets; a batch that would not fit `total_memory` raises out-of-memory;
- `systemic=1`: loading fails with `ModelLoadError`;
- `replicas=N`: N replicas on devices `fake:0` .. `fake:N-1` (data parallel without GPUs).

An item's id is its region slug for crops, `doc_id:page_no` for pages, `str(item)` otherwise.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Generic, TypeVar

from pdf_assets.core.config import ModelSpec
from pdf_assets.core.errors import ConfigError, DeviceOutOfMemoryError, ModelLoadError
from pdf_assets.core.model import BatchModel, pixel_cost
from pdf_assets.core.types import (
    Box,
    ChartData,
    Crop,
    DetectedRegion,
    OcrText,
    PageRef,
    TableCell,
    TableStructure,
)

ItemT = TypeVar("ItemT")
OutT = TypeVar("OutT")

_INT_OPTIONS = ("oom_above", "oom_for_calls", "sleep_ms", "sleep_item_ms", "memory_per_item", "total_memory")


def item_id(item: object) -> str:
    """The id that `fail_on` matches and fake outputs are derived from."""
    if isinstance(item, Crop):
        return item.region.key.slug()
    if isinstance(item, PageRef):
        return f"{item.doc_id}:{item.page_no}"
    return str(item)


def item_cost(item: object) -> float:
    """Pixels for images (`pixel_cost`), the value for numbers, the length for anything else."""
    if isinstance(item, Crop | PageRef):
        return pixel_cost(item)
    if isinstance(item, int | float):
        return float(item)
    return float(len(str(item)))


class FakeModel(BatchModel[ItemT, list[ItemT], list[ItemT], OutT], Generic[ItemT, OutT]):
    """A generic fake: identity preprocess and forward, `compute(item)` per item in postprocess.

    With plain ints or strings as items it is the runner's test double; the stage fakes
    below only override `compute`. Records (`forward_batches`, `preprocess_calls`) let tests
    check what the runner actually did.
    """

    def __init__(
        self,
        name: str = "fake",
        device: str = "cpu",
        *,
        oom_above: int | None = None,
        oom_for_calls: int | None = None,
        fail_on: str | None = None,
        fail_post_on: str | None = None,
        sleep_ms: int = 0,
        sleep_item_ms: int = 0,
        memory_per_item: int = 0,
        total_memory: int = 0,
        baseline_memory: int = 0,
    ) -> None:
        self.name = name
        self.device = device
        self.oom_above = oom_above
        self.oom_for_calls = oom_for_calls
        self.fail_on = fail_on
        self.fail_post_on = fail_post_on
        self.sleep_ms = sleep_ms
        self.sleep_item_ms = sleep_item_ms
        self.memory_per_item = memory_per_item
        self.total_memory = total_memory
        self.baseline_memory = baseline_memory
        self.forward_batches: list[list[str]] = []  # item ids of every forward call, in call order
        self.preprocess_calls = 0
        self.free_calls = 0
        self._peak = baseline_memory
        self._lock = threading.Lock()

    @property
    def forward_sizes(self) -> list[int]:
        return [len(batch) for batch in self.forward_batches]

    def compute(self, item: ItemT) -> OutT:
        """The deterministic answer for one item; the generic fake echoes the item's id."""
        return f"{self.name}:{item_id(item)}"  # type: ignore[return-value]

    def cost(self, item: ItemT) -> float:
        return item_cost(item)

    def preprocess(self, items: Sequence[ItemT]) -> list[ItemT]:
        with self._lock:
            self.preprocess_calls += 1
        return list(items)

    def forward(self, batch: list[ItemT]) -> list[ItemT]:
        with self._lock:
            call = len(self.forward_batches)
            self.forward_batches.append([item_id(item) for item in batch])
        self._check_memory(len(batch), call)
        if self.fail_on is not None:
            bad = [item_id(item) for item in batch if self.fail_on in item_id(item)]
            if bad:
                raise ValueError(f"{self.name} cannot handle {bad[0]}")
        if self.sleep_ms or self.sleep_item_ms:
            time.sleep((self.sleep_ms + self.sleep_item_ms * len(batch)) / 1000)
        return batch

    def _check_memory(self, n: int, call: int) -> None:
        """Raise the out-of-memory error a real device would, and track the peak it would see."""
        oom_active = self.oom_for_calls is None or call < self.oom_for_calls
        if oom_active and self.oom_above is not None and n > self.oom_above:
            raise DeviceOutOfMemoryError(f"{self.name}: batch of {n} does not fit (limit {self.oom_above})")
        need = self.baseline_memory + n * self.memory_per_item
        if self.total_memory and need > self.total_memory:
            raise DeviceOutOfMemoryError(f"{self.name}: {need} bytes needed, {self.total_memory} available")
        with self._lock:
            self._peak = max(self._peak, need)

    def postprocess(self, raw: list[ItemT], items: Sequence[ItemT]) -> list[OutT]:
        if self.fail_post_on is not None:
            bad = [item_id(item) for item in raw if self.fail_post_on in item_id(item)]
            if bad:
                raise ValueError(f"{self.name} cannot decode the output for {bad[0]}")
        return [self.compute(item) for item in raw]

    def free_memory(self) -> None:
        with self._lock:
            self.free_calls += 1

    def reset_peak_memory(self) -> None:
        with self._lock:
            self._peak = self.baseline_memory

    def peak_memory_bytes(self) -> int:
        return self._peak if self.memory_per_item else 0

    def total_memory_bytes(self) -> int:
        return self.total_memory


class FakeLayout(FakeModel[PageRef, list[DetectedRegion]]):
    """A title, a text block, a table and a figure stacked down the page, inside its bounds."""

    def compute(self, item: PageRef) -> list[DetectedRegion]:
        w, h = item.width_pt, item.height_pt
        bands = (("title", 0.05, 0.10, 0.97), ("text", 0.12, 0.40, 0.93), ("table", 0.42, 0.65, 0.91),
                 ("figure", 0.67, 0.92, 0.89))  # fmt: skip
        return [DetectedRegion(label, Box(0.1 * w, y0 * h, 0.9 * w, y1 * h), score) for label, y0, y1, score in bands]


class FakeOcr(FakeModel[Crop, OcrText]):
    def compute(self, item: Crop) -> OcrText:
        return OcrText(text=f"text {item.region.key.slug()}", confidence=0.99)


class FakeTables(FakeModel[Crop, TableStructure]):
    """A 2x2 grid whose first row is the header."""

    def compute(self, item: Crop) -> TableStructure:
        slug = item.region.key.slug()
        cells = (
            TableCell(0, 0, "name", is_header=True),
            TableCell(0, 1, "value", is_header=True),
            TableCell(1, 0, slug),
            TableCell(1, 1, str(item.region.key.index)),
        )
        return TableStructure(n_rows=2, n_cols=2, cells=cells)


class FakeFigures(FakeModel[Crop, ChartData]):
    """A two-row chart table, with the DePlot-style raw text it would have been parsed from."""

    def compute(self, item: Crop) -> ChartData:
        title = f"chart {item.region.key.slug()}"
        header = ("label", "value")
        rows = (("a", str(item.width_px)), ("b", str(item.height_px)))
        lines = [f"TITLE | {title}", " | ".join(header), *(" | ".join(r) for r in rows)]
        return ChartData(raw_text=" <0x0A> ".join(lines), title=title, header=header, rows=rows)


StageFake = (
    FakeModel[PageRef, list[DetectedRegion]]
    | FakeModel[Crop, OcrText]
    | FakeModel[Crop, TableStructure]
    | FakeModel[Crop, ChartData]
)

_STAGE_MODELS: dict[str, type[StageFake]] = {
    "layout": FakeLayout,
    "ocr": FakeOcr,
    "tables": FakeTables,
    "figures": FakeFigures,
}


def devices_for(spec: ModelSpec) -> list[str]:
    """One CPU replica, or `replicas=N` pretend devices to exercise data parallelism."""
    replicas = spec.optional_int("replicas")
    if replicas is None:
        return ["cpu"]
    if replicas < 1:
        raise ConfigError(f"fake backend option replicas={replicas} must be >= 1")
    return [f"fake:{i}" for i in range(replicas)]


def load(spec: ModelSpec, device: str) -> StageFake:
    """The stage's fake on `device`, configured from `spec.options`."""
    spec.reject_unknown_options((*_INT_OPTIONS, "fail_on", "fail_post_on", "systemic", "replicas"))
    if spec.option("systemic") == "1":
        raise ModelLoadError(f"fake {spec.stage} model on {device} is configured to fail loading (systemic=1)")
    ints = {key: spec.optional_int(key) for key in _INT_OPTIONS}
    return _STAGE_MODELS[spec.stage](
        f"fake.{spec.stage}",
        device,
        oom_above=ints["oom_above"],
        oom_for_calls=ints["oom_for_calls"],
        fail_on=spec.option("fail_on"),
        fail_post_on=spec.option("fail_post_on"),
        sleep_ms=ints["sleep_ms"] or 0,
        sleep_item_ms=ints["sleep_item_ms"] or 0,
        memory_per_item=ints["memory_per_item"] or 0,
        total_memory=ints["total_memory"] or 0,
    )

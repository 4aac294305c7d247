"""The contract between the batch runner and every backend.

A backend splits its work into three phases so the runner can overlap them:
`preprocess` (CPU, may run on a worker thread while the device is busy), `forward`
(the device; the only phase that may raise an out-of-memory error), and `postprocess`
(CPU, back to plain dataclasses; it runs on another thread while the next batch's
`forward` does, so it must not touch state that `forward` mutates). One output per input,
same order, `[]` for `[]`.
Batch size belongs to the runner, never to the backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Generic, TypeVar

from pdf_assets.core.errors import DeviceOutOfMemoryError
from pdf_assets.core.types import Crop, PageRef

ItemT = TypeVar("ItemT")
BatchT = TypeVar("BatchT")
RawT = TypeVar("RawT")
OutT = TypeVar("OutT")


class BatchModel(ABC, Generic[ItemT, BatchT, RawT, OutT]):
    """A loaded model replica bound to one device."""

    #: short backend name for metrics, e.g. "embedded.layout" or "hf.trocr"
    name: str = "model"
    #: the device this replica runs on, e.g. "cpu" or "cuda:0"
    device: str = "cpu"

    @abstractmethod
    def preprocess(self, items: Sequence[ItemT]) -> BatchT:
        """Decode, crop, resize and normalise on the CPU; no device work here."""

    @abstractmethod
    def forward(self, batch: BatchT) -> RawT:
        """Run the model on the device. May raise an out-of-memory error."""

    @abstractmethod
    def postprocess(self, raw: RawT, items: Sequence[ItemT]) -> list[OutT]:
        """Turn raw model output into one plain result per item, in order."""

    def cost(self, item: ItemT) -> float:
        """A size estimate used to sort items so a batch holds similar sizes (less padding)."""
        return 0.0

    def is_out_of_memory(self, exc: BaseException) -> bool:
        """Whether `exc` means the batch did not fit; torch backends add CUDA's error."""
        return isinstance(exc, DeviceOutOfMemoryError | MemoryError)

    def free_memory(self) -> None:
        """Release cached device memory after an out-of-memory error."""

    def reset_peak_memory(self) -> None:
        """Start a new peak-memory measurement."""

    def peak_memory_bytes(self) -> int:
        """Peak device memory since the last reset (0 where it cannot be measured)."""
        return 0

    def run(self, items: Sequence[ItemT]) -> list[OutT]:
        """All three phases on one batch, checking the one-output-per-input contract."""
        if not items:
            return []
        outputs = self.postprocess(self.forward(self.preprocess(items)), items)
        if len(outputs) != len(items):
            raise RuntimeError(f"{self.name} returned {len(outputs)} outputs for {len(items)} items")
        return outputs


def pixel_cost(item: object) -> float:
    """Pixels of a crop or a rendered page, 0.0 for anything else: the size estimate of
    backends whose work grows with the image's area. One definition, so a worker-process
    replica (which cannot ask the model in its worker) and the fakes sort items the same way."""
    if isinstance(item, Crop):
        return float(item.width_px * item.height_px)
    if isinstance(item, PageRef):
        return item.width_pt * item.height_pt * item.px_per_pt**2
    return 0.0

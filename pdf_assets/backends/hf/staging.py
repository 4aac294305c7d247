"""Upload-ahead: prepare the next batch on the GPU while the model computes the current one.

A preprocessing thread of the batch runner copies a batch's images to the device and runs
the (torchvision) image processor there, on a side CUDA stream, and records an event; the
forward makes the compute stream wait for that event. The host-to-device copy and the
processor's many small launches thus leave the forward's critical path, which matters most
when several GPUs share one host's CPU. Images are copied from pinned (page-locked) memory,
so the copy is a DMA transfer that costs the CPU nothing.

It holds `prefetch` extra batches in GPU memory: `PDF_ASSETS_UPLOAD_AHEAD=0` turns it off
(the processor then runs inside the forward).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T")


def upload_ahead_enabled() -> bool:
    """On unless `PDF_ASSETS_UPLOAD_AHEAD=0`."""
    return os.environ.get("PDF_ASSETS_UPLOAD_AHEAD", "1") != "0"


class SideStream:
    """A CUDA stream of one device for preprocessing threads, and the hand-over to compute."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.stream = torch.cuda.Stream(device)

    def run(self, prepare: Callable[[], T]) -> tuple[T, torch.cuda.Event]:
        """Run `prepare` with the side stream current; the event marks when its work is done."""
        with torch.cuda.device(self.device), torch.cuda.stream(self.stream):
            out = prepare()
            ready = torch.cuda.Event()
            ready.record(self.stream)
        return out, ready


def side_stream(device: str, fast_processor: bool) -> SideStream | None:
    """A side stream where upload-ahead applies: a GPU, a processor that runs there, enabled."""
    if device.startswith("cuda") and fast_processor and upload_ahead_enabled():
        return SideStream(device)
    return None


def adopt(device: str, ready: torch.cuda.Event | None, tensors: Iterable[torch.Tensor | None]) -> None:
    """Make the compute stream wait for an uploaded batch and own its memory: without
    `record_stream` the allocator could hand those blocks to the next upload while the
    model still reads them."""
    if ready is None:
        return
    stream = torch.cuda.current_stream(device)
    stream.wait_event(ready)
    for tensor in tensors:
        if tensor is not None:
            tensor.record_stream(stream)


def to_device(images: Iterable[np.ndarray | torch.Tensor], device: str) -> list[torch.Tensor]:
    """HWC uint8 images -> CHW tensors on `device`, copied from pinned memory without blocking.

    Call it with the side stream current. The caching host allocator keeps each pinned
    buffer until its copy has completed, then reuses it, so pinning costs no syscalls in
    steady state.
    """
    out: list[torch.Tensor] = []
    for image in images:
        if isinstance(image, torch.Tensor):
            host = image if image.is_pinned() else image.pin_memory()
        else:
            host = torch.empty(image.shape, dtype=torch.uint8, pin_memory=True)
            host.numpy()[...] = image
        out.append(host.to(device, non_blocking=True).permute(2, 0, 1))
    return out

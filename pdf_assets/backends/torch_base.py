"""Shared torch plumbing for backends: OOM detection, memory accounting, dtype choice.

Imported only by torch-based backends, so the embedded default never pulls in torch.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Sequence

import torch

from pdf_assets.core.errors import ConfigError
from pdf_assets.core.model import BatchModel, BatchT, ItemT, OutT, RawT

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def torch_dtype(name: str, device: str) -> torch.dtype:
    """`auto` means fp16 on CUDA (every model here is inference-only) and fp32 on CPU."""
    if name == "auto":
        return torch.float16 if device.startswith("cuda") else torch.float32
    if name not in _DTYPES:
        raise ConfigError(f"unknown dtype {name!r}")
    return _DTYPES[name]


def cudnn_autotune_enabled() -> bool:
    """Whether cuDNN may time its kernels for each new input shape (`PDF_ASSETS_CUDNN_BENCHMARK=1`).

    Off by default. Measured on an H200 over 1,015 real pages of mixed sizes (DETR-R50 and
    Table Transformer, fp16, channels-last, padded-size buckets): once tuned, autotuned
    kernels were no faster than cuDNN's heuristics (layout 3.6 s vs 3.2 s, tables 1.9 vs 1.8),
    but the first run paid 12 s of tuning for the shapes it met: more than the layout
    stage itself.
    """
    return os.environ.get("PDF_ASSETS_CUDNN_BENCHMARK", CUDNN_BENCHMARK_DEFAULT) == "1"


CUDNN_BENCHMARK_DEFAULT = "0"


def apply_cudnn_autotune() -> None:
    """Set cuDNN's benchmark mode (process-wide) from `cudnn_autotune_enabled`."""
    torch.backends.cudnn.benchmark = cudnn_autotune_enabled()


def is_torch_oom(exc: BaseException) -> bool:
    """CUDA's OOM, or the CPU allocator's 'out of memory' for huge inputs."""
    if isinstance(exc, torch.cuda.OutOfMemoryError | MemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


class TorchBatchModel(BatchModel[ItemT, BatchT, RawT, OutT]):
    """Base for torch backends: memory hooks the batch runner calls around OOM recovery."""

    def is_out_of_memory(self, exc: BaseException) -> bool:
        return super().is_out_of_memory(exc) or is_torch_oom(exc)

    def free_memory(self) -> None:
        gc.collect()
        if self.device.startswith("cuda"):
            torch.cuda.empty_cache()

    def reset_peak_memory(self) -> None:
        if self.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats(self.device)

    def peak_memory_bytes(self) -> int:
        if self.device.startswith("cuda"):
            return int(torch.cuda.max_memory_allocated(self.device))
        return 0

    def total_memory_bytes(self) -> int:
        """The device's capacity, for memory budgets (0 on CPU: no budget applies)."""
        if self.device.startswith("cuda"):
            return int(torch.cuda.get_device_properties(self.device).total_memory)
        return 0

    def to_device(self, tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Non-blocking host-to-device copies (inputs are pinned by preprocess on CUDA)."""
        return [t.to(self.device, non_blocking=True) for t in tensors]

"""Device resolution in one place: `auto | cpu | cuda | cuda:N | cuda:all`, loud on failure.

Called when a model loads, never at import time, so importing the package never
initialises CUDA.
"""

from __future__ import annotations

import re

from pdf_assets.core.errors import ConfigError, DeviceUnavailableError

_PATTERN = re.compile(r"^(auto|cpu|cuda|cuda:all|cuda:\d+)$")


def validate_device(device: str) -> str:
    """Reject a malformed device string early (config time), without touching torch."""
    if not _PATTERN.match(device):
        raise ConfigError(f"device {device!r} is not one of auto, cpu, cuda, cuda:N, cuda:all")
    return device


def resolve_devices(device: str) -> list[str]:
    """Concrete torch device names for a device setting (one per replica)."""
    validate_device(device)
    if device == "cpu":
        return ["cpu"]
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if device == "auto":
        return ["cuda:0"] if count else ["cpu"]
    if count == 0:
        raise DeviceUnavailableError(f"device {device!r} requested but CUDA is not available here")
    if device == "cuda":
        return ["cuda:0"]
    if device == "cuda:all":
        return [f"cuda:{i}" for i in range(count)]
    index = int(device.split(":")[1])
    if index >= count:
        raise DeviceUnavailableError(f"device {device!r} requested but only {count} GPU(s) are visible")
    return [device]

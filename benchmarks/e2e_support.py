"""Measurement plumbing for the end-to-end benchmark: samplers, a recording engine, digests.

Kept apart from `end_to_end.py` so the script reads as the experiment it runs.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from pdf_assets.core.batching import StageRun
from pdf_assets.stages.engine import InferenceEngine
from pdf_assets.stages.pipeline import PipelineOutputs

ItemT = TypeVar("ItemT")
OutT = TypeVar("OutT")


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        import psutil

        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except Exception:  # noqa: BLE001 - no psutil or a child that just exited
        return []


class Sampler:
    """Samples GPU utilisation (NVML) and host memory every `interval` seconds."""

    def __init__(self, device: str | None, interval: float = 0.05) -> None:
        self.device = device if device and device.startswith("cuda") else None
        self.interval = interval
        self.util: list[float] = []
        self.rss_start = _rss_bytes(os.getpid())
        self.rss_peak = 0
        self.rss_all_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        pid = os.getpid()
        while not self._stop.is_set():
            rss = _rss_bytes(pid)
            self.rss_peak = max(self.rss_peak, rss)
            self.rss_all_peak = max(self.rss_all_peak, rss + sum(_rss_bytes(c) for c in _children(pid)))
            util = _gpu_util(self.device) if self.device else None
            if util is not None:
                self.util.append(util)
            self._stop.wait(self.interval)

    @property
    def gpu_busy_share(self) -> float | None:
        return sum(self.util) / (100.0 * len(self.util)) if self.util else None


def _gpu_util(device: str) -> float | None:
    """NVML's utilisation; None where it cannot be read, so the report says "-", not 0%."""
    import torch

    try:
        return float(torch.cuda.utilization(device))
    except Exception:  # noqa: BLE001 - NVML missing: report nothing rather than fail the run
        return None


@dataclass
class StageCall:
    stage: str
    items: list[object]
    seconds: float


@dataclass
class RecordingEngine(InferenceEngine):
    """An engine that remembers what each stage was given, to time the models alone later."""

    calls: list[StageCall] = field(default_factory=list)

    def run(self, stage: str, items: Sequence[ItemT]) -> StageRun[OutT]:
        started = time.perf_counter()
        result: StageRun[OutT] = super().run(stage, items)
        self.calls.append(StageCall(stage, list(items), time.perf_counter() - started))
        return result


def model_only_seconds(engine: InferenceEngine, calls: Sequence[StageCall]) -> dict[str, float]:
    """Each stage's items once more through its models alone (the same runner, no pipeline),
    all of a stage's items in one run: a stage the pipeline ran in chunks (layout, streamed
    behind the render) is timed as if it had every item at once."""
    items: dict[str, list[object]] = {}
    for call in calls:
        items.setdefault(call.stage, []).extend(call.items)
    seconds: dict[str, float] = {}
    for stage, stage_items in items.items():
        if not stage_items:
            continue
        started = time.perf_counter()
        engine.run(stage, stage_items)
        seconds[stage] = time.perf_counter() - started
    return seconds


def output_digest(out: PipelineOutputs) -> dict[str, str]:
    """A stable digest of each step's results (paths and run-specific ids left out)."""

    def digest(rows: list[str]) -> str:
        return hashlib.sha256("\n".join(sorted(rows)).encode()).hexdigest()[:16]

    regions = [f"{r.partition}|{r.key}|{r.label}|{r.box}" for m in out.categorized.values() for r in m.regions]
    texts = [f"{t.partition}|{t.key}|{t.source}|{t.text}" for m in out.texts.values() for t in m.results]
    tables = [f"{t.partition}|{t.key}|{t.csv}" for m in out.tables.values() for t in m.results]
    # DePlot's greedy decoding of random weights is not reproducible run to run on the GPU
    # (near-tied logits, non-deterministic kernels): its text is left out, not its presence.
    figures = [f"{f.partition}|{f.key}|{f.caption}|{f.chart is None}" for m in out.figures.values() for f in m.results]
    return {"regions": digest(regions), "texts": digest(texts), "tables": digest(tables), "figures": digest(figures)}

"""Asset metadata and Dagster-log progress for stage runs."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from dagster import AssetExecutionContext, MetadataValue

from pdf_assets.core.types import ItemFailure, StageMetrics
from pdf_assets.core.work_queue import Progress
from pdf_assets.stages.engine import InferenceEngine, log_progress


def run_log_progress(context: AssetExecutionContext) -> Progress:
    """Stage progress in the run's log at most every 2 s, plus the final count (and, through
    the progress logger, the CLI's bars)."""
    last = {"t": 0.0}

    def report(stage: str, done: int, total: int) -> None:
        log_progress(stage, done, total)
        now = time.monotonic()
        if done == total or now - last["t"] > 2.0:
            last["t"] = now
            context.log.info(f"{stage}: {done}/{total} items ({100 * done // max(total, 1)}%)")

    return report


def progress_to_log(context: AssetExecutionContext, engine: InferenceEngine) -> InferenceEngine:
    engine.progress = run_log_progress(context)
    return engine


def metrics_metadata(metrics: Iterable[StageMetrics]) -> dict[str, MetadataValue]:
    out: dict[str, MetadataValue] = {}
    for m in metrics:
        d = m.as_dict()
        prefix = m.stage
        for field in ("items", "batches", "max_batch_size", "oom_retries", "failures"):
            out[f"{prefix}/{field}"] = MetadataValue.int(int(d[field]))
        out[f"{prefix}/seconds"] = MetadataValue.float(float(d["seconds"]))
        out[f"{prefix}/items_per_s"] = MetadataValue.float(float(d["items_per_s"]))
        out[f"{prefix}/backend"] = MetadataValue.text(f"{m.backend} on {m.device}")
        if m.peak_memory_bytes:
            out[f"{prefix}/peak_memory_mib"] = MetadataValue.float(round(m.peak_memory_bytes / 2**20, 1))
    return out


def failures_metadata(failures: Sequence[ItemFailure], limit: int = 20) -> dict[str, MetadataValue]:
    if not failures:
        return {"failures": MetadataValue.int(0)}
    rows = ["| partition | item | error |", "|---|---|---|"]
    rows += [f"| {f.partition} | {f.item} | {f.error[:200].replace('|', '/')} |" for f in failures[:limit]]
    return {"failures": MetadataValue.int(len(failures)), "failed_items": MetadataValue.md("\n".join(rows))}

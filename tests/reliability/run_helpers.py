"""Small helpers the reliability tests share: a sample inbox and resources with per-stage fakes."""

from __future__ import annotations

from pathlib import Path

from dagster import DagsterEventType, ExecuteInProcessResult

from pdf_assets.defs.resources import PdfAssetsResource, StageConfig
from pdf_assets.samples import write_samples


def sample_inbox(tmp: Path, *keys: str) -> Path:
    """An inbox with the four sample PDFs in each folder `keys`."""
    root = tmp / "inbox"
    for key in keys:
        write_samples(root / key)
    return root


def resource(tmp: Path, inbox: Path, db_url: str | None = None, **overrides: object) -> PdfAssetsResource:
    """Fakes on every stage; `overrides` replace fields (e.g. `tables=StageConfig(...)`)."""
    stage = StageConfig(backend="fake", device="cpu")
    fields: dict[str, object] = {
        "inbox": str(inbox),
        "data_dir": str(tmp / "data"),
        "db_url": db_url or f"sqlite:///{tmp / 'db.sqlite'}",
        "render_workers": 1,
        "layout": stage,
        "ocr": stage,
        "tables": stage,
        "figures": stage,
    }
    fields.update(overrides)
    return PdfAssetsResource(**fields)  # type: ignore[arg-type]


def failing_fake(fail_on: str) -> StageConfig:
    return StageConfig(backend="fake", device="cpu", options={"fail_on": fail_on})


def step_events(result: ExecuteInProcessResult, step: str, kind: DagsterEventType) -> list[object]:
    return [e for e in result.all_events if e.step_key == step and e.event_type == kind]

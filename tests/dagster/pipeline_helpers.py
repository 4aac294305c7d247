"""Run the real job in process over folders of PDFs, as the CLI and the sensor do."""

from __future__ import annotations

from pathlib import Path

from dagster import DagsterInstance, ExecuteInProcessResult

from pdf_assets.defs.automation import RANGE_END, RANGE_START
from pdf_assets.defs.definitions import build_definitions
from pdf_assets.defs.partitions import PARTITIONS_NAME
from pdf_assets.defs.resources import PdfAssetsResource, StageConfig
from pdf_assets.storage.db import init_db, make_engine, session_scope
from pdf_assets.storage.queries import row_counts


def make_resource(
    tmp: Path, inbox: Path, backend: str = "fake", db_url: str | None = None, **stage_options: str
) -> PdfAssetsResource:
    stage = StageConfig(backend=backend, device="cpu", options=dict(stage_options))
    return PdfAssetsResource(
        inbox=str(inbox),
        data_dir=str(tmp / "data"),
        db_url=db_url or f"sqlite:///{tmp / 'db.sqlite'}",
        render_workers=2,
        layout=stage,
        ocr=stage,
        tables=stage,
        figures=stage,
    )


def run_job(resource: PdfAssetsResource, instance: DagsterInstance, keys: list[str]) -> ExecuteInProcessResult:
    """One run over `keys` (registered as dynamic partitions first, in this order)."""
    known = set(instance.get_dynamic_partitions(PARTITIONS_NAME))
    instance.add_dynamic_partitions(PARTITIONS_NAME, [k for k in keys if k not in known])
    job = build_definitions(resource).resolve_job_def("process_pdf_folders")
    return job.execute_in_process(
        instance=instance, tags={RANGE_START: keys[0], RANGE_END: keys[-1]}, raise_on_error=False
    )


def db_counts(resource: PdfAssetsResource) -> dict[str, int]:
    engine = make_engine(resource.database_url())
    try:
        init_db(engine)
        with session_scope(engine) as session:
            return row_counts(session)
    finally:
        engine.dispose()

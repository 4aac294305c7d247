"""The code location: `dagster dev -w workspace.yaml` and `dg` both load `defs` from here."""

from __future__ import annotations

from dagster import Definitions, in_process_executor, with_source_code_references

from pdf_assets.defs.assets import (
    categorized_regions,
    db_rows,
    document_files,
    figure_results,
    pages_and_layouts,
    pdf_folders,
    table_results,
    text_results,
)
from pdf_assets.defs.automation import inbox_sensor, nightly_catch_up
from pdf_assets.defs.io_manager import PartitionedValueIOManager
from pdf_assets.defs.jobs import pdf_job
from pdf_assets.defs.resources import PdfAssetsResource


def build_definitions(pdf: PdfAssetsResource | None = None) -> Definitions:
    """Definitions with a given resource (the CLI and tests pass their own settings)."""
    pdf = pdf or PdfAssetsResource.from_env()
    values = (
        PartitionedValueIOManager(base_dir=str(pdf.data_path() / "values"))
        if pdf.data_dir
        else PartitionedValueIOManager()
    )
    return Definitions(
        # Code references: the UI links each asset to the function that defines it.
        assets=with_source_code_references(
            [
                pdf_folders,
                pages_and_layouts,
                categorized_regions,
                text_results,
                table_results,
                figure_results,
                db_rows,
                document_files,
            ]
        ),
        jobs=[pdf_job],
        sensors=[inbox_sensor],
        schedules=[nightly_catch_up],
        resources={"pdf": pdf, "pdf_values": values},
        # The one executor setting, for this job and for materializations and backfills
        # launched from the asset graph: in-process, so torch is imported and each model
        # loaded once per run, not once per step.
        executor=in_process_executor,
    )


defs = build_definitions()

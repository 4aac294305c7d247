"""The job that materializes the whole chain for a partition range, in one process."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job, in_process_executor

PIPELINE_ASSETS = (
    "pages",
    "layouts",
    "categorized_regions",
    "text_results",
    "table_results",
    "figure_results",
    "db_rows",
)

# In-process: torch is imported and each model loaded once per run, not once per step.
pdf_job = define_asset_job(
    "process_pdf_folders",
    selection=AssetSelection.assets(*PIPELINE_ASSETS),
    executor_def=in_process_executor,
    description="Render, analyse and store every PDF of the selected folders, stage by stage.",
)

"""The job that materializes the whole chain for a partition range, in one process."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

PIPELINE_ASSETS = (
    "pages",
    "layouts",
    "categorized_regions",
    "text_results",
    "table_results",
    "figure_results",
    "db_rows",
)

# Its executor is the code location's (in-process, set once in `definitions.py`).
pdf_job = define_asset_job(
    "process_pdf_folders",
    selection=AssetSelection.assets(*PIPELINE_ASSETS),
    description="Render, analyse and store every PDF of the selected folders, stage by stage.",
)

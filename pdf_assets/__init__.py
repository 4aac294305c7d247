"""pdf_assets: stage-by-stage, GPU-batched PDF extraction as partitioned Dagster assets."""

__version__ = "0.1.0"

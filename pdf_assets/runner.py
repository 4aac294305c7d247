"""Run the Dagster job in this process over a set of folders (the CLI's `demo` and `run`).

The same job, assets and resource as the UI; partitions are registered first and the
run covers them as partition ranges, so the models batch across all folders at once.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from dagster import DagsterInstance

from pdf_assets.core.folders import partition_key_for
from pdf_assets.defs.automation import RANGE_END, RANGE_START, contiguous_ranges
from pdf_assets.defs.definitions import build_definitions
from pdf_assets.defs.jobs import pdf_job
from pdf_assets.defs.partitions import PARTITIONS_NAME
from pdf_assets.defs.resources import PdfAssetsResource, StageConfig
from pdf_assets.report import print_run_summary


def _instance() -> DagsterInstance:
    """The UI's instance when DAGSTER_HOME is set (runs show up there), else a throwaway one."""
    return DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral()


def _resource(folders: dict[str, Path], args: argparse.Namespace) -> PdfAssetsResource:
    stage = StageConfig(backend=args.backend, device=args.device)
    return PdfAssetsResource(
        data_dir=args.data_dir,
        db_url=args.db_url,
        folder_paths={k: str(v) for k, v in folders.items()},
        layout=stage,
        ocr=stage,
        tables=stage,
        figures=stage,
    )


def run_folders(folders: Sequence[Path], args: argparse.Namespace) -> int:
    """Process `folders` (one partition each) in as few runs as the partition order allows."""
    keyed = {partition_key_for(f.name) or "": f for f in folders}
    resource = _resource(keyed, args)
    instance = _instance()
    existing = list(instance.get_dynamic_partitions(PARTITIONS_NAME))
    new = [k for k in keyed if k not in existing]
    if new:
        instance.add_dynamic_partitions(PARTITIONS_NAME, new)
    job = build_definitions(resource).resolve_job_def(pdf_job.name)
    ok = True
    for start, end in contiguous_ranges(list(keyed), existing + new):
        result = job.execute_in_process(
            instance=instance,
            tags={RANGE_START: start, RANGE_END: end},
            run_config={"loggers": {"console": {"config": {"log_level": args.dagster_log_level}}}},
            raise_on_error=False,
        )
        ok = ok and result.success
        print_run_summary(resource.database_url(), result.run_id)
    return 0 if ok else 1

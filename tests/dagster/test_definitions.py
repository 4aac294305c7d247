"""The code location loads, and every asset of the chain is wired for one batched run."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import AssetKey
from dagster._core.definitions.backfill_policy import BackfillPolicyType

from pdf_assets.defs.assets import MAX_PARTITIONS_PER_RUN
from pdf_assets.defs.definitions import defs
from pdf_assets.defs.jobs import PIPELINE_ASSETS
from pdf_assets.defs.partitions import folder_partitions

ROOT = Path(__file__).resolve().parents[2]
# `pages` shares its step with `layouts` (rendering streams into the layout model), so its pool too.
GPU_ASSETS = {"pages", "layouts", "text_results", "table_results", "figure_results"}


def _node(name: str):  # Dagster's asset node type is internal
    return defs.resolve_asset_graph().get(AssetKey(name))


@pytest.mark.parametrize("name", PIPELINE_ASSETS)
def test_asset_shares_partitions_backfill_policy_and_retries(name: str) -> None:
    node = _node(name)
    assert node.partitions_def == folder_partitions
    policy = node.backfill_policy
    assert policy is not None and policy.policy_type == BackfillPolicyType.MULTI_RUN
    assert policy.max_partitions_per_run == MAX_PARTITIONS_PER_RUN
    op = defs.resolve_assets_def(AssetKey(name)).op
    assert (op.pool == "gpu") == (name in GPU_ASSETS)
    # No retry policy: it would turn an interrupt into a retry (defs/guards.py retries transient errors).
    assert op.retry_policy is None


def test_job_sensor_and_schedule_are_defined() -> None:
    job = defs.resolve_job_def("process_pdf_folders")
    assert job.executor_def.name == "in_process"
    assert defs.resolve_implicit_global_asset_job_def().executor_def.name == "in_process"
    assert defs.resolve_sensor_def("inbox_sensor").default_status.value == "RUNNING"
    assert defs.resolve_schedule_def("nightly_catch_up").cron_schedule == "0 2 * * *"


@pytest.mark.skipif(shutil.which("dg", path=str(Path(sys.executable).parent)) is None, reason="dg not installed")
def test_dg_reads_the_project_from_pyproject() -> None:
    dg = str(Path(sys.executable).parent / "dg")
    result = subprocess.run([dg, "list", "defs"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    for name in ("process_pdf_folders", "inbox_sensor", "nightly_catch_up", "db_rows"):
        assert name in result.stdout


def test_stage_config_carries_every_batching_knob_to_the_runner() -> None:
    from pdf_assets.core.errors import ConfigError
    from pdf_assets.defs.resources import StageConfig

    policy = StageConfig(batch_size=48, prefetch=4, max_memory_fraction=0.5).to_policy("layout")
    assert (policy.batch_size, policy.prefetch, policy.max_memory_fraction) == (48, 4, 0.5)
    assert StageConfig().to_policy("ocr").prefetch == 2
    tuned = StageConfig(batch_size=64, min_batch_size=8, grow_after=2, sort_by_cost=False).to_policy("tables")
    assert (tuned.min_batch_size, tuned.grow_after, tuned.sort_by_cost) == (8, 2, False)
    with pytest.raises(ConfigError, match="prefetch"):
        StageConfig(prefetch=-1).to_policy("ocr")
    with pytest.raises(ConfigError, match="min_batch_size"):
        StageConfig(batch_size=4, min_batch_size=8).to_policy("ocr")


def test_the_database_url_from_the_environment_stays_an_env_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The UI shows `PDF_ASSETS_DB_URL`, not the URL (it may hold a password); runs still use it."""
    from dagster import DagsterInstance, EnvVar

    from pdf_assets.defs.definitions import build_definitions
    from pdf_assets.defs.resources import PdfAssetsResource
    from pdf_assets.samples import write_samples
    from tests.dagster.pipeline_helpers import db_counts, run_job

    url = f"sqlite:///{tmp_path / 'secret.sqlite'}"
    monkeypatch.setenv("PDF_ASSETS_DB_URL", url)
    monkeypatch.setenv("PDF_ASSETS_BACKEND", "fake")
    monkeypatch.setenv("PDF_ASSETS_INBOX", str(tmp_path / "inbox"))
    monkeypatch.setenv("PDF_ASSETS_DATA_DIR", str(tmp_path / "data"))
    resource = PdfAssetsResource.from_env()
    assert isinstance(resource.db_url, EnvVar) and resource.db_url.env_var_name == "PDF_ASSETS_DB_URL"
    assert url not in repr(build_definitions(resource).resources)
    write_samples(tmp_path / "inbox" / "alpha")
    with DagsterInstance.ephemeral() as instance:
        assert run_job(resource, instance, ["alpha"]).success
    assert db_counts(PdfAssetsResource(db_url=url))["documents"] == 4

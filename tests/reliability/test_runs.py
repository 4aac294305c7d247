"""Runs never mix: values are scoped by run, and one run per partition at a time."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus
from dagster._core.test_utils import create_run_for_test

from pdf_assets.defs.automation import RANGE_END, RANGE_START
from pdf_assets.defs.definitions import build_definitions
from tests.dagster.pipeline_helpers import db_counts, run_job
from tests.reliability.run_helpers import resource, sample_inbox, step_events


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each database test runs on SQLite and on the PostgreSQL server at 127.0.0.1."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'db.sqlite'}"


def _value(tmp: Path, asset: str, run_id: str, key: str) -> Path:
    return tmp / "data" / "values" / asset / run_id / f"{key}.pkl"


def test_two_runs_of_one_partition_keep_their_own_values(tmp_path: Path) -> None:
    """A second run over a partition writes beside the first one's values, never over them."""
    inbox = sample_inbox(tmp_path, "alpha")
    with DagsterInstance.ephemeral() as instance:
        first = run_job(resource(tmp_path, inbox), instance, ["alpha"])
        assert first.success
        first_pages = _value(tmp_path, "pages", first.run_id, "alpha").read_bytes()
        second = run_job(resource(tmp_path, inbox, render_dpi=72), instance, ["alpha"])
        assert second.success
    assert _value(tmp_path, "pages", first.run_id, "alpha").read_bytes() == first_pages
    assert _value(tmp_path, "pages", second.run_id, "alpha").read_bytes() != first_pages
    assert not (tmp_path / "data" / "values" / "pages" / "alpha.pkl").exists()


def test_a_subset_run_loads_upstream_values_of_the_run_that_materialized_them(tmp_path: Path, db_url: str) -> None:
    """Re-running only `db_rows` reads the upstream values of the latest materializing run."""
    inbox = sample_inbox(tmp_path, "alpha")
    res = resource(tmp_path, inbox, db_url=db_url)
    with DagsterInstance.ephemeral() as instance:
        assert run_job(res, instance, ["alpha"]).success
        full = db_counts(res)
        job = build_definitions(res).resolve_job_def("process_pdf_folders")
        subset = job.execute_in_process(
            instance=instance,
            partition_key="alpha",
            asset_selection=[AssetKey("db_rows")],
            raise_on_error=False,
        )
        assert subset.success
        (event,) = subset.get_asset_materialization_events()
        assert event.materialization.partition == "alpha"
        assert event.materialization.metadata["dagster/row_count"].value == sum(
            v for k, v in db_counts(res).items() if k in ("documents", "pages", "regions", "texts", "tables", "figures")
        )
    again = db_counts(res)
    full.pop("stage_metrics"), again.pop("stage_metrics")
    assert again == full


def test_a_run_refuses_a_partition_an_older_unfinished_run_holds(tmp_path: Path, db_url: str) -> None:
    inbox = sample_inbox(tmp_path, "alpha", "beta")
    res = resource(tmp_path, inbox, db_url=db_url)
    with DagsterInstance.ephemeral() as instance:
        holder = create_run_for_test(
            instance,
            job_name="process_pdf_folders",
            status=DagsterRunStatus.STARTED,
            tags={RANGE_START: "alpha", RANGE_END: "alpha"},
        )
        refused = run_job(res, instance, ["alpha", "beta"])
        assert not refused.success
        failure = step_events(refused, "pages_and_layouts", DagsterEventType.STEP_FAILURE)
        assert len(failure) == 1
        message = failure[0].step_failure_data.user_failure_data.description  # type: ignore[attr-defined]
        assert holder.run_id in message and "alpha" in message and "beta" not in message
        assert not _value(tmp_path, "pages", refused.run_id, "alpha").exists()
        # Another partition is free; once the holder has ended, alpha is too.
        assert run_job(res, instance, ["beta"]).success
        instance.report_run_failed(holder)
        assert run_job(res, instance, ["alpha"]).success
    assert db_counts(res)["documents"] == 8


def test_cli_ranges_never_exceed_the_partitions_per_run_limit() -> None:
    from pdf_assets.defs.automation import run_ranges

    order = ["a", "b", "c", "d", "e", "f", "g"]
    assert run_ranges(["a", "b", "c", "d", "e", "g"], order, limit=2) == [
        ("a", "b"),
        ("c", "d"),
        ("e", "e"),
        ("g", "g"),
    ]
    assert run_ranges(order, order, limit=50) == [("a", "g")]


def test_db_rows_writes_each_partition_in_its_own_transaction(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three folders, three writes of one partition each; the run's metrics are stored once."""
    import pdf_assets.storage.writes as writes_module

    written: list[list[str]] = []
    real = writes_module.replace_partitions

    def recording(session: object, bundle: object, **kwargs: object) -> dict[str, int]:
        written.append(sorted(bundle.partitions))  # type: ignore[attr-defined]
        return real(session, bundle, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(writes_module, "replace_partitions", recording)
    res = resource(tmp_path, sample_inbox(tmp_path, "alpha", "beta", "gamma"), db_url=db_url)
    with DagsterInstance.ephemeral() as instance:
        result = run_job(res, instance, ["alpha", "beta", "gamma"])
        assert result.success
    # One transaction per partition, then one for the run's own rows (metrics: no partition).
    assert sorted(written[:-1]) == [["alpha"], ["beta"], ["gamma"]] and written[-1] == []
    counts = db_counts(res)
    assert counts["documents"] == 12 and counts["partitions"] == 3
    stages = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert "db_rows" in stages
    assert counts["stage_metrics"] == 5  # pages, layout, ocr, tables, figures: once per run

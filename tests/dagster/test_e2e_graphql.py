"""End to end: `dagster dev` with the project's instance config, driven over GraphQL.

Two folders dropped into the inbox must become two partitions and ONE sensor run that
materializes the whole chain for both and fills the database; a backfill of both
partitions launched over GraphQL must also be ONE run and leave the stored rows as they
were (a re-run replaces a partition's rows, it never adds to them). Every stage uses the
fake backends, so the time goes to Dagster's own polling, not to models.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from pdf_assets.defs.jobs import PIPELINE_ASSETS
from pdf_assets.storage.db import init_db, make_engine, session_scope
from pdf_assets.storage.queries import row_counts
from pdf_assets.storage.schema import PartitionRow
from tests.dagster.e2e_helpers import DagsterDev, GraphQLClient, running_dagster_dev, server_env, wait_for, write_pdfs

pytestmark = pytest.mark.e2e

FOLDERS = {"a-folder": ("text_page.pdf", "table_page.pdf"), "b-folder": ("text_page.pdf",)}
KEYS = sorted(FOLDERS)
EXPECTED = {(asset, key) for asset in PIPELINE_ASSETS for key in KEYS}
RUN_DONE = {"SUCCESS", "FAILURE", "CANCELED"}
BACKFILL_DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}

PARTITION_KEYS = """
query { assetNodes(assetKeys: [{path: ["pdf_folders"]}]) { partitionKeys } }
"""

RUNS = """
query Runs($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs {
      results {
        runId status
        tags { key value }
        assetMaterializations { assetKey { path } partition }
      }
    }
    ... on PythonError { message }
  }
}
"""

LAUNCH_BACKFILL = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on PartitionKeysNotFoundError { message }
    ... on InvalidSubsetError { message }
  }
}
"""

BACKFILL = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { status numPartitions }
    ... on PythonError { message }
  }
}
"""

Run = dict[str, Any]  # one run as GraphQL returns it (decoded JSON)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DagsterDev]:
    with running_dagster_dev(server_env(tmp_path), tmp_path / "dagster-dev.log", timeout=120) as dev:
        yield dev


def drop_folders(inbox: Path) -> None:
    """Both folders appear at once (one rename), so no sensor tick sees half of the delivery."""
    staging = inbox.with_name("staging")
    for name, pdfs in FOLDERS.items():
        write_pdfs(staging / name, pdfs)
    os.rename(staging, inbox)


def runs(client: GraphQLClient, tags: dict[str, str] | None = None) -> list[Run]:
    flt = {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]}
    result = client.query(RUNS, {"filter": flt})["runsOrError"]
    assert result["__typename"] == "Runs", result
    return result["results"]


def finished_runs(client: GraphQLClient, tags: dict[str, str]) -> list[Run] | None:
    found = runs(client, tags)
    return found if found and all(r["status"] in RUN_DONE for r in found) else None


def materialized(run: Run) -> set[tuple[str, str]]:
    return {("/".join(m["assetKey"]["path"]), m["partition"]) for m in run["assetMaterializations"]}


def tag(run: Run, key: str) -> str | None:
    return next((t["value"] for t in run["tags"] if t["key"] == key), None)


def stored(db_url: str) -> tuple[dict[str, int], dict[str, str]]:
    """Row counts per table and the run that last wrote each partition, read from the file."""
    engine = make_engine(db_url)
    try:
        init_db(engine)
        with session_scope(engine) as session:
            rows = session.execute(select(PartitionRow.key, PartitionRow.run_id)).all()
            writers = {key: run_id for key, run_id in rows}
            return row_counts(session), writers
    finally:
        engine.dispose()


def launch_backfill(client: GraphQLClient) -> str:
    params = {"partitionNames": KEYS, "assetSelection": [{"path": [a]} for a in PIPELINE_ASSETS]}
    result = client.query(LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
    assert result["__typename"] == "LaunchBackfillSuccess", result
    return result["backfillId"]


def backfill_status(client: GraphQLClient, backfill_id: str) -> str | None:
    result = client.query(BACKFILL, {"id": backfill_id})["partitionBackfillOrError"]
    assert result["__typename"] == "PartitionBackfill", result
    return result["status"] if result["status"] in BACKFILL_DONE else None


def test_inbox_to_database_and_backfill_over_graphql(server: DagsterDev, tmp_path: Path) -> None:
    with server.log_on_failure():
        check_sensor_run_then_backfill(server, tmp_path / "inbox")


def check_sensor_run_then_backfill(server: DagsterDev, inbox: Path) -> None:
    client = server.graphql()
    db_url = server.env["PDF_ASSETS_DB_URL"]
    drop_folders(inbox)

    def partitions() -> list[str] | None:
        [node] = client.query(PARTITION_KEYS)["assetNodes"]
        return sorted(node["partitionKeys"]) if len(node["partitionKeys"]) >= len(KEYS) else None

    assert wait_for("the sensor to add the partitions", partitions, timeout=90) == KEYS

    sensor_tags = {"dagster/sensor_name": "inbox_sensor"}
    [run] = wait_for("the sensor's run to finish", lambda: finished_runs(client, sensor_tags), timeout=120)
    assert run["status"] == "SUCCESS"
    assert (tag(run, "dagster/asset_partition_range_start"), tag(run, "dagster/asset_partition_range_end")) == (
        KEYS[0],
        KEYS[-1],
    )
    assert materialized(run) == EXPECTED

    counts, writers = stored(db_url)
    assert counts["partitions"] == len(KEYS)
    assert counts["documents"] == sum(len(pdfs) for pdfs in FOLDERS.values())
    assert all(counts[t] > 0 for t in ("pages", "regions", "texts"))
    assert writers == {k: run["runId"] for k in KEYS}

    backfill_id = launch_backfill(client)
    status = wait_for("the backfill to complete", lambda: backfill_status(client, backfill_id), timeout=120)
    assert status in {"COMPLETED", "COMPLETED_SUCCESS"}
    [backfill_run] = runs(client, {"dagster/backfill": backfill_id})
    assert backfill_run["status"] == "SUCCESS"
    assert materialized(backfill_run) == EXPECTED
    # Nothing else ran: the sensor did not re-request the unchanged folders.
    assert len(runs(client)) == 2

    again, rewritten_by = stored(db_url)
    # Stage metrics are run history and are appended; every data table is replaced in place.
    assert {t: n for t, n in again.items() if t != "stage_metrics"} == {
        t: n for t, n in counts.items() if t != "stage_metrics"
    }
    assert again["stage_metrics"] > counts["stage_metrics"]
    assert rewritten_by == {k: backfill_run["runId"] for k in KEYS}

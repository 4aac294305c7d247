"""The inbox sensor and the nightly catch-up schedule.

New or changed folders become partitions AND get processed: the sensor adds the
partitions, reports the `pdf_folders` root asset (lineage starts at the files) and
requests runs over the new keys using Dagster's partition-range tags. Dynamic
partitions are ordered by insertion, so keys added together form one contiguous range;
changed older folders may not, and each contiguous range becomes its own run. A range
longer than `MAX_PARTITIONS_PER_RUN` is split, as backfills and the CLI split theirs
(`run_ranges` is the one place that does it).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence

from dagster import (
    AssetMaterialization,
    DefaultSensorStatus,
    MetadataValue,
    RunRequest,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    schedule,
    sensor,
)

from pdf_assets.core.folders import InboxFolder, scan_inbox
from pdf_assets.defs.jobs import pdf_job
from pdf_assets.defs.partitions import (
    MAX_PARTITIONS_PER_RUN,
    PARTITIONS_NAME,
    PartitionKeyConflict,
    check_bindings,
    folder_partitions,
    recorded_folders,
)
from pdf_assets.defs.resources import PdfAssetsResource
from pdf_assets.storage.db import engine_scope, session_scope
from pdf_assets.storage.queries import partition_states

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def contiguous_ranges(keys: Sequence[str], order: Sequence[str]) -> list[tuple[str, str]]:
    """Split `keys` into runs of neighbours in the partition order (one run request each)."""
    position = {k: i for i, k in enumerate(order)}
    wanted = sorted(position[k] for k in set(keys) if k in position)
    ranges: list[tuple[str, str]] = []
    for pos in wanted:
        if ranges and position[ranges[-1][1]] == pos - 1:
            ranges[-1] = (ranges[-1][0], order[pos])
        else:
            ranges.append((order[pos], order[pos]))
    return ranges


def run_ranges(keys: Sequence[str], order: Sequence[str], limit: int | None = None) -> list[tuple[str, str]]:
    """Contiguous ranges of `keys` in the partition `order`, none longer than `limit` keys
    (default `MAX_PARTITIONS_PER_RUN`, read at the call)."""
    position = {k: i for i, k in enumerate(order)}
    step = max(1, MAX_PARTITIONS_PER_RUN if limit is None else limit)
    chunks: list[tuple[str, str]] = []
    for start, end in contiguous_ranges(keys, order):
        first, last = position[start], position[end]
        for lo in range(first, last + 1, step):
            chunks.append((order[lo], order[min(lo + step - 1, last)]))
    return chunks


def range_requests(
    fingerprints: Mapping[str, str], order: Sequence[str], reason: str, limit: int | None = None
) -> list[RunRequest]:
    """One run per contiguous range of `fingerprints`' keys, split at `limit` keys (`run_ranges`).

    The run key hashes the keys WITH their folder fingerprints (stable across processes), so
    every new state of a folder gets a new run while a repeated tick for the same state is
    deduplicated by Dagster.
    """
    state = json.dumps(sorted(fingerprints.items())).encode()
    digest = hashlib.sha256(state).hexdigest()[:16]
    return [
        RunRequest(
            run_key=f"{reason}:{start}..{end}:{digest}",
            tags={RANGE_START: start, RANGE_END: end, "pdf_assets/trigger": reason},
        )
        for start, end in run_ranges(list(fingerprints), order, limit)
    ]


def _materialization(folder: InboxFolder) -> AssetMaterialization:
    return AssetMaterialization(
        asset_key="pdf_folders",
        partition=folder.key,
        metadata={
            "path": MetadataValue.path(str(folder.path)),
            "pdfs": MetadataValue.int(folder.pdf_count),
            "fingerprint": MetadataValue.text(folder.fingerprint),
        },
    )


def unsettled_folders(folders: Sequence[InboxFolder], settle_s: float, now: float | None = None) -> list[InboxFolder]:
    """Folders with a file changed less than `settle_s` ago: probably still being copied, and a
    run now would process half a delivery (and run again when the copy ends)."""
    moment = time.time() if now is None else now
    return [f for f in folders if settle_s > 0 and moment - f.changed_at < settle_s]


def _bound_here(context: SensorEvaluationContext, folder: InboxFolder, recorded: Mapping[str, str]) -> bool:
    """False (with a warning) when the folder's key holds another folder's rows."""
    try:
        check_bindings({folder.key: folder.path}, recorded)
    except PartitionKeyConflict as exc:
        context.log.warning(f"inbox folder {folder.path} skipped: {exc}")
        return False
    return True


@sensor(job=pdf_job, default_status=DefaultSensorStatus.RUNNING, minimum_interval_seconds=15)
def inbox_sensor(context: SensorEvaluationContext, pdf: PdfAssetsResource) -> SensorResult | SkipReason:
    """Turn new or changed inbox folders into partitions and process them in one run."""
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    folders, rejected = scan_inbox(pdf.inbox_path())
    for name in rejected:
        context.log.warning(f"inbox folder {name!r} has no usable partition key (or a duplicate); skipped")
    changed = [f for f in folders if seen.get(f.key) != f.fingerprint]
    unsettled = unsettled_folders(changed, pdf.sensor_settle_s)
    if unsettled:
        context.log.info(f"still changing, picked up later: {', '.join(sorted(f.key for f in unsettled))}")
    recorded = recorded_folders(pdf.database_url()) if changed else {}
    changed = [f for f in changed if f not in unsettled and _bound_here(context, f, recorded)]
    if not changed:
        return SkipReason(f"no new or changed folders (that stopped changing) in {pdf.inbox_path()}")
    existing = list(context.instance.get_dynamic_partitions(PARTITIONS_NAME))
    new_keys = [f.key for f in changed if f.key not in existing]
    order = existing + new_keys
    cursor = json.dumps({**seen, **{f.key: f.fingerprint for f in changed}}, sort_keys=True)
    return SensorResult(
        run_requests=range_requests({f.key: f.fingerprint for f in changed}, order, "inbox"),
        dynamic_partitions_requests=[folder_partitions.build_add_request(new_keys)] if new_keys else [],
        asset_events=[_materialization(f) for f in changed],
        cursor=cursor,
    )


def stale_partitions(pdf: PdfAssetsResource, keys: Sequence[str]) -> dict[str, str]:
    """Partitions whose rows are missing from the database or older than their folder,
    with the folder's current fingerprint."""
    folders = {f.key: f for f in scan_inbox(pdf.inbox_path())[0]}
    with engine_scope(pdf.database_url()) as engine, session_scope(engine) as session:
        states = partition_states(session)
    return {
        k: folders[k].fingerprint
        for k in keys
        if k in folders and states.get(k, ("", None))[0] != folders[k].fingerprint
    }


@schedule(job=pdf_job, cron_schedule="0 2 * * *", execution_timezone="UTC")
def nightly_catch_up(context: ScheduleEvaluationContext, pdf: PdfAssetsResource) -> list[RunRequest] | SkipReason:
    """Re-request partitions whose `db_rows` is missing or stale (e.g. a run that failed)."""
    order = list(context.instance.get_dynamic_partitions(PARTITIONS_NAME))
    stale = stale_partitions(pdf, order)
    if not stale:
        return SkipReason("every partition's rows are up to date")
    return range_requests(stale, order, f"nightly-{context.scheduled_execution_time:%Y%m%d}")

"""Run the Dagster job in this process over a set of folders (the CLI's `demo` and `run`).

The same job, assets and resource as the UI; partitions are registered first and the
run covers them as partition ranges, so the models batch across all folders at once (up
to `MAX_PARTITIONS_PER_RUN` folders per run).

A run of the CLI must never outlive its process in the instance: the database is checked
before anything starts; SIGTERM and SIGINT stop the run and mark it failed (Dagster records
the interrupted step, and the run is marked failed here if Dagster could not); and a run
whose CLI process was killed outright (SIGKILL, a crash) is marked failed, with its pool
slots freed, by the next CLI run on the same host. The run id and status are always
printed, even when the per-stage summary cannot be read.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from dagster import DagsterInstance, DagsterRunStatus, ExecuteInProcessResult, RunsFilter
from dagster._core.execution.plan.objects import ErrorSource
from dagster._core.utils import make_new_run_id

from pdf_assets.core.errors import DatabaseUnavailableError
from pdf_assets.core.folders import partition_key_for
from pdf_assets.defs.automation import RANGE_END, RANGE_START, run_ranges
from pdf_assets.defs.definitions import build_definitions
from pdf_assets.defs.guards import UNFINISHED, masked_url
from pdf_assets.defs.jobs import pdf_job
from pdf_assets.defs.partitions import PARTITIONS_NAME
from pdf_assets.defs.resources import PdfAssetsResource, StageConfig
from pdf_assets.report import print_run_summary
from pdf_assets.storage.db import check_database, engine_scope, session_scope
from pdf_assets.storage.queries import document_status_counts

#: Tags that let a later CLI run tell whether the process running a run is still alive.
CLI_HOST_TAG = "pdf_assets/cli_host"
CLI_PID_TAG = "pdf_assets/cli_pid"
#: Exit code of a run stopped by a signal (128 + SIGTERM, as a shell reports it).
INTERRUPTED_EXIT = 128 + signal.SIGTERM
#: Exit code when every run succeeded but some document could not be read.
DOCUMENTS_FAILED_EXIT = 3


def _instance() -> DagsterInstance:
    """The UI's instance when DAGSTER_HOME is set (runs show up there), else a throwaway one."""
    return DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral()


def _resource(
    folders: dict[str, Path], args: argparse.Namespace, stages: Mapping[str, StageConfig]
) -> PdfAssetsResource:
    return PdfAssetsResource(
        data_dir=args.data_dir,
        db_url=args.db_url,
        folder_paths={k: str(v) for k, v in folders.items()},
        layout=stages["layout"],
        ocr=stages["ocr"],
        tables=stages["tables"],
        figures=stages["figures"],
    )


def run_folders(folders: Sequence[Path], args: argparse.Namespace, stages: Mapping[str, StageConfig]) -> int:
    """Process `folders` (one partition each) in as few runs as the partition order allows.

    Exit codes: 0 when every run succeeded and every document was read (partly read ones too,
    unless `args.strict`); 1 when a run failed; 2 when the database is unreachable (nothing
    run); 3 when the runs succeeded but a document could not be read (or, strict, was only
    partly read); 143 when a signal stopped a run."""
    keyed = {partition_key_for(f.name) or "": f for f in folders}
    resource = _resource(keyed, args, stages)
    try:
        check_database(resource.database_url())
    except DatabaseUnavailableError as exc:
        print(f"error: {exc}; nothing was run", file=sys.stderr)
        return 2
    instance = _instance()
    reap_dead_cli_runs(instance)
    existing = list(instance.get_dynamic_partitions(PARTITIONS_NAME))
    new = [k for k in keyed if k not in existing]
    if new:
        instance.add_dynamic_partitions(PARTITIONS_NAME, new)
    job = build_definitions(resource).resolve_job_def(pdf_job.name)
    ok = True
    for start, end in run_ranges(list(keyed), existing + new):
        run_id = make_new_run_id()
        tags = {RANGE_START: start, RANGE_END: end, CLI_HOST_TAG: socket.gethostname(), CLI_PID_TAG: str(os.getpid())}
        try:
            with _signals_interrupt():
                result = job.execute_in_process(
                    instance=instance,
                    run_id=run_id,
                    tags=tags,
                    run_config={"loggers": {"console": {"config": {"log_level": args.dagster_log_level}}}},
                    raise_on_error=False,
                )
            ok = ok and result.success
            interrupted = _was_interrupted(result)
        except KeyboardInterrupt:
            interrupted = True
        if interrupted:
            _end_interrupted_run(instance, run_id)
        _report(instance, resource, run_id)
        if interrupted:
            return INTERRUPTED_EXIT  # the remaining ranges are not started
    if not ok:
        return 1
    return documents_outcome(resource.database_url(), list(keyed), strict=bool(getattr(args, "strict", False)))


def documents_outcome(db_url: str, keys: Sequence[str], strict: bool) -> int:
    """0, or `DOCUMENTS_FAILED_EXIT` (with one line saying how many and where to look) when a
    document of `keys` could not be read, or with `strict` was only partly read."""
    with engine_scope(db_url) as engine, session_scope(engine) as session:
        counts = document_status_counts(session, keys)
    bad = counts.get("error", 0) + (counts.get("partial", 0) if strict else 0)
    if not bad:
        return 0
    what = "could not be read" if not strict else "could not be read or were only partly read"
    print(f"{bad} of {sum(counts.values())} documents {what} (`pdf-assets show` lists the failures)", file=sys.stderr)
    return DOCUMENTS_FAILED_EXIT


def _was_interrupted(result: ExecuteInProcessResult) -> bool:
    """Whether a step stopped on a signal (Dagster turns SIGTERM and SIGINT during a run into
    an interrupt of the running step and records the run as failed)."""
    return any(
        event.is_step_failure and event.step_failure_data.error_source == ErrorSource.INTERRUPT
        for event in result.all_events
    )


class _Interrupted(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C so Dagster stops the step it is in."""


@contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM raises like SIGINT while a run executes; the previous handlers come back after."""

    def on_term(signum: int, _frame: FrameType | None) -> None:
        raise _Interrupted(f"signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _end_interrupted_run(instance: DagsterInstance, run_id: str) -> None:
    """Mark the run failed if Dagster did not get to record its end, and free its pool slots."""
    run = instance.get_run_by_id(run_id)
    if run is not None and run.status in [*UNFINISHED, DagsterRunStatus.NOT_STARTED]:
        instance.report_run_failed(run, "stopped by a signal to the pdf-assets process")
    _free_slots(instance, run_id)


def _report(instance: DagsterInstance, resource: PdfAssetsResource, run_id: str) -> None:
    """The run id and status first (always), then the per-stage numbers if the database has them."""
    run = instance.get_run_by_id(run_id)
    status = run.status.value if run is not None else "UNKNOWN"
    print(f"\nrun {run_id}: {status}")
    try:
        print_run_summary(resource.database_url(), run_id)
    except Exception as exc:  # noqa: BLE001 - the summary is extra; the status is already out
        print(f"(no stage summary: database {masked_url(resource.database_url())}: {type(exc).__name__})")


def reap_dead_cli_runs(instance: DagsterInstance) -> list[str]:
    """Mark unfinished CLI runs of this host whose process is gone as failed, and free any pool
    slots still held by runs that have ended; returns the run ids marked failed.

    A CLI process killed with SIGKILL leaves its run STARTED and its `gpu` slot claimed, and
    the default run launcher cannot check the health of a process it did not start: without
    this, every later run would wait at the first GPU stage for a slot that never frees.
    """
    host = socket.gethostname()
    reaped: list[str] = []
    for record in instance.get_run_records(RunsFilter(statuses=UNFINISHED, tags={CLI_HOST_TAG: host})):
        run = record.dagster_run
        pid = run.tags.get(CLI_PID_TAG, "")
        if pid.isdigit() and not _alive(int(pid)):
            instance.report_run_failed(run, f"the pdf-assets process ({pid}) running it is gone")
            reaped.append(run.run_id)
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        for run_id in storage.get_concurrency_run_ids():
            holder = instance.get_run_by_id(run_id)
            if holder is None or holder.is_finished:
                _free_slots(instance, run_id)
    return reaped


def _free_slots(instance: DagsterInstance, run_id: str) -> None:
    if instance.event_log_storage.supports_global_concurrency_limits:
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True

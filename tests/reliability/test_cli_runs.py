"""A `pdf-assets run` that is stopped or killed never leaves a run that blocks the next one.

The CLI runs in a subprocess with the project's `dagster_home/dagster.yaml` (so the `gpu`
pool is enforced) and a layout stage that blocks, so the signal lands while the run holds
the pool slot.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus

from pdf_assets.cli import main
from pdf_assets.runner import reap_dead_cli_runs
from pdf_assets.samples import write_samples

ROOT = Path(__file__).resolve().parents[2]
# Blocks the render-and-layout step (after the run has claimed the gpu pool slot) until a signal comes.
STUCK_IN_LAYOUTS = """
import pathlib, sys, time
import pdf_assets.defs.assets as assets

def stuck(*args, **kwargs):
    pathlib.Path(sys.argv[1]).write_text("in layouts")
    time.sleep(600)

assets.render_and_detect = stuck
from pdf_assets.cli import main
from pdf_assets.runner import reap_dead_cli_runs
sys.exit(main(sys.argv[2:]))
"""


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    yield home


def _cli_args(tmp: Path, folder: Path) -> list[str]:
    db = f"sqlite:///{tmp / 'db.sqlite'}"
    return ["run", str(folder), "--backend", "fake", "--device", "cpu", "--data-dir", str(tmp / "data"), "--db-url", db]


def _start_stuck_run(tmp: Path, folder: Path) -> tuple[subprocess.Popen[str], Path]:
    marker = tmp / "in-layouts"
    proc = subprocess.Popen(
        [sys.executable, "-c", STUCK_IN_LAYOUTS, str(marker), *_cli_args(tmp, folder)],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 180
    while not marker.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the run never reached layouts:\n{proc.communicate()[0][-3000:]}")
        time.sleep(0.2)
    return proc, marker


def _only_run(instance: DagsterInstance) -> tuple[str, DagsterRunStatus]:
    runs = instance.get_runs()
    assert len(runs) == 1
    return runs[0].run_id, runs[0].status


def _gpu_slots_claimed(instance: DagsterInstance) -> int:
    return len(instance.event_log_storage.get_concurrency_info("gpu").claimed_slots)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_marks_the_run_failed_and_the_next_run_completes(tmp_path: Path, home: Path, signum: int) -> None:
    folder = tmp_path / "inbox" / "alpha"
    write_samples(folder)
    proc, _ = _start_stuck_run(tmp_path, folder)
    with DagsterInstance.get() as instance:
        assert _only_run(instance)[1] == DagsterRunStatus.STARTED
        assert _gpu_slots_claimed(instance) == 1
    proc.send_signal(signum)
    output = proc.communicate(timeout=120)[0]
    assert proc.returncode == 128 + signal.SIGTERM, output[-3000:]
    with DagsterInstance.get() as instance:
        run_id, status = _only_run(instance)
        assert status in (DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)
        assert f"run {run_id}: {status.value}" in output
        assert _gpu_slots_claimed(instance) == 0
    assert main(_cli_args(tmp_path, folder)) == 0
    with DagsterInstance.get() as instance:
        assert sorted(r.status.value for r in instance.get_runs()) == sorted([status.value, "SUCCESS"])


def test_a_killed_cli_run_is_marked_failed_by_the_next_one(tmp_path: Path, home: Path) -> None:
    """SIGKILL leaves the run STARTED with the gpu slot claimed; the next CLI run clears both."""
    folder = tmp_path / "inbox" / "alpha"
    write_samples(folder)
    proc, _ = _start_stuck_run(tmp_path, folder)
    proc.kill()
    proc.communicate(timeout=60)
    with DagsterInstance.get() as instance:
        killed, status = _only_run(instance)
        assert status == DagsterRunStatus.STARTED and _gpu_slots_claimed(instance) == 1
        # What the next CLI run does first (asserted here, so a regression fails instead of
        # leaving the next run waiting for the slot).
        assert reap_dead_cli_runs(instance) == [killed]
        assert _gpu_slots_claimed(instance) == 0
    assert main(_cli_args(tmp_path, folder)) == 0
    with DagsterInstance.get() as instance:
        statuses = {r.run_id: r.status for r in instance.get_runs()}
        assert statuses.pop(killed) == DagsterRunStatus.FAILURE
        assert list(statuses.values()) == [DagsterRunStatus.SUCCESS]
        assert _gpu_slots_claimed(instance) == 0


def test_an_unreachable_database_stops_the_cli_before_any_run(
    tmp_path: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "inbox" / "alpha"
    write_samples(folder)
    args = _cli_args(tmp_path, folder)
    args[-1] = "postgresql://postgres:s3cret@127.0.0.1:1/pdf_assets"
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "127.0.0.1:1/pdf_assets" in err and "***" in err and "s3cret" not in err
    with DagsterInstance.get() as instance:
        assert instance.get_runs() == []

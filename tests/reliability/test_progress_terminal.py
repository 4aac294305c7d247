"""In a terminal, a stage's progress bar moves while the stage runs, not only at its end."""

from __future__ import annotations

import logging
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pdf_assets.cli import ProgressBars
from pdf_assets.samples import write_samples

ROOT = Path(__file__).resolve().parents[2]
BAR = re.compile(r"layout:\s+\d+%\|[^|]*\|\s*(\d+)/(\d+)")


def _read_all(fd: int, proc: subprocess.Popen[bytes], limit_s: float) -> str:
    chunks: list[bytes] = []
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    return b"".join(chunks).decode(errors="replace")


def test_the_layout_bar_advances_batch_by_batch_in_a_terminal(tmp_path: Path) -> None:
    folder = tmp_path / "inbox" / "alpha"
    write_samples(folder)  # four one-page PDFs; the embedded layout takes a while per page
    main, child = pty.openpty()
    args = ["-m", "pdf_assets.cli", "run", str(folder), "--data-dir", str(tmp_path / "data")]
    proc = subprocess.Popen(
        [sys.executable, *args, "--backend", "embedded", "--batch-size", "layout=1"],
        cwd=ROOT,
        stdin=child,
        stdout=child,
        stderr=child,
        env={**os.environ, "COLUMNS": "120"},
    )
    os.close(child)
    try:
        screen = _read_all(main, proc, limit_s=600)
        assert proc.wait(timeout=60) == 0, screen[-3000:]
    finally:
        proc.kill()
        os.close(main)
    drawn = [(int(done), int(total)) for done, total in BAR.findall(screen)]
    counts = sorted({done for done, _ in drawn})
    assert {total for _, total in drawn} == {4}
    # Drawn at 0 when the stage started, then after each of the four batches (at least three steps).
    assert counts[0] == 0 and counts[-1] == 4 and len(counts) >= 4, drawn


def _record(stage: str, done: int, total: int) -> logging.LogRecord:
    record = logging.LogRecord("pdf_assets.progress", logging.INFO, __file__, 0, "", None, None)
    record.__dict__.update(stage=stage, done=done, total=total)
    return record


def test_a_bar_follows_a_growing_total_and_a_new_run_gets_a_new_bar(capsys: pytest.CaptureFixture[str]) -> None:
    bars = ProgressBars()
    for done, total in [(0, 4), (2, 4), (2, 8), (6, 9), (9, 9)]:  # a streamed stage learns its total
        bars.emit(_record("layout", done, total))
    for done, total in [(9, 12), (12, 12)]:  # the same stage again, going on (a second OCR run)
        bars.emit(_record("layout", done, total))
    for done, total in [(0, 3), (3, 3)]:  # the next run of the CLI: from zero
        bars.emit(_record("layout", done, total))
    lines = [line.rsplit("\r", 1)[-1] for line in capsys.readouterr().err.split("\n") if line.strip()]
    finals = [re.search(r"(\d+)/(\d+)", line).groups() for line in lines]  # type: ignore[union-attr]
    assert finals == [("9", "9"), ("12", "12"), ("3", "3")]

"""The Dagster UI in a real browser: after a run, `table_results` shows the partition's own
numbers and its first table's cells. Headless Chromium (Debian's `chromium`, which `.ci/run`
installs) renders the page; the test skips where no Chromium is installed."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance

from pdf_assets.cli import main
from pdf_assets.samples import write_samples
from tests.dagster.e2e_helpers import DagsterDev, running_dagster_dev, server_env

BROWSER = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="needs headless Chromium (apt-get install chromium)")


@pytest.fixture
def ui(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DagsterDev]:
    """One CLI run over the samples recorded in an instance, then `dagster dev` on that instance."""
    env = server_env(tmp_path)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    write_samples(tmp_path / "inbox" / "alpha")
    assert main(["run", str(tmp_path / "inbox" / "alpha")]) == 0
    with running_dagster_dev(env, tmp_path / "dagster-dev.log", timeout=180) as dev:
        yield dev


def _page_text(url: str, must_contain: str, tmp: Path) -> str:
    """The rendered page's visible text; waits longer on each try until the data has loaded."""
    text = ""
    for budget_ms in (15_000, 30_000, 60_000):
        dom = subprocess.run(
            [str(BROWSER), "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             f"--user-data-dir={tmp / 'chromium-profile'}", f"--virtual-time-budget={budget_ms}",
             "--window-size=1400,2400", "--dump-dom", url],
            capture_output=True, text=True, timeout=180, check=False,
        ).stdout  # fmt: skip
        text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom)))
        if must_contain in text:
            break
    return text


def test_table_results_shows_the_preview_table_and_the_partitions_numbers(ui: DagsterDev, tmp_path: Path) -> None:
    with DagsterInstance.get() as instance:
        event = instance.fetch_materializations(AssetKey("table_results"), limit=1).records[0]
    metadata = event.asset_materialization.metadata  # type: ignore[union-attr]
    first_row = metadata["first_table"].records[0].data  # type: ignore[attr-defined]
    tables = metadata["partition/tables"].value

    with ui.log_on_failure():
        text = _page_text(
            f"{ui.base_url}/assets/table_results?view=partitions&partition=alpha", "first_table", tmp_path
        )
    assert "first_table" in text, text[-2000:]
    assert f"partition/tables {tables}" in text
    # The first table's cells, as the UI renders the table value: its header and first row.
    assert " ".join(first_row) in text and " ".join(str(v) for v in first_row.values()) in text
    # The run's overview table names the partition with its counts.
    assert re.search(r"preview Show schema partition [a-z ]+ alpha \d", text)

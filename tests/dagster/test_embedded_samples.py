"""The demo's job on the generated samples with the embedded default: real results, no downloads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from dagster import DagsterInstance

from pdf_assets.samples import PARAGRAPH, TABLE, write_samples
from pdf_assets.storage.db import make_engine
from pdf_assets.storage.queries import read_frame
from tests.dagster.pipeline_helpers import make_resource, run_job


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    tmp = tmp_path_factory.mktemp("samples-run")
    write_samples(tmp / "inbox" / "samples")
    resource = make_resource(tmp, tmp / "inbox", backend="embedded")
    with DagsterInstance.ephemeral() as instance:
        assert run_job(resource, instance, ["samples"]).success
    engine = make_engine(resource.database_url())
    out = {t: read_frame(engine, t) for t in ("documents", "texts", "tables", "figures", "failures")}
    engine.dispose()
    return out


def test_scanned_page_is_read_by_ocr(frames: dict[str, object]) -> None:
    texts = frames["texts"]
    ocr = " ".join(texts[texts["source"] == "ocr"]["text"])  # type: ignore[index]
    found = set(_words(ocr))
    expected = set(_words(PARAGRAPH))
    assert len(found & expected) / len(expected) > 0.9, sorted(expected - found)


def test_table_cells_match_the_drawn_table(frames: dict[str, object]) -> None:
    tables = frames["tables"]
    assert len(tables) == 1  # type: ignore[arg-type]
    row = tables.iloc[0]  # type: ignore[union-attr]
    grid = {(c["row"], c["col"]): c["text"] for c in json.loads(row["cells_json"])}
    assert (row["n_rows"], row["n_cols"]) == (len(TABLE), len(TABLE[0]))
    assert [[grid.get((r, c), "") for c in range(len(TABLE[0]))] for r in range(len(TABLE))] == TABLE


def test_chart_figure_has_its_caption_and_crop(frames: dict[str, object]) -> None:
    figures = frames["figures"]
    assert len(figures) == 1  # type: ignore[arg-type]
    figure = figures.iloc[0]  # type: ignore[union-attr]
    assert figure["caption"].startswith("Figure 1")
    assert Path(figure["crop_path"]).is_file()
    assert figure["chart_json"] is None  # chart data needs the hf DePlot backend


def test_every_sample_is_read_without_failures(frames: dict[str, object]) -> None:
    docs = frames["documents"]
    assert set(docs["status"]) == {"ok"} and len(docs) == 4  # type: ignore[index,arg-type]
    assert len(frames["failures"]) == 0  # type: ignore[arg-type]

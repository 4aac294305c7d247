"""The whole job with the embedded default on real PDFs from the shared corpus."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest
from dagster import DagsterInstance

from pdf_assets.storage.db import make_engine
from pdf_assets.storage.queries import read_frame
from tests.dagster.pipeline_helpers import make_resource, run_job

pytestmark = pytest.mark.corpus

FILES = ("ocr_test.pdf", "twotables_2.pdf", "redp5110_sampled.pdf")


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


@pytest.fixture(scope="module")
def frames(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    tmp = tmp_path_factory.mktemp("corpus-run")
    inbox = tmp / "inbox"
    (inbox / "corpus").mkdir(parents=True)
    for name in FILES:
        shutil.copy(corpus / "pdfs" / name, inbox / "corpus" / name)
    resource = make_resource(tmp, inbox, backend="embedded")
    with DagsterInstance.ephemeral() as instance:
        assert run_job(resource, instance, ["corpus"]).success
    engine = make_engine(resource.database_url())
    tables = ("documents", "pages", "regions", "texts", "tables", "figures")
    out = {name: read_frame(engine, name) for name in tables}
    engine.dispose()
    return out


def _doc_id(frames: dict[str, object], name: str) -> int:
    docs = frames["documents"]
    return int(docs[docs["path"].str.endswith(name)]["id"].iloc[0])  # type: ignore[index]


def _regions_of(frames: dict[str, object], name: str):  # returns a DataFrame
    pages = frames["pages"]
    page_ids = pages[pages["document_id"] == _doc_id(frames, name)]["id"]  # type: ignore[index]
    regions = frames["regions"]
    return regions[regions["page_id"].isin(page_ids)]  # type: ignore[index]


def test_ocr_of_a_scanned_page_contains_the_ground_truth_sentence(frames: dict[str, object]) -> None:
    regions = _regions_of(frames, "ocr_test.pdf")
    texts = frames["texts"]
    ocr = texts[texts["region_id"].isin(regions["id"])]  # type: ignore[index]
    assert set(ocr["source"]) == {"ocr"}
    joined = _norm(" ".join(ocr["text"]))
    assert "Docling bundles PDF document conversion to JSON and Markdown in an easy self contained package" in joined


def test_two_tables_match_the_csv_ground_truth(frames: dict[str, object], corpus: Path) -> None:
    regions = _regions_of(frames, "twotables_2.pdf")
    tables = frames["tables"]
    found = tables[tables["region_id"].isin(regions["id"])].sort_values("region_id")  # type: ignore[index]
    assert len(found) == 2
    for i, (_, row) in enumerate(found.iterrows(), start=1):
        truth = list(csv.reader((corpus / "groundtruth" / f"twotables_2.table{i}.csv").open()))
        data_truth = [r for r in truth if r[0] and r[0] != "State"]
        grid: dict[tuple[int, int], str] = {(c["row"], c["col"]): c["text"] for c in json.loads(row["cells_json"])}
        rows = [[_norm(grid.get((r, c), "")) for c in range(row["n_cols"])] for r in range(row["n_rows"])]
        by_state = {r[0]: r for r in rows if r and r[0]}
        for expected in data_truth:
            assert by_state.get(_norm(expected[0])) == [_norm(v) for v in expected], expected[0]


def test_a_long_report_yields_all_pages_with_text_tables_and_figures(frames: dict[str, object]) -> None:
    docs = frames["documents"]
    report = docs[docs["path"].str.endswith("redp5110_sampled.pdf")]  # type: ignore[index]
    assert int(report["pages"].iloc[0]) == 18
    kinds = set(_regions_of(frames, "redp5110_sampled.pdf")["kind"])
    assert kinds == {"text", "table", "figure"}
